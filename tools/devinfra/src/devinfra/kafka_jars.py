"""Apache Kafka's jars, resolved by Maven from infra/kafka/pom.xml and cached per version."""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

from devinfra.errors import InfraError
from devinfra.paths import cache_dir, kafka_pom

_MARKER = ".complete"
MAVEN_TIMEOUT_S = 900.0


def kafka_version(pom: Path | None = None) -> str:
    text = (pom or kafka_pom()).read_text()
    match = re.search(r"<kafka\.version>([^<]+)</kafka\.version>", text)
    if not match:
        raise InfraError(f"no <kafka.version> property in {pom or kafka_pom()}")
    return match.group(1).strip()


def libs_dir(pom: Path | None = None) -> Path:
    return cache_dir() / f"kafka-{kafka_version(pom)}" / "libs"


def _pom_digest(pom: Path) -> str:
    return hashlib.sha256(pom.read_bytes()).hexdigest()


def ensure_kafka_jars(pom: Path | None = None) -> Path:
    """Return a directory holding every jar `kafka.Kafka` needs; runs Maven only once.

    The marker file records the pom's hash, so editing the pom refetches. A file lock
    serialises concurrent callers (e.g. `make run` and a test session starting together).
    """
    pom = (pom or kafka_pom()).resolve()
    if not pom.is_file():
        raise InfraError(f"Kafka pom not found at {pom}")
    target = libs_dir(pom)
    digest = _pom_digest(pom)
    marker = target / _MARKER
    if marker.is_file() and marker.read_text().strip() == digest:
        return target
    target.parent.mkdir(parents=True, exist_ok=True)
    with (target.parent / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if marker.is_file() and marker.read_text().strip() == digest:
            return target  # another process fetched while we waited for the lock
        _fetch(pom, target, digest)
    return target


def _fetch(pom: Path, target: Path, digest: str) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise InfraError("Maven (mvn) not found: run scripts/install-system-deps.sh")
    staging = Path(tempfile.mkdtemp(prefix="libs-", dir=target.parent))
    command = [
        mvn,
        "-q",
        "-B",
        "-f",
        str(pom),
        "dependency:copy-dependencies",
        f"-DoutputDirectory={staging}",
        "-DincludeScope=runtime",
    ]
    try:
        result = subprocess.run(
            command, capture_output=True, text=True, timeout=MAVEN_TIMEOUT_S, check=False
        )
    except subprocess.TimeoutExpired as exc:
        shutil.rmtree(staging, ignore_errors=True)
        raise InfraError(f"Maven did not resolve Kafka within {MAVEN_TIMEOUT_S:.0f}s") from exc
    if result.returncode != 0 or not any(staging.glob("kafka_2.13-*.jar")):
        shutil.rmtree(staging, ignore_errors=True)
        output = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
        raise InfraError(f"Maven failed to fetch Kafka jars (exit {result.returncode}):\n{output}")
    (staging / _MARKER).write_text(digest + "\n")
    # Swap in the complete directory at once so readers never see a partial set.
    if target.exists():
        shutil.rmtree(target)
    os.replace(staging, target)
