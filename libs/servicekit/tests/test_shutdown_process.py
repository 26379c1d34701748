"""The `serve` command under SIGTERM, as a real process (no database, no broker: a small app
served by servicekit.runtime.cli): readiness 503 at once, requests still served during the
drain, the one in flight finished, then the exit."""

import os
import signal
import socket
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import httpx

APP = textwrap.dedent(
    """
    import asyncio
    from fastapi import FastAPI
    from servicekit.web.health import health_router

    def create():
        app = FastAPI()
        app.include_router(health_router({}))

        @app.get("/work")
        async def work():
            return {"done": True}

        @app.get("/slow")
        async def slow():
            await asyncio.sleep(2.5)
            return {"done": True}

        return app
    """
)
SERVE = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from servicekit.runtime.cli import run
    sys.argv = ["drain-app", "serve", "--port", sys.argv[1], "--drain-seconds", "1.5"]
    run(name="drain-app", app_factory="drain_app:create", migrations_dir=Path("."),
        database_url=lambda: "")
    """
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_sigterm_drains_then_finishes_in_flight_then_exits(tmp_path: Path) -> None:
    (tmp_path / "drain_app.py").write_text(APP)
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    env = {**os.environ, "PYTHONPATH": f"{tmp_path}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    process = subprocess.Popen(
        [sys.executable, "-c", SERVE, str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{base}/healthz/ready", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.monotonic() < deadline, "the app did not start"
            time.sleep(0.1)

        slow: list[int] = []
        in_flight = threading.Thread(
            target=lambda: slow.append(httpx.get(f"{base}/slow", timeout=10).status_code)
        )
        in_flight.start()
        time.sleep(0.3)
        terminated = time.monotonic()
        process.send_signal(signal.SIGTERM)
        time.sleep(0.3)  # the server's tick notices within 0.1 s

        ready = httpx.get(f"{base}/healthz/ready", timeout=2)
        assert ready.status_code == 503 and ready.json()["error"] == "shutting_down"
        work = httpx.get(f"{base}/work", timeout=2)  # a new connection, still accepted
        assert work.status_code == 200 and work.headers["connection"] == "close"

        in_flight.join(10)
        assert slow == [200]  # started before SIGTERM, finished after the drain ended
        process.wait(10)
        stopped_after = time.monotonic() - terminated
        assert process.returncode in (0, -signal.SIGTERM)
        assert 1.5 <= stopped_after < 8
        try:
            httpx.get(f"{base}/work", timeout=1)
            raise AssertionError("still accepting after the exit")
        except httpx.ConnectError:
            pass
    finally:
        if process.poll() is None:
            process.kill()
            process.wait(5)
