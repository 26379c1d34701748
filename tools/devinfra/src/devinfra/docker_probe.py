"""Does a Docker engine answer? A bounded probe that never hangs."""

from __future__ import annotations

import os
import socket
import time
from pathlib import Path
from urllib.parse import urlsplit


def _socket_candidates() -> list[Path]:
    candidates = [Path("/var/run/docker.sock")]
    runtime_dir = os.environ.get("XDG_RUNTIME_DIR")
    if runtime_dir:
        candidates.append(Path(runtime_dir) / "docker.sock")  # rootless docker
    candidates.append(Path.home() / ".docker" / "run" / "docker.sock")  # Docker Desktop
    return candidates


def _ping(sock: socket.socket, deadline: float) -> bool:
    sock.sendall(b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n")
    reply = b""
    while b"\r\n" not in reply and time.monotonic() < deadline:
        chunk = sock.recv(256)
        if not chunk:
            break
        reply += chunk
    status_line = reply.split(b"\r\n", 1)[0].split()
    return (
        len(status_line) >= 2 and status_line[0].startswith(b"HTTP/") and status_line[1] == b"200"
    )


def _ping_unix(path: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
        sock.settimeout(timeout)
        sock.connect(str(path))
        return _ping(sock, deadline)


def _ping_tcp(host: str, port: int, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    with socket.create_connection((host, port), timeout=timeout) as sock:
        sock.settimeout(timeout)
        return _ping(sock, deadline)


def detect_docker(timeout: float = 2.0) -> bool:
    """True when a Docker engine answers GET /_ping within `timeout` seconds.

    A raw HTTP request with socket timeouts rather than the docker SDK, whose client can
    block for long on a half-dead daemon. TLS engines (DOCKER_TLS_VERIFY) are not probed
    and count as absent.
    """
    docker_host = os.environ.get("DOCKER_HOST", "")
    try:
        if docker_host.startswith("unix://"):
            return _ping_unix(Path(docker_host.removeprefix("unix://")), timeout)
        if docker_host.startswith("tcp://"):
            if os.environ.get("DOCKER_TLS_VERIFY"):
                return False
            parts = urlsplit(docker_host)
            return _ping_tcp(parts.hostname or "127.0.0.1", parts.port or 2375, timeout)
        if docker_host:
            return False  # ssh:// or npipe://: not something we can probe cheaply
        for candidate in _socket_candidates():
            if candidate.exists():
                return _ping_unix(candidate, timeout)
    except OSError:
        return False
    return False
