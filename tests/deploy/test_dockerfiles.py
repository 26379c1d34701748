"""The services' one Dockerfile, read statically (no Docker engine here): multi-stage, pinned
base, non-root, health check, the service chosen by a build argument; plus hadolint's rules."""

import json
import re
import subprocess
import tomllib
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("identity", "reset", "notifier")
BASE_IMAGE = "python:3.11-slim-bookworm"
DOCKERFILE = REPO / "Dockerfile"


def instructions(dockerfile: Path) -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) in order; continuation lines joined, comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in dockerfile.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    assert not pending, "dangling line continuation"
    return [(w.upper(), rest.strip()) for w, _, rest in (s.partition(" ") for s in logical)]


def stages(dockerfile: Path) -> dict[str, list[tuple[str, str]]]:
    """Instructions per named stage; ARGs before the first FROM under the key "global"."""
    out: dict[str, list[tuple[str, str]]] = {"global": []}
    current = "global"
    for word, args in instructions(dockerfile):
        if word == "FROM":
            match = re.fullmatch(r"(\S+)\s+AS\s+(\S+)", args, flags=re.IGNORECASE)
            assert match, f"every stage is named: FROM {args}"
            current = match.group(2)
            out[current] = [(word, match.group(1))]
        else:
            out[current].append((word, args))
    return out


def global_args(dockerfile: Path) -> dict[str, str]:
    pairs = (args.partition("=") for word, args in stages(dockerfile)["global"] if word == "ARG")
    return {name: default for name, _, default in pairs}


def resolve(image: str, args: dict[str, str]) -> str:
    return re.sub(r"\$\{(\w+)\}|\$(\w+)", lambda m: args[m.group(1) or m.group(2)], image)


def of(stage: list[tuple[str, str]], word: str) -> list[str]:
    return [args for w, args in stage if w == word]


def test_multi_stage_from_the_pinned_slim_base() -> None:
    found = stages(DOCKERFILE)
    assert list(found) == ["global", "build", "runtime"]
    args = global_args(DOCKERFILE)
    for name in ("build", "runtime"):
        image = resolve(found[name][0][1], args)
        repository, _, tag = image.partition("@")[0].partition(":")
        assert f"{repository}:{tag}" == BASE_IMAGE, image
        assert tag and tag != "latest"


def test_build_stage_syncs_only_the_chosen_service_from_the_lock() -> None:
    build = stages(DOCKERFILE)["build"]
    runs = of(build, "RUN")
    assert re.fullmatch(r"UV_VERSION=\d+\.\d+\.\d+", of(build, "ARG")[0]), "uv is pinned"
    assert "SERVICE" in of(build, "ARG"), "the service is a build argument without a default"
    assert 'pip install "uv==${UV_VERSION}"' in runs
    final_sync, link = (step.split() for step in runs[-1].split(" && "))
    for flag in ("--frozen", "--no-dev", "--no-editable"):
        assert flag in final_sync
    assert final_sync[final_sync.index("--package") + 1] == '"pwreset-${SERVICE}"'
    assert "COPY services/${SERVICE}/ services/${SERVICE}/" in [
        f"COPY {c}" for c in of(build, "COPY")
    ]
    assert link == ["ln", "-s", '"${SERVICE}-service"', "/opt/venv/bin/service"]


def test_a_build_without_a_known_service_stops_before_anything_is_installed() -> None:
    build = stages(DOCKERFILE)["build"]
    guard = of(build, "RUN")[0]
    for service in SERVICES:
        assert service in guard
    script = guard.replace("${SERVICE}", "$1")
    for name, expected in [*((s, 0) for s in SERVICES), ("", 1), ("billing", 1), ("reset;x", 1)]:
        result = subprocess.run(["sh", "-c", script, "sh", name], capture_output=True, timeout=10)
        assert result.returncode == expected, name


def test_build_stage_copies_every_workspace_members_pyproject() -> None:
    # uv refuses a workspace whose member is missing, even one it does not install.
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    members = root["tool"]["uv"]["workspace"]["members"]
    copies = of(stages(DOCKERFILE)["build"], "COPY")
    for member in members:
        assert f"{member}/pyproject.toml {member}/" in copies, member
    assert "pyproject.toml uv.lock ./" in copies


def test_runtime_stage_is_non_root_with_health_check_and_cli() -> None:
    runtime = stages(DOCKERFILE)["runtime"]
    users = of(runtime, "USER")
    assert users, "the runtime stage sets a USER"
    uid, _, gid = users[-1].partition(":")
    assert uid.isdigit() and int(uid) >= 10000 and gid == uid, "fixed numeric non-root UID"
    assert [w for w, _ in runtime].index("USER") < [w for w, _ in runtime].index("ENTRYPOINT")

    (check,) = of(runtime, "HEALTHCHECK")
    assert check.split("CMD", 1)[0].strip(), "interval/timeout options are set"
    command = json.loads(check.split("CMD", 1)[1])
    assert command[0] == "python" and "http://127.0.0.1:8000/healthz/live" in command[-1]

    # The build links /opt/venv/bin/service to the chosen service's command.
    assert [json.loads(e) for e in of(runtime, "ENTRYPOINT")] == [["service"]]
    assert [json.loads(c) for c in of(runtime, "CMD")] == [
        ["serve", "--host", "0.0.0.0", "--port", "8000"]  # noqa: S104 - expected args
    ]
    assert of(runtime, "EXPOSE") == ["8000"]


def test_runtime_stage_carries_no_build_tools() -> None:
    runtime = stages(DOCKERFILE)["runtime"]
    assert of(runtime, "COPY") == ["--from=build /opt/venv /opt/venv"]
    for command in of(runtime, "RUN"):
        assert not re.search(r"\b(pip|uv|apt-get|apk)\b", command), command
    assert not any(w == "ADD" for w, _ in instructions(DOCKERFILE))


def test_no_image_is_unpinned_or_latest() -> None:
    assert ":latest" not in DOCKERFILE.read_text()
    assert global_args(DOCKERFILE)["PYTHON_IMAGE"] == BASE_IMAGE


def test_one_recipe_for_every_service() -> None:
    # A fix made once reaches all three images.
    assert not list((REPO / "services").glob("*/Dockerfile"))


def test_hadolint_finds_nothing(hadolint: str) -> None:
    result = subprocess.run(
        [hadolint, "--no-color", "--failure-threshold", "style", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerignore_keeps_developer_state_out() -> None:
    patterns = (REPO / ".dockerignore").read_text().splitlines()
    assert "**" in patterns, "everything is excluded first, then let back in"
    assert "**/__pycache__" in patterns
    assert not any(p.startswith("!") and ("tests" in p or ".venv" in p) for p in patterns)
