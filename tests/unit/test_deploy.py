"""The container and deployment files, checked offline.

Dockerfile: hadolint runs when it is installed; in any case this module checks the rules of it that matter here,
on the parsed instructions — a base pinned by digest (DL3006/DL3007), apt packages pinned, without
recommends, lists removed in the same layer (DL3008, DL3015, DL3009), no `cd` in RUN (DL3003), COPY not ADD
(DL3020), exec-form ENTRYPOINT/CMD (DL3025), a non-root USER last (DL3002), pip without a cache (DL3042) and
from the hashed lock — plus what the issue asks: a Python HEALTHCHECK (no curl in a slim image), a writable
working directory for that user, OCI labels, tini as PID 1.

compose.yaml: parsed, its shape checked, and `docker compose config` where Docker Compose is installed.
deploy/kubernetes/: every manifest validated against the Kubernetes JSON schemas bundled by
kubernetes-validate (no network), and held to what the image needs.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
K8S = ROOT / "deploy" / "kubernetes"
KUBERNETES_VERSION = "1.30.0"  # the oldest minor release still commonly run; newer ones accept these too


def instructions(path: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        pending += (" " if pending else "") + line.rstrip("\\").strip()
        if not line.endswith("\\"):
            keyword, _, args = pending.partition(" ")
            out.append((keyword.upper(), args.strip()))
            pending = ""
    assert not pending, "a continuation line runs off the end of the file"
    return out


DOCKERFILE = instructions(ROOT / "Dockerfile")


def args_of(keyword: str) -> list[str]:
    return [args for kw, args in DOCKERFILE if kw == keyword]


def version() -> str:
    return str(tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["version"])


def test_hadolint_when_installed() -> None:
    hadolint = shutil.which("hadolint")
    if hadolint is None:
        pytest.skip("hadolint is not installed: the checks below cover its rules that apply here")
    result = subprocess.run([hadolint, str(ROOT / "Dockerfile")], capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_base_image_is_pinned_by_digest_and_labelled() -> None:
    (base,) = args_of("FROM")
    assert re.fullmatch(r"python:3\.11-slim-bookworm@sha256:[0-9a-f]{64}", base)
    labels = dict(re.findall(r'(org\.opencontainers\.image\.[a-z.]+)="([^"]*)"', " ".join(args_of("LABEL"))))
    assert set(labels) >= {"org.opencontainers.image.title", "org.opencontainers.image.description",
                           "org.opencontainers.image.version", "org.opencontainers.image.licenses",
                           "org.opencontainers.image.base.name", "org.opencontainers.image.base.digest"}
    assert labels["org.opencontainers.image.version"] == version()
    assert labels["org.opencontainers.image.base.digest"] == base.split("@", 1)[1]
    assert labels["org.opencontainers.image.licenses"] == "Apache-2.0"


def test_runs_are_tidy() -> None:
    runs = args_of("RUN")
    assert not args_of("ADD")
    for run in runs:
        assert not re.search(r"(^|&&|;)\s*cd\s", run), f"use WORKDIR, not cd: {run}"
        assert "sudo" not in run and "curl" not in run and "wget" not in run
        if "apt-get install" in run:
            assert "--no-install-recommends" in run and "-y" in run
            assert "rm -rf /var/lib/apt/lists/*" in run, "apt lists removed in the same layer"
            packages = run.split("apt-get install", 1)[1].split("&&", 1)[0].split()
            assert all("=" in p for p in packages if not p.startswith("-")), "apt packages pinned"
        if "pip install" in run:
            assert "--no-cache-dir" in run or "PIP_NO_CACHE_DIR=1" in " ".join(args_of("ENV"))
    pips = [r for r in runs if "pip install" in r]
    assert pips[0] == "pip install --require-hashes -r requirements.lock"
    assert "--no-deps" in pips[1]


def test_runs_as_a_non_root_user_in_a_directory_it_owns() -> None:
    users = args_of("USER")
    assert users and users[-1] not in ("root", "0")
    last_user_at = max(i for i, (kw, _) in enumerate(DOCKERFILE) if kw == "USER")
    assert not [kw for kw, _ in DOCKERFILE[last_user_at:] if kw == "RUN"], "nothing runs as root after USER"
    workdir = args_of("WORKDIR")[-1]
    assert workdir == "/app"
    assert any(re.search(rf"chown {users[-1]}(:{users[-1]})? .*{re.escape(workdir)}\b", r) for r in args_of("RUN"))
    assert any(re.search(r"chown \S+ /data\b", r) for r in args_of("RUN"))
    assert args_of("VOLUME") == ['["/data"]']


def test_healthcheck_uses_python_on_port_and_tini_is_pid_one() -> None:
    (healthcheck,) = args_of("HEALTHCHECK")
    options, _, command = healthcheck.partition("CMD ")
    assert "--interval=" in options and "--timeout=" in options
    probe = json.loads(command)
    assert probe[:2] == ["python", "-c"]
    assert "/healthz" in probe[2] and "PORT" in probe[2]
    entrypoint = json.loads(args_of("ENTRYPOINT")[-1])
    assert entrypoint == ["tini", "--", "costbot"]
    assert json.loads(args_of("CMD")[-1]) == ["serve"]
    assert any("tini=" in r for r in args_of("RUN"))
    assert args_of("EXPOSE") == ["3000"]


def compose() -> dict[str, Any]:
    loaded = yaml.safe_load((ROOT / "compose.yaml").read_text())
    assert isinstance(loaded, dict)
    return loaded


def test_compose_has_the_production_shape() -> None:
    spec = compose()
    bot, db = spec["services"]["costbot"], spec["services"]["postgres"]
    assert bot["build"] == "." and bot["image"] == f"costbot:{version()}"
    assert bot["env_file"] == [".env"]
    url = bot["environment"]["DATABASE_URL"]
    assert url.startswith("postgresql+psycopg://costbot:${POSTGRES_PASSWORD") and url.endswith("@postgres:5432/costbot")
    assert "costbot-data:/data" in bot["volumes"]
    assert set(spec["volumes"]) == {"costbot-data", "postgres-data"}
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
    assert "healthcheck" in db and db["environment"]["POSTGRES_DB"] == "costbot"
    text = (ROOT / "compose.yaml").read_text()
    assert "xoxb-" not in text and "xapp-" not in text, "secrets come from .env, not the compose file"
    example = (ROOT / "compose.env.example").read_text()
    for variable in set(re.findall(r"\$\{([A-Z_]+)", text)):
        assert re.search(rf"^{variable}=", example, re.M), f"{variable} is not in compose.env.example"


def test_docker_compose_config_where_docker_compose_exists(tmp_path: Path) -> None:
    docker = shutil.which("docker")
    if docker is None or subprocess.run([docker, "compose", "version"], capture_output=True).returncode != 0:
        pytest.skip("Docker Compose is not installed here")
    project = tmp_path / "project"
    shutil.copytree(ROOT, project, ignore=shutil.ignore_patterns(".venv", ".git", "__pycache__", "*.duckdb"))
    shutil.copy(project / "compose.env.example", project / ".env")
    (project / "costbot.yml").write_text("{}\n")
    result = subprocess.run([docker, "compose", "config", "--quiet"], cwd=project, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


def manifests() -> list[tuple[str, dict[str, Any]]]:
    docs = []
    for path in sorted(K8S.glob("*.yaml")):
        for doc in yaml.safe_load_all(path.read_text()):
            if doc:
                docs.append((path.name, doc))
    return docs


@pytest.mark.parametrize(("name", "doc"), [m for m in manifests() if m[0] != "kustomization.yaml"],
                         ids=lambda v: v if isinstance(v, str) else v.get("kind", "?"))
def test_kubernetes_manifests_match_the_schemas(name: str, doc: dict[str, Any]) -> None:
    kubernetes_validate = pytest.importorskip("kubernetes_validate")
    kubernetes_validate.validate(doc, KUBERNETES_VERSION, strict=True)  # raises ValidationError with the path


def test_kubernetes_manifests_fit_the_image() -> None:
    docs = manifests()
    kinds = {doc["kind"]: doc for _, doc in docs}
    assert set(kinds) == {"Deployment", "Service", "Secret", "ConfigMap", "PersistentVolumeClaim", "Kustomization"}
    listed = set(kinds["Kustomization"]["resources"])
    assert listed == {p.name for p in K8S.glob("*.yaml")} - {"kustomization.yaml"}
    deployment = kinds["Deployment"]["spec"]
    assert deployment["replicas"] == 1 and deployment["strategy"]["type"] == "Recreate"  # one holder of the store
    pod = deployment["template"]["spec"]
    (container,) = pod["containers"]
    assert container["image"] == f"costbot:{version()}"
    assert pod["securityContext"]["runAsUser"] == 10001 and pod["securityContext"]["runAsNonRoot"] is True
    assert "useradd --create-home --uid 10001 costbot" in " ".join(args_of("RUN"))
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["path"] == "/healthz"
    assert {"cpu", "memory"} <= set(container["resources"]["requests"])
    mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
    volumes = {v["name"]: v for v in pod["volumes"]}
    assert volumes[mounts["/data"]]["persistentVolumeClaim"]["claimName"] == kinds["PersistentVolumeClaim"][
        "metadata"]["name"]
    assert "/app" in mounts and "/tmp" in mounts  # writable under a read-only root filesystem
    assert container["envFrom"][0]["secretRef"]["name"] == kinds["Secret"]["metadata"]["name"]
    assert {"SLACK_BOT_TOKEN", "DATABASE_URL", "COSTBOT_ADMIN_TOKEN"} <= set(kinds["Secret"]["stringData"])
    assert kinds["Service"]["spec"]["selector"] == deployment["selector"]["matchLabels"]
    config_path = next(e["value"] for e in container["env"] if e["name"] == "COSTBOT_CONFIG")
    assert Path(config_path).name in kinds["ConfigMap"]["data"]
