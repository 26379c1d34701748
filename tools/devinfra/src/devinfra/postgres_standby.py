"""A streaming-replication standby of a LocalPostgres, for failover tests.

`pg_basebackup` copies the primary (Debian's binaries, as the primary's), `standby.signal` and
`primary_conninfo` make it a hot standby that streams the primary's WAL; `promote()` turns it
into the new primary. `make_synchronous()` makes the primary wait for the standby's flush
before it acknowledges a commit (synchronous_commit=on with synchronous_standby_names), without
which a commit acknowledged just before the primary dies can be missing on the promoted
standby. The primary's initdb (-A trust) already allows replication connections on loopback.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
from pathlib import Path

from devinfra import system_user
from devinfra.blocking import run_blocking
from devinfra.errors import InfraError
from devinfra.postgres_local import LocalPostgres


class StandbyPostgres(LocalPostgres):
    def __init__(
        self, run_dir: Path, port: int, primary: LocalPostgres, *, name: str = "standby1"
    ) -> None:
        super().__init__(run_dir, port, locale=primary.locale)
        self.primary = primary
        self.name = name  # its application_name: what synchronous_standby_names names
        self._held_sender: int | None = None

    def _initdb_if_needed(self) -> None:
        if (self.data_dir / "PG_VERSION").is_file():
            return  # already a copy (a restart)
        if any(self.data_dir.iterdir()):
            shutil.rmtree(self.data_dir)
            self._prepare_dirs()
        command = [
            str(self.bin_dir / "pg_basebackup"),
            "-h",
            "127.0.0.1",
            "-p",
            str(self.primary.port),
            "-U",
            "postgres",
            "-D",
            str(self.data_dir),
            "-X",
            "stream",
            "-c",
            "fast",
            "--no-sync",
        ]
        result = subprocess.run(
            command,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            env=self._env(),
            **self._user_kwargs(),
        )
        with self.log_file.open("a") as log:
            log.write(result.stdout + result.stderr)
        if result.returncode != 0:
            raise InfraError(f"pg_basebackup failed (exit {result.returncode}): {result.stderr}")
        (self.data_dir / "standby.signal").touch()
        with (self.data_dir / "postgresql.auto.conf").open("a") as conf:
            conf.write(
                f"primary_conninfo = 'host=127.0.0.1 port={self.primary.port} user=postgres "
                f"application_name={self.name}'\n"
            )
        if self._as_user is not None:
            system_user.chown_tree(self.data_dir, *self._as_user)

    def make_synchronous(self) -> None:
        """The primary acknowledges a commit only once this standby has flushed it."""
        run_blocking(lambda: self._synchronous(self.primary.admin_dsn, self.name), 30)

    @staticmethod
    async def _synchronous(primary_dsn: str, name: str) -> None:
        import asyncpg

        conn = await asyncpg.connect(primary_dsn, timeout=10)
        try:
            await conn.execute(f"ALTER SYSTEM SET synchronous_standby_names = '\"{name}\"'")
            await conn.execute("ALTER SYSTEM SET synchronous_commit = 'on'")
            await conn.execute("SELECT pg_reload_conf()")
        finally:
            await conn.close()

    def wait_streaming(self, timeout: float = 30.0, *, want: str | None = None) -> str:
        """Wait until the primary lists this standby as streaming; returns its sync_state
        ("sync" once make_synchronous took effect, else "async"). With `want`, wait until the
        state is that one too: each walsender rereads synchronous_standby_names on its own
        after pg_reload_conf, so "async" can show for a moment after make_synchronous; past
        the timeout the last state seen is returned for the caller to assert on."""
        return run_blocking(lambda: self._streaming(timeout, want), timeout + 5)

    async def _streaming(self, seconds: float, want: str | None) -> str:
        import asyncio

        import asyncpg

        conn = await asyncpg.connect(self.primary.admin_dsn, timeout=10)
        try:
            deadline = asyncio.get_running_loop().time() + seconds
            while True:
                state = await conn.fetchval(
                    "SELECT sync_state FROM pg_stat_replication "
                    "WHERE application_name = $1 AND state = 'streaming'",
                    self.name,
                )
                late = asyncio.get_running_loop().time() > deadline
                if state is not None and (want is None or state == want or late):
                    return str(state)
                if late:
                    raise InfraError(f"standby {self.name} is not streaming after {seconds}s")
                await asyncio.sleep(0.2)
        finally:
            await conn.close()

    def hold_back_wal(self) -> None:
        """SIGSTOP the primary's WAL sender for this standby: commits go on on the primary
        (unless synchronous), none reaches the standby: replication lag on demand. (Stopping
        the standby instead is not enough: the kernel's socket buffers keep the WAL for it.)"""
        self._held_sender = run_blocking(self._sender_pid, 15)
        os.kill(self._held_sender, signal.SIGSTOP)

    def release_wal(self) -> None:
        if self._held_sender is not None:
            with contextlib.suppress(ProcessLookupError):
                os.kill(self._held_sender, signal.SIGCONT)
            self._held_sender = None

    async def _sender_pid(self) -> int:
        import asyncpg

        conn = await asyncpg.connect(self.primary.admin_dsn, timeout=10)
        try:
            pid = await conn.fetchval(
                "SELECT pid FROM pg_stat_replication WHERE application_name = $1", self.name
            )
        finally:
            await conn.close()
        if pid is None:
            raise InfraError(f"no WAL sender for standby {self.name}")
        return int(pid)

    def promote(self, timeout: int = 30) -> None:
        """End recovery: from now on this server takes writes (pg_promote waits for it)."""
        run_blocking(lambda: self._promote(timeout), timeout + 5)

    async def _promote(self, seconds: int) -> None:
        import asyncpg

        conn = await asyncpg.connect(self.admin_dsn, timeout=10)
        try:
            if not await conn.fetchval("SELECT pg_promote(true, $1)", seconds):
                raise InfraError(f"standby on port {self.port} was not promoted in {seconds}s")
        finally:
            await conn.close()
