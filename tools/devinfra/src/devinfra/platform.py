"""Runs the platform's three services as real processes (uvicorn) against given infrastructure.

Used by the e2e tests and by `make run`: migrations first (the services' own `migrate` command),
then each service, each waited for on its readiness endpoint.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

from devinfra.processes import free_port, log_tail, stop_process, wait_until
from devinfra.topics import TOPIC_CONFIGS

SERVICES = ("identity", "reset", "notifier")
DATABASES = {name: name for name in SERVICES}
# Tests send hundreds of requests from 127.0.0.1: lift the per-IP limit (tests of the limit
# start their own reset instance), and trust loopback as a proxy so a test can act as many
# clients through X-Forwarded-For. `make run` keeps the production defaults.
TEST_DEFAULTS: dict[str, dict[str, str]] = {
    "reset": {"RATE_LIMIT_IP_MAX": "1000000", "TRUSTED_PROXIES": "127.0.0.1/32"},
    # Per-account limits stay as in production; tests of the per-IP limit use X-Forwarded-For.
    "identity": {
        "LOGIN_FREE_FAILURES_PER_IP": "1000000",
        "REGISTRATION_FREE_PER_IP": "1000000",
        "TRUSTED_PROXIES": "127.0.0.1/32",
    },
}
TOPICS = tuple(TOPIC_CONFIGS)  # created with the documented retention (devinfra.topics)


@dataclass(frozen=True)
class Endpoints:
    """What the services need to reach; filled from an Infrastructure or from `make run`."""

    database_url: dict[str, str]
    kafka_bootstrap: str
    smtp_host: str
    smtp_port: int
    # Per service: its KAFKA_* variables (its own SASL user, the CA): Infrastructure.kafka_env.
    kafka_env: dict[str, dict[str, str]] = field(default_factory=dict)


@dataclass
class RunningService:
    name: str
    port: int
    process: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@dataclass
class Platform:
    endpoints: Endpoints
    run_dir: Path
    ports: dict[str, int] = field(default_factory=dict)
    extra_env: dict[str, dict[str, str]] = field(default_factory=dict)
    test_defaults: bool = True
    running: dict[str, RunningService] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.run_dir = Path(self.run_dir)
        self.log_dir = self.run_dir / "logs"
        self.log_dir.mkdir(parents=True, exist_ok=True)
        for name in SERVICES:
            self.ports.setdefault(name, free_port())
        # identity's and reset's internal APIs listen on ports of their own
        # (servicekit.web.internal_port).
        self.ports.setdefault("identity-internal", free_port())
        self.ports.setdefault("reset-internal", free_port())

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.ports[name]}"

    def metrics_url(self, key: str) -> str:
        """Where a service (or instance) serves /metrics: its METRICS_PORT, never its public
        port."""
        return f"http://127.0.0.1:{self.ports[f'{key}-metrics']}/metrics"

    def env_for(self, name: str) -> dict[str, str]:
        e = self.endpoints
        common = {
            "ENVIRONMENT": "development",
            "DATABASE_URL": e.database_url[name],
            "PORT": str(self.ports[name]),
            "LOG_LEVEL": "INFO",
        }
        specific = {
            "identity": {
                "INTERNAL_PORT": str(self.ports["identity-internal"]),
                "RESET_PUBLIC_URL": self.url("reset"),
                "RESET_URL": self.url("reset-internal"),
                "PUBLIC_BASE_URL": self.url("identity"),
                "KAFKA_BOOTSTRAP_SERVERS": e.kafka_bootstrap,
            },
            "reset": {
                "INTERNAL_PORT": str(self.ports["reset-internal"]),
                "KAFKA_BOOTSTRAP_SERVERS": e.kafka_bootstrap,
                "IDENTITY_URL": self.url("identity-internal"),
                "PUBLIC_BASE_URL": self.url("reset"),
                "IDENTITY_PUBLIC_URL": self.url("identity"),
            },
            "notifier": {
                "KAFKA_BOOTSTRAP_SERVERS": e.kafka_bootstrap,
                "SMTP_HOST": e.smtp_host,
                "SMTP_PORT": str(e.smtp_port),
            },
        }[name]
        defaults = TEST_DEFAULTS.get(name, {}) if self.test_defaults else {}
        return {
            **os.environ,
            **defaults,
            **common,
            **specific,
            **e.kafka_env.get(name, {}),
            **self.extra_env.get(name, {}),
        }

    def migrate(self) -> None:
        for name in SERVICES:
            log = self.log_dir / f"{name}-migrate.log"
            with log.open("ab") as out:
                result = subprocess.run(
                    [sys.executable, "-m", f"{name}_service", "migrate"],
                    env=self.env_for(name),
                    stdout=out,
                    stderr=subprocess.STDOUT,
                    timeout=120,
                    check=False,
                )
            if result.returncode != 0:
                raise RuntimeError(f"{name} migrations failed\n{log_tail(log)}")

    def seed_accounts(self, accounts: list[tuple[str, str]]) -> dict[str, str]:
        """Accounts straight into identity's database (its `seed-accounts` command), without
        the email round trip registration takes: email -> account id. For the demo account,
        benchmarks and fault tests; the e2e tests register through the emailed link."""
        lines = "".join(json.dumps({"email": e, "password": p}) + "\n" for e, p in accounts)
        result = subprocess.run(
            [sys.executable, "-m", "identity_service", "seed-accounts"],
            input=lines,
            env=self.env_for("identity"),
            capture_output=True,
            text=True,
            timeout=600,
            check=False,
        )
        if result.returncode != 0:
            raise RuntimeError(f"seed-accounts failed\n{result.stderr[-2000:]}")
        created = [json.loads(line) for line in result.stdout.splitlines() if line.startswith("{")]
        return {row["email"]: row["id"] for row in created}

    def start(self, *names: str, timeout: float = 60.0) -> None:
        for name in names or SERVICES:
            self.start_service(name, timeout=timeout)

    def start_service(self, name: str, timeout: float = 60.0) -> RunningService:
        return self._spawn(name, name, self.ports[name], self.env_for(name), timeout)

    def start_instance(
        self,
        name: str,
        instance: str,
        *,
        env: dict[str, str] | None = None,
        timeout: float = 60.0,
    ) -> RunningService:
        """One more process of service `name` (a second relay or notifier, say): same database
        and endpoints, its own port and log, extra `env` on top. Stop it by `instance`."""
        port = self.ports.setdefault(instance, free_port())
        environment = {**self.env_for(name), "PORT": str(port)}
        if "INTERNAL_PORT" in environment:  # an internal port of its own, like its public one
            internal = self.ports.setdefault(f"{instance}-internal", free_port())
            environment["INTERNAL_PORT"] = str(internal)
        environment |= env or {}
        return self._spawn(instance, name, port, environment, timeout)

    def _spawn(
        self, key: str, name: str, port: int, env: dict[str, str], timeout: float
    ) -> RunningService:
        # /metrics only on a port of its own (servicekit.runtime.metrics.MetricsPortGate).
        metrics_port = self.ports.setdefault(f"{key}-metrics", free_port())
        env = {"METRICS_PORT": str(metrics_port), **env}
        log = self.log_dir / f"{key}.log"
        out = log.open("ab")
        process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                f"{name}_service",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        out.close()
        service = RunningService(key, port, process, log)
        self.running[key] = service
        wait_until(
            lambda: _ready(f"{service.url}/healthz/ready"),
            timeout=timeout,
            what=f"{key} service",
            process=process,
            log=log,
        )
        return service

    def stop_service(self, name: str, *, sig: int | None = None) -> None:
        service = self.running.pop(name, None)
        if service is not None:
            kwargs = {} if sig is None else {"sig": sig}
            stop_process(service.process, timeout=30, **kwargs)

    def stop(self) -> None:
        for name in reversed(list(self.running)):
            self.stop_service(name)


def _ready(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=1) as response:  # noqa: S310 - loopback URL
            return response.status == 200
    except OSError:
        return False
