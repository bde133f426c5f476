"""The dependency rule of docs/architecture.md, checked from the code on every CI run: no import cycles
(TYPE_CHECKING imports count), domain imports only domain, render no services/adapters/ports/config, services
no adapters/app/handlers, entry points (handlers, jobs, the CLI, the word table) no adapters and not the
composition root, the playground no adapters, services or composition root, and no import-time work beyond
definitions in domain and render."""

from __future__ import annotations

import ast
from collections import defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
LAYERS = (("bot.domain", "domain"), ("bot.render", "render"), ("bot.adapters", "adapters"),
          ("bot.services", "services"), ("handlers", "entry"), ("bot.jobs", "entry"), ("bot.cli", "entry"),
          ("bot.words", "entry"), ("bot.ports", "ports"), ("bot.config", "config"), ("bot.app", "app"),
          ("bot.playground", "playground"))
FORBIDDEN = {
    "domain": {"render", "adapters", "services", "entry", "ports", "config", "app", "other"},
    "render": {"adapters", "services", "entry", "ports", "config", "app"},
    "services": {"adapters", "entry", "app"},
    "entry": {"adapters", "app"},
    "ports": {"adapters", "services", "entry", "app"},
    "playground": {"adapters", "services", "app"},  # it gets the application as a factory (docs/architecture.md)
}


def _modules() -> dict[str, Path]:
    out = {}
    for top in ("bot", "handlers"):
        for path in (ROOT / top).rglob("*.py"):
            if "migrations" in path.parts:
                continue
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            out[".".join(parts)] = path
    return out


def _layer(module: str) -> str:
    return next((layer for prefix, layer in LAYERS if module == prefix or module.startswith(prefix + ".")), "other")


def _imports() -> dict[str, set[str]]:
    modules = _modules()
    graph: dict[str, set[str]] = defaultdict(set)
    for name, path in modules.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    up = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                    base = ".".join(up + ([base] if base else []))
                targets = [base] + [f"{base}.{a.name}" for a in node.names]
            for target in targets:
                while target and target not in modules:
                    target = target.rpartition(".")[0]
                if target and target != name and not name.startswith(target + "."):
                    graph[name].add(target)
    return graph


def test_the_dependency_rule_holds() -> None:
    broken = sorted(f"{a} imports {b}" for a, targets in _imports().items() for b in targets
                    if _layer(b) in FORBIDDEN.get(_layer(a), set()))
    assert broken == []


def test_no_import_cycles() -> None:
    graph = _imports()
    cycles: list[list[str]] = []
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph.get(node, ())):
            if state.get(nxt) == 1:
                cycles.append([*stack[stack.index(nxt):], nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for module in sorted(_modules()):
        if module not in state:
            visit(module)
    assert cycles == []
