"""Provider selection: environment endpoints win; the Docker probe never hangs."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from devinfra.docker_probe import detect_docker
from devinfra.mailbox import MaildirMailbox
from devinfra.providers import Infrastructure, start_infrastructure


def test_detect_docker_is_quick() -> None:
    started = time.monotonic()
    answer = detect_docker(timeout=2.0)
    assert time.monotonic() - started < 3.0
    if not Path("/var/run/docker.sock").exists():
        assert answer is False


def test_detect_docker_unreachable_tcp_host_is_false(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("DOCKER_HOST", "tcp://127.0.0.1:9")  # discard port: refused
    started = time.monotonic()
    assert detect_docker(timeout=1.0) is False
    assert time.monotonic() - started < 3.0


@pytest.mark.integration
def test_environment_endpoints_win(
    infra: Infrastructure, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in infra.env().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("PWRESET_INFRA_PROVIDER", "auto")
    run_dir = tmp_path / "env-run"
    with start_infrastructure(run_dir) as from_env:
        assert from_env.providers == {"postgres": "env", "kafka": "env", "smtp": "env"}
        assert from_env.provider == "env"
        assert (from_env.postgres, from_env.kafka, from_env.smtp) == (None, None, None)
        assert from_env.kafka_bootstrap == infra.kafka_bootstrap
        # The secured broker's CA and users come along, so clients can still log in.
        assert from_env.kafka_options("reset").keys() == infra.kafka_options("reset").keys()
        assert from_env.kafka_env("notifier") == infra.kafka_env("notifier")
        assert from_env.smtp_port == infra.smtp_port
        assert from_env.dsn_for("devinfra_env_db").endswith("/devinfra_env_db")
        if isinstance(infra.mailbox, MaildirMailbox):
            assert isinstance(from_env.mailbox, MaildirMailbox)
            assert from_env.mailbox.directory == infra.mailbox.directory
    # Nothing was started: no process state was created in the new run dir.
    assert sorted(p.name for p in run_dir.iterdir()) == []
