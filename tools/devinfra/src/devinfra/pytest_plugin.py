"""pytest plugin (entry point `pytest11`): the session-scoped `infra` fixture.

Infrastructure starts only when a test asks for `infra`, so unit tests need nothing.
Run state goes to ${PWRESET_RUN_DIR:-<repo>/.run}/test-<pid>; it is deleted after a
session without failures and kept (path printed) otherwise, for its logs.
"""

from __future__ import annotations

import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from devinfra.errors import InfraError
from devinfra.paths import default_run_dir
from devinfra.processes import pid_alive
from devinfra.providers import Infrastructure, plan_providers, start_infrastructure

_state: dict[str, str] = {}


def _prune_stale_run_dirs(parent: Path) -> None:
    """Remove test-<pid> dirs of sessions that no longer run (killed or crashed)."""
    if not parent.is_dir():
        return
    for child in parent.iterdir():
        match = re.fullmatch(r"test-(\d+)", child.name)
        if match and not pid_alive(int(match.group(1))):
            shutil.rmtree(child, ignore_errors=True)


def pytest_report_header(config: pytest.Config) -> str:
    try:
        plan = plan_providers()
    except InfraError as exc:
        return f"devinfra: cannot choose providers: {exc}"
    planned = " ".join(f"{c}={p}" for c, p in plan.items())
    return f"devinfra: {planned} (started on first use of the `infra` fixture)"


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    if "line" in _state:
        terminalreporter.write_line(_state["line"])
    if "kept" in _state:
        terminalreporter.write_line(f"devinfra: run dir kept for its logs: {_state['kept']}")


@pytest.fixture(scope="session")
def infra(request: pytest.FixtureRequest) -> Iterator[Infrastructure]:
    parent = default_run_dir()
    _prune_stale_run_dirs(parent)
    run_dir = parent / f"test-{os.getpid()}"
    with start_infrastructure(run_dir) as infrastructure:
        _state["line"] = infrastructure.describe()
        yield infrastructure
    if request.session.testsfailed:
        _state["kept"] = str(run_dir)
        return
    # The PostgreSQL data may live outside run_dir (see LocalPostgres): remove it too.
    if infrastructure.postgres is not None:
        for place in (infrastructure.postgres.base_dir, infrastructure.postgres.socket_dir):
            if not place.is_relative_to(run_dir):
                shutil.rmtree(place, ignore_errors=True)
    shutil.rmtree(run_dir, ignore_errors=True)
