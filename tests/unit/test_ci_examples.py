"""The CI examples in examples/ci stay runnable: valid YAML, every `costbot …` command they run uses only
options the command has, and the example usage file is one `costbot estimate` reads."""

from __future__ import annotations

import re
import shlex
from pathlib import Path
from typing import Any

import pytest
import typer.main
import yaml

from bot.adapters.terraform import read_usage
from bot.cli import app

EXAMPLES = Path(__file__).resolve().parents[2] / "examples" / "ci"
README = (Path(__file__).resolve().parents[2] / "README.md").read_text()


def _commands(text: str) -> list[list[str]]:
    """Every `costbot …` command line in a workflow, continuation lines joined, shell variables kept."""
    joined = re.sub(r"\\\n\s*", " ", text)
    out = []
    for line in joined.splitlines():
        m = re.match(r"^\s*(?:-\s*|run:\s*)?costbot (\w[\w-]*.*?)(?:>|\|\||$)", line)
        if m:
            out.append(shlex.split(m.group(1).replace("$", "")))
    return out


@pytest.mark.parametrize("name", ["github-actions-cost-check.yml", "gitlab-ci-cost-check.yml"])
def test_workflow_is_yaml_and_runs_real_costbot_options(name: str) -> None:
    text = (EXAMPLES / name).read_text()
    assert isinstance(yaml.safe_load(text), dict)
    root: Any = typer.main.get_command(app)
    commands = _commands(text)
    assert ["sync"] in commands and any(c[0] == "estimate" for c in commands)
    for words in commands:
        command = root.commands[words[0]]
        known = {opt for p in command.params for opt in getattr(p, "opts", [])}
        used = {w for w in words[1:] if w.startswith("--")}
        assert used <= known, (name, used - known)
    assert f"examples/ci/{name}" in README


def test_example_usage_file_is_read() -> None:
    usage = read_usage(EXAMPLES / "costbot-estimate.yml")
    assert usage.team == "team-ml" and [j.name for j in usage.training_jobs] == ["bert-finetune", "nightly-eval"]
