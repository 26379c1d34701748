"""Where things live: the repository root, the shared cache, the Kafka pom."""

from __future__ import annotations

import os
from pathlib import Path


def _is_repo_root(path: Path) -> bool:
    pyproject = path / "pyproject.toml"
    return pyproject.is_file() and "[tool.uv.workspace]" in pyproject.read_text(errors="ignore")


def repo_root() -> Path | None:
    """The workspace root: found from this file (editable install) or from the cwd."""
    for start in (Path(__file__).resolve(), Path.cwd().resolve()):
        for candidate in (start, *start.parents):
            if _is_repo_root(candidate):
                return candidate
    return None


def cache_dir() -> Path:
    """Long-lived cache (Kafka jars) shared by every clone on the machine."""
    configured = os.environ.get("PWRESET_CACHE")
    return Path(configured) if configured else Path.home() / ".cache" / "pwreset"


def default_run_dir() -> Path:
    """`${PWRESET_RUN_DIR:-<repo>/.run}`: per-run state (data dirs, logs, mail)."""
    configured = os.environ.get("PWRESET_RUN_DIR")
    if configured:
        return Path(configured)
    root = repo_root()
    return (root if root else Path.cwd()) / ".run"


def kafka_pom() -> Path:
    configured = os.environ.get("PWRESET_KAFKA_POM")
    if configured:
        return Path(configured)
    root = repo_root()
    if root is None:
        raise FileNotFoundError(
            "cannot find infra/kafka/pom.xml: not inside the repository; set PWRESET_KAFKA_POM"
        )
    return root / "infra" / "kafka" / "pom.xml"
