"""The Dockerfile's build stage, replayed without Docker once per service: the build context
that .dockerignore lets through, the COPY and `uv sync` steps in their order, then a look at
the virtual environment the runtime stage would receive. This is what would break first in a
real build (a file the context leaves out, a member uv cannot find, a package missing at run
time)."""

import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("identity", "reset", "notifier")
pytestmark = pytest.mark.timeout(300)


def dockerignore_regexes() -> list[tuple[bool, re.Pattern[str]]]:
    """(re-include?, pattern) in file order; Docker's syntax: `**` any depth, `*` one name."""
    rules = []
    for line in (REPO / ".dockerignore").read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        negate = line.startswith("!")
        pattern = line.lstrip("!").strip("/")
        regex = ""
        for token in re.split(r"(\*\*/?|\*|\?)", pattern):
            if token in ("**", "**/"):
                regex += ".*" if token == "**" else "(.*/)?"
            elif token == "*":
                regex += "[^/]*"
            elif token == "?":
                regex += "[^/]"
            else:
                regex += re.escape(token)
        rules.append((negate, re.compile(regex)))
    return rules


def build_context() -> list[str]:
    """Files a `docker build .` would send: the tree (git's view) minus what .dockerignore drops.

    A rule matches a path or any of its parent directories; the last matching rule wins.
    """
    listed = subprocess.run(
        ["git", "ls-files", "--cached", "--others", "--exclude-standard", "-z"],
        cwd=REPO,
        capture_output=True,
        check=True,
        timeout=60,
    ).stdout.decode()
    rules = dockerignore_regexes()
    kept = []
    for path in filter(None, listed.split("\0")):
        if not (REPO / path).is_file():
            continue  # deleted in the work tree, not yet in the index
        parts = path.split("/")
        prefixes = ["/".join(parts[: i + 1]) for i in range(len(parts))]
        excluded = False
        for negate, regex in rules:
            if any(regex.fullmatch(p) for p in prefixes):
                excluded = not negate
        if not excluded:
            kept.append(path)
    return kept


def build_stage(service: str) -> list[tuple[str, str]]:
    """The build stage's steps with the SERVICE build argument set to ``service``."""
    lines = (REPO / "Dockerfile").read_text().replace("${SERVICE}", service)
    joined = re.sub(r"\\\n\s*", " ", lines)
    steps, inside = [], False
    for line in joined.splitlines():
        line = line.strip()
        if line.startswith("FROM "):
            inside = line.endswith(" AS build")
            continue
        if inside and line and not line.startswith("#"):
            word, _, args = line.partition(" ")
            steps.append((word, args.strip()))
    return steps


def replay(service: str, context: list[str], workdir: Path, venv: Path) -> None:
    """COPY and `uv sync` as the build stage orders them; the pip install of uv is the one
    step not replayed (the uv running these tests stands in for it)."""
    env = dict(os.environ)
    env.pop("VIRTUAL_ENV", None)
    for word, args in build_stage(service):
        if word == "ENV":
            for name, value in re.findall(r"(\w+)=(\S+)", args):
                env[name] = value
            env["UV_PROJECT_ENVIRONMENT"] = str(venv)
        elif word == "WORKDIR":
            workdir.mkdir(parents=True, exist_ok=True)
        elif word == "COPY":
            *sources, dest = args.split()
            for source in sources:
                source = source.rstrip("/")
                matches = [p for p in context if p == source or p.startswith(source + "/")]
                assert matches, f"COPY {source}: not in the build context (.dockerignore?)"
                for path in matches:
                    relative = Path(path).relative_to(source) if path != source else Path(path).name
                    target = workdir / dest / relative
                    target.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(REPO / path, target)
        elif word == "RUN" and args.startswith("uv sync"):
            for step in args.split(" && "):
                command = [a.strip('"') for a in step.split()]
                if command[0] == "ln":
                    command[-1] = str(venv / Path(command[-1]).relative_to("/opt/venv"))
                result = subprocess.run(
                    command, cwd=workdir, env=env, capture_output=True, text=True, timeout=240
                )
                assert result.returncode == 0, f"{step}\n{result.stderr}"


@pytest.fixture(scope="module")
def context() -> list[str]:
    return build_context()


def test_context_leaves_out_tests_caches_and_tooling(context: list[str]) -> None:
    assert "uv.lock" in context and "pyproject.toml" in context
    assert "libs/servicekit/pyproject.toml" in context
    assert not [p for p in context if "/tests/" in p or p.startswith(("tests/", ".git", "deploy/"))]
    assert not [
        p for p in context if p.startswith("tools/") and p != "tools/devinfra/pyproject.toml"
    ]
    assert not [p for p in context if "__pycache__" in p or p.endswith(".pyc")]


@pytest.mark.parametrize("service", SERVICES)
def test_build_stage_yields_a_venv_with_the_service_and_nothing_else(
    service: str, context: list[str], tmp_path: Path
) -> None:
    venv = tmp_path / "opt-venv"
    replay(service, context, tmp_path / "src", venv)
    python = venv / "bin" / "python"
    module = f"{service}_service"

    def run(*command: object) -> str:
        result = subprocess.run(command, capture_output=True, text=True, timeout=60, check=False)
        assert result.returncode == 0, f"{command[:2]}: {result.stderr[-2000:]}"
        return result.stdout

    site = next((venv / "lib").glob("python3*/site-packages"))
    # The image's ENTRYPOINT ["service"]: linked to this service's own command line.
    help_text = run(venv / "bin" / "service", "--help")
    assert f"{service}-service" in help_text
    assert "serve" in help_text and "migrate" in help_text

    # The app imports with what the image has, and its migrations travelled as package data.
    probe = (
        "import importlib, pathlib;"
        f"importlib.import_module('{module}.api.main').create_app();"
        f"root = pathlib.Path(importlib.import_module('{module}').__file__).parent;"
        "print(len(list((root / 'migrations' / 'versions').glob('*.py'))))"
    )
    assert int(run(python, "-c", probe)) >= 1

    others = [f"{s}_service" for s in SERVICES if s != service] + ["devinfra", "pytest"]
    found = run(
        python,
        "-c",
        f"import importlib.util as u; print([m for m in {others!r} if u.find_spec(m)])",
    )
    assert found.strip() == "[]", f"the image would carry {found}"

    # Every file of the packages (templates, data, static files, migrations) was installed.
    for source_root, package in (
        (f"services/{service}/src", module),
        ("libs/servicekit/src", "servicekit"),
        ("contracts/src", "pwreset_contracts"),
    ):
        shipped = tmp_path / "src" / source_root / package
        wanted = {p.relative_to(shipped) for p in shipped.rglob("*") if p.is_file()}
        installed = {
            p.relative_to(site / package) for p in (site / package).rglob("*") if p.is_file()
        }
        assert wanted <= installed, f"{package}: not installed {sorted(wanted - installed)[:5]}"

    # Installed, not linked back to the build directory the runtime stage never receives.
    assert not [p for p in site.glob("*.pth") if str(tmp_path) in p.read_text()]
