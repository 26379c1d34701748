"""The unprivileged account PostgreSQL runs as when we are root (postgres refuses root)."""

from __future__ import annotations

import hashlib
import os
import pwd
import shutil
import stat
import subprocess
import tempfile
from pathlib import Path

from devinfra.errors import InfraError

SERVICE_USER = "pwreset"


def running_as_root() -> bool:
    return os.geteuid() == 0


def ensure_service_user(name: str = SERVICE_USER) -> pwd.struct_passwd:
    """Create the system user once; later calls just look it up."""
    try:
        return pwd.getpwnam(name)
    except KeyError:
        pass
    useradd = shutil.which("useradd") or "/usr/sbin/useradd"
    result = subprocess.run(
        [
            useradd,
            "--system",
            "--no-create-home",
            "--user-group",
            "--shell",
            "/usr/sbin/nologin",
            name,
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    # Exit 9 = already exists (a concurrent run created it between our check and here).
    if result.returncode not in (0, 9):
        raise InfraError(f"useradd {name} failed: {result.stderr.strip()}")
    return pwd.getpwnam(name)


def traversable_by_others(path: Path, owner_uid: int) -> bool:
    """Whether a user `owner_uid` (not root, not in root's groups) can reach `path`."""
    for directory in (path, *path.parents):
        if not directory.exists():
            continue
        info = directory.stat()
        if info.st_uid == owner_uid:
            continue
        if not info.st_mode & stat.S_IXOTH:
            return False
    return True


def private_place_for(run_dir: Path, purpose: str) -> Path:
    """A stable, world-reachable directory standing in for `run_dir/<purpose>`.

    Used when run_dir sits below a directory the service user cannot enter (e.g.
    /root or pytest's 0700 /tmp/pytest-of-root). Stable per run_dir so data is reused.
    """
    digest = hashlib.sha256(str(run_dir.resolve()).encode()).hexdigest()[:12]
    base = Path(tempfile.gettempdir()) / f"pwreset-{purpose}-{digest}"
    base.mkdir(mode=0o755, exist_ok=True)
    return base


def chown_tree(path: Path, uid: int, gid: int) -> None:
    os.chown(path, uid, gid)
    for root, dirs, files in os.walk(path):
        for name in (*dirs, *files):
            os.chown(os.path.join(root, name), uid, gid, follow_symlinks=False)
