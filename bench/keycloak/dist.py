"""Keycloak's server distribution: fetched by Maven once, unpacked and built into the cache.

The zip comes from the Maven registry through infra/keycloak/pom.xml (`mvn dependency:copy`, the
same Maven and cache as Kafka's jars, devinfra.kafka_jars), is unpacked to
`<cache>/keycloak-<version>/` and then built once for the bench's build-time options
(`kc.sh build`: PostgreSQL, health checks, a local cache), so that every start is `start
--optimized` and spends no time re-augmenting. Markers record the pom's hash and the build
options; changing either redoes that step. A file lock serialises two benches starting together.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import re
import shutil
import subprocess
import tempfile
import time
import zipfile
from dataclasses import dataclass
from pathlib import Path

from devinfra.errors import InfraError
from devinfra.paths import cache_dir

POM = Path(__file__).resolve().parents[2] / "infra" / "keycloak" / "pom.xml"
MAVEN_TIMEOUT_S = 900.0
BUILD_TIMEOUT_S = 600.0
# Build-time options: the database vendor, the health endpoints on the management port, and a
# local cache (one node; clustering would only add JGroups discovery to a single-machine run).
BUILD_OPTIONS = ("--db=postgres", "--health-enabled=true", "--cache=local")
# Keycloak 26 runs on Java 17 but recommends 21 or later; the newest JDK found is used.
PREFERRED_JAVA = 21
MINIMUM_JAVA = 17
_UNPACKED = ".unpacked"
_BUILT = ".built"


@dataclass(frozen=True)
class Prepared:
    home: Path  # the unpacked distribution (bin/kc.sh)
    java_home: Path
    java_major: int
    fetch_seconds: float  # 0 when it was already in the cache
    build_seconds: float  # 0 when the build was already done


def keycloak_version(pom: Path = POM) -> str:
    match = re.search(r"<keycloak\.version>([^<]+)</keycloak\.version>", pom.read_text())
    if not match:
        raise InfraError(f"no <keycloak.version> property in {pom}")
    return match.group(1).strip()


def java_major(java_home: Path) -> int | None:
    """The feature release of the JDK at `java_home`, from its `release` file."""
    try:
        text = (java_home / "release").read_text()
    except OSError:
        return None
    match = re.search(r'^JAVA_VERSION="([^"]+)"', text, re.MULTILINE)
    if not match:
        return None
    numbers = re.findall(r"\d+", match.group(1))
    if not numbers:
        return None
    # "1.8.0_392" is Java 8; "17.0.15", "21", "25.0.3" and "26-ea" name their release first.
    return int(numbers[1]) if numbers[0] == "1" and len(numbers) > 1 else int(numbers[0])


def java_candidates() -> list[Path]:
    """JDKs on this machine: $JAVA_HOME, the `java` on PATH, and every one under /usr/lib/jvm."""
    found: list[Path] = []
    if os.environ.get("JAVA_HOME"):
        found.append(Path(os.environ["JAVA_HOME"]))
    java = shutil.which("java")
    if java:
        found.append(Path(java).resolve().parent.parent)
    jvm = Path("/usr/lib/jvm")
    if jvm.is_dir():
        found += sorted(p for p in jvm.iterdir() if p.is_dir() and not p.is_symlink())
    return found


def pick_java(candidates: list[Path]) -> tuple[Path, int]:
    """The newest JDK among `candidates`: Keycloak's recommended 21+ when there is one (on this
    kind of machine a Temurin JDK sits beside Debian's 17), else 17, the oldest it starts on."""
    usable = [
        (major, home)
        for home in candidates
        if (major := java_major(home)) is not None
        and major >= MINIMUM_JAVA
        and (home / "bin" / "java").is_file()
    ]
    if not usable:
        raise InfraError(
            f"Keycloak needs Java {MINIMUM_JAVA}+ (recommended {PREFERRED_JAVA}+); none found in "
            f"{', '.join(map(str, candidates)) or 'JAVA_HOME, PATH or /usr/lib/jvm'}: "
            "run scripts/install-system-deps.sh or set PWRESET_KEYCLOAK_JAVA_HOME"
        )
    major, home = max(usable, key=lambda pair: pair[0])
    return home, major


def choose_java() -> tuple[Path, int]:
    """$PWRESET_KEYCLOAK_JAVA_HOME when set (whatever it is), else the newest JDK found."""
    configured = os.environ.get("PWRESET_KEYCLOAK_JAVA_HOME")
    if configured:
        major = java_major(Path(configured))
        if major is None:
            raise InfraError(f"PWRESET_KEYCLOAK_JAVA_HOME={configured} is not a JDK")
        return Path(configured), major
    return pick_java(java_candidates())


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def _marked(marker: Path, value: str) -> bool:
    return marker.is_file() and marker.read_text().strip() == value


def _unpack(zip_path: Path, target: Path) -> None:
    """Unzip keeping the executable bits (zipfile drops them) into `target`, swapped in whole."""
    staging = Path(tempfile.mkdtemp(prefix="unpack-", dir=target.parent))
    with zipfile.ZipFile(zip_path) as archive:
        for info in archive.infolist():
            extracted = Path(archive.extract(info, staging))
            mode = (info.external_attr >> 16) & 0o777
            if mode and not info.is_dir():
                extracted.chmod(mode)
    (top,) = list(staging.iterdir())  # keycloak-<version>/
    if target.exists():
        shutil.rmtree(target)
    os.replace(top, target)
    shutil.rmtree(staging, ignore_errors=True)


def _fetch(pom: Path, target: Path) -> None:
    mvn = shutil.which("mvn")
    if mvn is None:
        raise InfraError("Maven (mvn) not found: run scripts/install-system-deps.sh")
    with tempfile.TemporaryDirectory(prefix="keycloak-zip-", dir=target.parent) as staging:
        command = [
            mvn,
            "-q",
            "-B",
            "-f",
            str(pom),
            "dependency:copy",
            f"-DoutputDirectory={staging}",
        ]
        try:
            result = subprocess.run(
                command, capture_output=True, text=True, timeout=MAVEN_TIMEOUT_S, check=False
            )
        except subprocess.TimeoutExpired as exc:
            raise InfraError(f"Maven did not fetch Keycloak within {MAVEN_TIMEOUT_S:.0f}s") from exc
        zips = list(Path(staging).glob("keycloak-quarkus-dist-*.zip"))
        if result.returncode != 0 or len(zips) != 1:
            output = "\n".join((result.stdout + result.stderr).splitlines()[-40:])
            raise InfraError(
                f"Maven failed to fetch Keycloak (exit {result.returncode}):\n{output}"
            )
        _unpack(zips[0], target)


def _build(home: Path, java_home: Path, log: Path) -> None:
    with log.open("ab") as out:
        result = subprocess.run(
            [str(home / "bin" / "kc.sh"), "build", *BUILD_OPTIONS],
            stdout=out,
            stderr=subprocess.STDOUT,
            stdin=subprocess.DEVNULL,
            env={**os.environ, "JAVA_HOME": str(java_home)},
            timeout=BUILD_TIMEOUT_S,
            check=False,
        )
    if result.returncode != 0:
        raise InfraError(f"kc.sh build failed (exit {result.returncode}); see {log}")


def prepare(log: Path, pom: Path = POM) -> Prepared:
    """The distribution ready for `kc.sh start --optimized`, fetching and building only once."""
    java_home, major = choose_java()
    home = cache_dir() / f"keycloak-{keycloak_version(pom)}"
    unpacked = _digest(pom.read_text())
    built = _digest(" ".join(BUILD_OPTIONS) + f" java={major}")
    fetch_seconds = build_seconds = 0.0
    home.parent.mkdir(parents=True, exist_ok=True)
    with (home.parent / ".keycloak.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not _marked(home / _UNPACKED, unpacked):
            started = time.monotonic()
            _fetch(pom, home)
            (home / _UNPACKED).write_text(unpacked + "\n")
            fetch_seconds = time.monotonic() - started
        if not _marked(home / _BUILT, built):
            started = time.monotonic()
            _build(home, java_home, log)
            (home / _BUILT).write_text(built + "\n")
            build_seconds = time.monotonic() - started
    return Prepared(home, java_home, major, fetch_seconds, build_seconds)
