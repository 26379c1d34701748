"""Shared by tests/e2e and tests/browser: the three services as real processes on the test
infrastructure (devinfra's `infra` fixture: local processes or testcontainers), once per test
session, so both folders run against one platform; and, for the https tests, identity and reset
once more behind a TLS-terminating nginx (`https_platform`)."""

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from devinfra.platform import SERVICES, TOPICS, Endpoints, Platform
from devinfra.processes import free_port
from devinfra.tls_proxy import Certificate, TlsProxy

HTTPS = ("identity", "reset")  # the services a browser reaches (the notifier takes no requests)


@pytest.fixture(scope="session")
def platform(infra) -> Iterator[Platform]:
    infra.create_topics(list(TOPICS))
    endpoints = Endpoints(
        database_url={name: infra.dsn_for(name) for name in SERVICES},
        kafka_bootstrap=infra.kafka_bootstrap,
        smtp_host=infra.smtp_host,
        smtp_port=infra.smtp_port,
        kafka_env={name: infra.kafka_env(name) for name in SERVICES},  # each its own user
    )
    # Under the infrastructure's run dir, not pytest's tmp_path: pytest deletes old basetemp
    # folders when another session starts, and the tests read these service logs.
    run_dir = Path(infra.run_dir) / "platform"
    running = Platform(endpoints, run_dir)
    running.migrate()
    try:
        running.start()
        yield running
    finally:
        running.stop()


@dataclass(frozen=True)
class HttpsPlatform:
    """identity and reset as a browser reaches them in production: over https through a
    TLS-terminating nginx, with https public origins; the session platform's databases, Kafka
    and notifier behind them."""

    proxy: TlsProxy

    def url(self, name: str) -> str:
        return self.proxy.url(name)

    @property
    def certificate(self) -> Certificate:
        return self.proxy.certificate


@pytest.fixture(scope="session")
def https_platform(platform: Platform) -> Iterator[HttpsPlatform]:
    upstreams = {name: platform.ports.setdefault(f"{name}-https", free_port()) for name in HTTPS}
    # start_instance gives each instance an internal port of its own ("<instance>-internal"):
    # taken here, so each service can be told the other's before both run.
    for name in HTTPS:
        platform.ports.setdefault(f"{name}-https-internal", free_port())
    proxy = TlsProxy(Path(platform.run_dir) / "https", upstreams)
    proxied = {
        "identity": {
            "PUBLIC_BASE_URL": proxy.url("identity"),
            "RESET_PUBLIC_URL": proxy.url("reset"),
            "RESET_URL": platform.url("reset-https-internal"),
        },
        "reset": {
            "PUBLIC_BASE_URL": proxy.url("reset"),
            "IDENTITY_PUBLIC_URL": proxy.url("identity"),
            # So the "Your password was changed" email links to the https identity.
            "IDENTITY_URL": platform.url("identity-https-internal"),
        },
    }
    proxy.start()
    try:
        for name in HTTPS:
            platform.start_instance(
                name,
                f"{name}-https",
                env={
                    **proxied[name],
                    # Only nginx (on loopback) is believed about the scheme, host and client.
                    "TRUSTED_PROXIES": "127.0.0.1/32,::1/128",
                },
            )
        yield HttpsPlatform(proxy)
    finally:
        for name in HTTPS:
            platform.stop_service(f"{name}-https")
        proxy.stop()
