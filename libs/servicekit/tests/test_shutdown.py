"""Graceful shutdown pieces (runtime.shutdown) and the 503 for a database that is away
(web.http_errors). The processes under SIGTERM: tests/faults/test_rolling_restart.py."""

import asyncio
import signal
import time
from collections.abc import Iterator

import asyncpg
import pytest
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from servicekit.runtime import shutdown
from servicekit.runtime.shutdown import CloseConnectionsWhileDraining, DrainingServer
from servicekit.web.health import health_router
from servicekit.web.http_errors import install_error_handlers


@pytest.fixture(autouse=True)
def not_draining() -> Iterator[None]:
    shutdown.reset_for_tests()
    yield
    shutdown.reset_for_tests()


def app_with_health() -> TestClient:
    async def fine() -> None:
        return None

    app = FastAPI()
    app.include_router(health_router({"database": fine}))

    @app.get("/work")
    async def work() -> dict[str, str]:
        return {"done": "yes"}

    return TestClient(CloseConnectionsWhileDraining(app))


def test_readiness_goes_503_on_draining_while_requests_are_still_served() -> None:
    client = app_with_health()
    assert client.get("/healthz/ready").status_code == 200
    assert "close" not in client.get("/work").headers.get("connection", "")

    shutdown.begin_draining()

    ready = client.get("/healthz/ready")
    assert ready.status_code == 503
    assert ready.json()["error"] == "shutting_down"
    work = client.get("/work")
    assert work.status_code == 200 and work.json() == {"done": "yes"}
    assert work.headers["connection"] == "close"  # keep-alive clients move elsewhere
    assert client.get("/healthz/live").status_code == 200  # not a reason to restart it


def test_the_server_keeps_running_for_the_drain_then_exits() -> None:
    server = DrainingServer(uvicorn.Config(FastAPI()), drain_seconds=0.5)
    server.handle_exit(signal.SIGTERM, None)
    assert shutdown.draining() and not server.should_exit
    assert asyncio.run(server.on_tick(1)) is False  # still serving
    time.sleep(0.6)
    assert asyncio.run(server.on_tick(2)) is True
    assert server.should_exit


def test_a_second_signal_ends_the_drain_at_once() -> None:
    server = DrainingServer(uvicorn.Config(FastAPI()), drain_seconds=60)
    server.handle_exit(signal.SIGTERM, None)
    server.handle_exit(signal.SIGTERM, None)
    assert server.should_exit


def test_without_a_drain_sigterm_stops_at_once_as_before() -> None:
    server = DrainingServer(uvicorn.Config(FastAPI()), drain_seconds=0)
    server.handle_exit(signal.SIGTERM, None)
    assert server.should_exit
    assert shutdown.draining()


@pytest.mark.parametrize(
    "error",
    [
        ConnectionRefusedError(111, "refused"),
        ConnectionResetError(104, "reset"),
        TimeoutError(),
        asyncpg.ConnectionDoesNotExistError("connection was closed in the middle of operation"),
        asyncpg.InterfaceError("connection is closed"),
        asyncpg.CannotConnectNowError("the database system is starting up"),
        asyncpg.AdminShutdownError("terminating connection due to administrator command"),
        asyncpg.ReadOnlySQLTransactionError("cannot execute INSERT in a read-only transaction"),
        asyncpg.TargetServerAttributeNotMatched("None of the hosts match"),
    ],
    ids=type,
)
def test_a_database_away_is_a_503_json_never_a_500(error: BaseException) -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/write")
    async def write() -> None:
        raise error

    answer = TestClient(app, raise_server_exceptions=False).post("/write")
    assert answer.status_code == 503
    assert answer.json() == {"error": "service_unavailable", "message": "try again in a moment"}
    assert answer.headers["retry-after"] == "5"


def test_a_bug_is_still_a_500() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/bug")
    async def bug() -> None:
        raise KeyError("x")

    answer = TestClient(app, raise_server_exceptions=False).get("/bug")
    assert answer.status_code == 500
