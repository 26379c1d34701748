"""PostgreSQL as a local process, from Debian's server binaries."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
from pathlib import Path
from typing import Any

from devinfra import postgres_admin, system_user
from devinfra.errors import InfraError
from devinfra.processes import kill_stale, log_tail, stop_process, wait_until

INSTALL_HINT = "run scripts/install-system-deps.sh (installs the Debian 'postgresql' package)"
# A unix socket path must fit in sockaddr_un (108 bytes incl. NUL).
_MAX_SOCKET_DIR_LEN = 90


def find_postgres_bin() -> Path:
    """The newest /usr/lib/postgresql/<major>/bin (Debian layout); PWRESET_PG_BIN overrides."""
    configured = os.environ.get("PWRESET_PG_BIN")
    if configured:
        return Path(configured)
    candidates = [
        p for p in Path("/usr/lib/postgresql").glob("*/bin") if (p / "postgres").is_file()
    ]
    if not candidates:
        raise InfraError(
            f"PostgreSQL server binaries not found under /usr/lib/postgresql: {INSTALL_HINT}"
        )

    def major(path: Path) -> int:
        match = re.match(r"\d+", path.parent.name)
        return int(match.group()) if match else -1

    return max(candidates, key=major)


class LocalPostgres:
    """One PostgreSQL server listening on 127.0.0.1:`port`, data kept under `run_dir`.

    `locale` is the cluster's initdb locale: "C" by default (byte order, ASCII-only case
    rules); tests of locale-dependent behaviour start one with e.g. "en_US.UTF-8", the default
    of the official postgres image (scripts/install-system-deps.sh generates it).
    """

    def __init__(self, run_dir: Path, port: int, *, locale: str = "C") -> None:
        self.run_dir = Path(run_dir).resolve()
        self.port = port
        self.locale = locale
        self.bin_dir = find_postgres_bin()
        self._process: subprocess.Popen[bytes] | None = None
        self._as_user: tuple[int, int] | None = None
        base = self.run_dir / "postgres"
        if system_user.running_as_root():
            account = system_user.ensure_service_user()
            self._as_user = (account.pw_uid, account.pw_gid)
            self.run_dir.mkdir(parents=True, exist_ok=True)
            if not system_user.traversable_by_others(self.run_dir, account.pw_uid):
                # The service user cannot enter run_dir (e.g. /root, pytest's 0700 temp
                # root): keep the data in a stable world-reachable place instead.
                base = system_user.private_place_for(self.run_dir, "postgres")
        self.base_dir = base
        self.data_dir = base / "data"
        self.log_file = self.run_dir / "postgres.log"
        socket_dir = base / "sock"
        if len(str(socket_dir)) > _MAX_SOCKET_DIR_LEN:
            socket_dir = system_user.private_place_for(self.run_dir, "pgsock")
        self.socket_dir = socket_dir

    # -- endpoints ---------------------------------------------------------------------
    def dsn(self, dbname: str = "postgres") -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{dbname}"

    @property
    def admin_dsn(self) -> str:
        return self.dsn("postgres")

    @property
    def running(self) -> bool:
        return self._process is not None and self._process.poll() is None

    # -- lifecycle ---------------------------------------------------------------------
    def start(self, timeout: float = 30.0) -> None:
        if self.running:
            return
        self._prepare_dirs()
        # A server left by an earlier, killed run would hold the data dir: end it first.
        kill_stale(self.data_dir / "postmaster.pid", str(self.data_dir), sig=signal.SIGINT)
        self._initdb_if_needed()
        command = [
            str(self.bin_dir / "postgres"),
            "-D",
            str(self.data_dir),
            "-p",
            str(self.port),
            "-k",
            str(self.socket_dir),
            "-c",
            "listen_addresses=127.0.0.1",
            "-c",
            "max_connections=200",
            "-c",
            "shared_buffers=128MB",
            "-c",
            "logging_collector=off",
            "-c",
            "log_line_prefix=%m [%p] %q%u@%d ",
        ]
        with self.log_file.open("ab") as log:
            # Own session: Ctrl-C at a terminal reaches only our CLI, which stops us in order.
            self._process = subprocess.Popen(
                command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
                env=self._env(),
                **self._user_kwargs(),
            )
        wait_until(
            self._ready,
            timeout=timeout,
            what=f"PostgreSQL on port {self.port}",
            process=self._process,
            log=self.log_file,
        )

    def stop(self, timeout: float = 30.0) -> None:
        """Fast shutdown (SIGINT): disconnect clients, checkpoint, exit."""
        if self._process is not None:
            stop_process(self._process, sig=signal.SIGINT, timeout=timeout)
            self._process = None

    def kill(self) -> None:
        """Crash the whole server (postmaster and backends) with SIGKILL, for fault tests."""
        if self._process is not None and self._process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self._process.pid, signal.SIGKILL)
            self._process.wait(10)
        self._process = None

    def restart(self, timeout: float = 30.0) -> None:
        self.stop()
        self.start(timeout)

    # -- databases ---------------------------------------------------------------------
    def create_database(self, name: str) -> str:
        """Create `name` if missing; returns its DSN."""
        postgres_admin.create_database(self.admin_dsn, name)
        return self.dsn(name)

    # -- internals ---------------------------------------------------------------------
    def _env(self) -> dict[str, str]:
        return {"PATH": os.environ.get("PATH", "/usr/bin:/bin"), "LANG": "C", "LC_ALL": "C"}

    def _user_kwargs(self) -> dict[str, Any]:
        if self._as_user is None:
            return {}
        uid, gid = self._as_user
        # Popen switches uid itself (no runuser/PAM in between): the pid we hold is the
        # postmaster, so signals reach it directly. extra_groups=[] drops root's groups.
        return {"user": uid, "group": gid, "extra_groups": [], "cwd": "/"}

    def _prepare_dirs(self) -> None:
        self.run_dir.mkdir(parents=True, exist_ok=True)
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.socket_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.mkdir(parents=True, exist_ok=True)
        self.data_dir.chmod(0o700)  # postgres refuses group/world-accessible data dirs
        if self._as_user is not None:
            uid, gid = self._as_user
            self.base_dir.chmod(0o755)
            os.chown(self.socket_dir, uid, gid)
            system_user.chown_tree(self.data_dir, uid, gid)

    def _initdb_if_needed(self) -> None:
        version_file = self.data_dir / "PG_VERSION"
        wanted_major = self.bin_dir.parent.name
        if version_file.is_file():
            if version_file.read_text().strip() == wanted_major:
                return  # reuse: a second start skips initdb entirely
            # Data of another major version: this is disposable test data, start over.
            shutil.rmtree(self.data_dir)
            self._prepare_dirs()
        elif any(self.data_dir.iterdir()):
            shutil.rmtree(self.data_dir)  # a half-finished initdb
            self._prepare_dirs()
        command = [
            str(self.bin_dir / "initdb"),
            "-D",
            str(self.data_dir),
            "-A",
            "trust",  # only reachable on loopback, see listen_addresses
            "--username=postgres",
            "--encoding=UTF8",
            f"--locale={self.locale}",
            "--no-sync",  # test data: durability of the initial catalog does not matter
        ]
        try:
            result = subprocess.run(
                command,
                capture_output=True,
                text=True,
                timeout=120,
                check=False,
                env=self._env(),
                **self._user_kwargs(),
            )
        except subprocess.TimeoutExpired as exc:
            raise InfraError(f"initdb did not finish in 120s: {exc.stdout!r}") from exc
        with self.log_file.open("a") as log:
            log.write(result.stdout + result.stderr)
        if result.returncode != 0:
            raise InfraError(f"initdb failed (exit {result.returncode})\n{log_tail(self.log_file)}")

    def _ready(self) -> bool:
        result = subprocess.run(
            [
                str(self.bin_dir / "pg_isready"),
                "-q",
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                "-t",
                "1",
            ],
            capture_output=True,
            timeout=10,
            check=False,
        )
        return result.returncode == 0 and postgres_admin.can_connect(self.admin_dsn)
