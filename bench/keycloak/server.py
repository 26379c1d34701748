"""One Keycloak server process on loopback, and the admin REST calls the bench needs.

`kc.sh` starts the JVM as its child and waits for it (forwarding SIGTERM), so the process we
start is the script: its CPU is counted with its children's (bench.procstat.tree_cpu_seconds) and
its memory is the JVM's.
"""

from __future__ import annotations

import json
import os
import subprocess
import time
from pathlib import Path
from typing import Any

import httpx
from devinfra.errors import InfraError
from devinfra.processes import free_port, log_tail, stop_process

from bench.keycloak import config
from bench.keycloak.dist import Prepared
from bench.procstat import child_pids, rss_mib, tree_cpu_seconds

START_TIMEOUT_S = 600.0  # the first start creates the schema: minutes on a busy 2-core machine
ADMIN = "bench-admin"


class KeycloakServer:
    def __init__(
        self, prepared: Prepared, run_dir: Path, dsn: str, extra: list[str], admin_password: str
    ) -> None:
        self._prepared = prepared
        self._dsn = dsn
        self._extra = extra
        self.port = free_port()
        self.management_port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.log = run_dir / "keycloak.log"
        # Keycloak creates its bootstrap admin on the first start only: a later start on the
        # same database must be given the same password.
        self._password = admin_password
        self._process: subprocess.Popen[bytes] | None = None

    def start(self) -> float:
        """Start and wait until ready; the seconds that took."""
        options = config.start_options(
            http_port=self.port,
            management_port=self.management_port,
            dsn=self._dsn,
            extra=self._extra,
        )
        env = {
            **os.environ,
            "JAVA_HOME": str(self._prepared.java_home),
            # The temporary admin of the master realm, created on the first start only.
            "KC_BOOTSTRAP_ADMIN_USERNAME": ADMIN,
            "KC_BOOTSTRAP_ADMIN_PASSWORD": self._password,
        }
        started = time.monotonic()
        with self.log.open("ab") as out:
            self._process = subprocess.Popen(
                [str(self._prepared.home / "bin" / "kc.sh"), *options],
                stdout=out,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=env,
                start_new_session=True,
            )
        deadline = started + START_TIMEOUT_S
        health = f"http://127.0.0.1:{self.management_port}/health/ready"
        while True:
            if self._process.poll() is not None:
                raise InfraError(
                    f"Keycloak exited with {self._process.returncode} before it was ready\n"
                    + log_tail(self.log)
                )
            try:
                if httpx.get(health, timeout=2).status_code == 200:
                    return time.monotonic() - started
            except httpx.HTTPError:
                pass
            if time.monotonic() > deadline:
                raise InfraError(
                    f"Keycloak not ready after {START_TIMEOUT_S:.0f}s\n{log_tail(self.log)}"
                )
            time.sleep(0.5)

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process, timeout=60)
            self._process = None

    @property
    def pid(self) -> int:
        assert self._process is not None
        return self._process.pid

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.pid)

    def rss_mib(self) -> float:
        """The JVM's resident memory (kc.sh's shell adds ~3 MiB and is left out)."""
        return sum(rss_mib(pid) for pid in child_pids(self.pid))

    async def _admin_token(self, http: httpx.AsyncClient) -> str:
        # Asked for each call: master-realm admin tokens live 60 s, a realm import can take longer.
        answer = await http.post(
            f"{self.url}/realms/master/protocol/openid-connect/token",
            data={
                "grant_type": "password",
                "client_id": "admin-cli",
                "username": ADMIN,
                "password": self._password,
            },
        )
        answer.raise_for_status()
        return str(answer.json()["access_token"])

    async def admin(self, method: str, path: str, body: Any = None) -> Any:
        async with httpx.AsyncClient(timeout=600) as http:
            token = await self._admin_token(http)
            answer = await http.request(
                method,
                f"{self.url}/admin{path}",
                json=body,
                headers={"Authorization": f"Bearer {token}"},
            )
        if answer.status_code >= 400:
            raise InfraError(f"{method} /admin{path}: {answer.status_code} {answer.text[:500]}")
        return answer.json() if answer.content else None

    async def create_realm(self, realm: dict[str, Any]) -> None:
        await self.admin("POST", "/realms", realm)

    async def stored_argon2(self, realm: str, username: str) -> config.Argon2 | None:
        """How Keycloak hashed `username`'s password, read back from its credential."""
        (found,) = await self.admin("GET", f"/realms/{realm}/users?username={username}&exact=true")
        credentials = await self.admin("GET", f"/realms/{realm}/users/{found['id']}/credentials")
        (password,) = [c for c in credentials if c["type"] == "password"]
        return config.stored_argon2(json.loads(password["credentialData"]))
