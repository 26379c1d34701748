"""The internal API client against a real uvicorn (what it talks to) and against raw servers
that misbehave: answers matched to their own requests under concurrency, keep-alive only while
safe, every failure an ``InternalCallFailed`` within the timeout, no header or request-line
injection."""

import asyncio
import contextlib
import random
import socket
import time
from collections.abc import AsyncIterator, Awaitable, Callable

import pytest
import uvicorn
import uvloop
from fastapi import FastAPI, Request
from fastapi.responses import Response
from servicekit.web.internal_client import InternalCallFailed, InternalClient

Handler = Callable[[asyncio.StreamReader, asyncio.StreamWriter], Awaitable[None]]


def echo_app() -> FastAPI:
    app = FastAPI()

    @app.post("/echo")
    async def echo(request: Request) -> dict[str, object]:
        body = await request.json()
        await asyncio.sleep(random.random() / 100)  # answers come back out of order
        assert request.client is not None
        return {
            "id": body["id"],
            "client_port": request.client.port,
            "authorization": request.headers.get("authorization"),
            "traceparent": request.headers.get("traceparent"),
        }

    @app.post("/empty", status_code=204)
    async def empty() -> Response:
        return Response(status_code=204)

    return app


@contextlib.asynccontextmanager
async def uvicorn_server(app: FastAPI) -> AsyncIterator[str]:
    # Listening before uvicorn starts: early connections wait in the backlog.
    sock = socket.socket()
    sock.bind(("127.0.0.1", 0))
    sock.listen()
    port = sock.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(app, log_config=None, lifespan="off"))
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@contextlib.asynccontextmanager
async def raw_server(handler: Handler) -> AsyncIterator[tuple[str, list[int]]]:
    """A server running ``handler`` per connection; yields its URL and the connection count."""
    connections: list[int] = []

    async def serve(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        connections.append(1)
        try:
            await handler(reader, writer)
        finally:
            writer.close()

    server = await asyncio.start_server(serve, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    try:
        yield f"http://127.0.0.1:{port}", connections
    finally:
        server.close()


async def read_request(reader: asyncio.StreamReader) -> bytes:
    head = await reader.readuntil(b"\r\n\r\n")
    length = 0
    for line in head.split(b"\r\n"):
        if line.lower().startswith(b"content-length:"):
            length = int(line.split(b":")[1])
    return head + await reader.readexactly(length)


def client(url: str, keepalive_expiry: float = 2.0) -> InternalClient:
    return InternalClient(
        url,
        headers={"Authorization": "Bearer t0ken"},
        timeout=2,
        keepalive_expiry=keepalive_expiry,
    )


async def test_json_calls_reuse_one_keep_alive_connection() -> None:
    async with uvicorn_server(echo_app()) as url:
        http = client(url)
        answers = [await http.post_json("/echo", {"id": n}) for n in range(50)]
        await http.aclose()
    assert all(a.status == 200 and a.content_type == "application/json" for a in answers)
    assert [a.json()["id"] for a in answers] == list(range(50))
    assert answers[0].json()["authorization"] == "Bearer t0ken"
    assert len({a.json()["client_port"] for a in answers}) == 1


async def test_thirty_concurrent_calls_each_get_their_own_answer() -> None:
    async with uvicorn_server(echo_app()) as url:
        http = client(url)
        for _ in range(3):
            answers = await asyncio.gather(
                *(
                    http.post_json("/echo", {"id": n}, headers={"traceparent": f"tp-{n}"})
                    for n in range(30)
                )
            )
            assert [a.json()["id"] for a in answers] == list(range(30))
            assert [a.json()["traceparent"] for a in answers] == [f"tp-{n}" for n in range(30)]
        ports = {a.json()["client_port"] for a in answers}
        await http.aclose()
    assert len(ports) <= 30


def test_on_uvloop_as_the_services_run() -> None:
    async def calls() -> list[int]:
        async with uvicorn_server(echo_app()) as url:
            http = client(url)
            answers = await asyncio.gather(*(http.post_json("/echo", {"id": n}) for n in range(20)))
            again = await http.post_json("/echo", {"id": 20})
            await http.aclose()
        return [a.json()["id"] for a in [*answers, again]]

    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        assert runner.run(calls()) == list(range(21))


async def test_an_answer_without_a_body_completes() -> None:
    async with uvicorn_server(echo_app()) as url:
        http = client(url)
        answer = await http.post_json("/empty", {})
        again = await http.post_json("/echo", {"id": 1})
        await http.aclose()
    assert (answer.status, answer.body) == (204, b"")
    assert again.json()["id"] == 1


async def test_connections_the_server_closes_are_never_reused() -> None:
    async def answer_once_then_close(reader: asyncio.StreamReader, writer: asyncio.StreamWriter):
        await read_request(reader)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        # closed by raw_server: no "Connection: close", as a server timing out an idle one

    async with raw_server(answer_once_then_close) as (url, connections):
        http = client(url)
        for _ in range(5):
            assert (await http.post_json("/x", {})).status == 200
            await asyncio.sleep(0.05)  # the server's FIN arrives while the connection is idle
        await http.aclose()
    assert len(connections) == 5


async def test_idle_connections_past_the_expiry_are_replaced() -> None:
    async with uvicorn_server(echo_app()) as url:
        http = client(url, keepalive_expiry=0.2)
        first = (await http.post_json("/echo", {"id": 1})).json()["client_port"]
        second = (await http.post_json("/echo", {"id": 2})).json()["client_port"]
        await asyncio.sleep(0.3)
        third = (await http.post_json("/echo", {"id": 3})).json()["client_port"]
        await http.aclose()
    assert first == second != third


async def test_chunked_answers_are_read_whole() -> None:
    async def chunked(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await read_request(reader)
        writer.write(
            b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
            b'Transfer-Encoding: chunked\r\n\r\n5\r\n{"a":\r\n2\r\n1}\r\n0\r\n\r\n'
        )
        await writer.drain()
        await reader.read()

    async with raw_server(chunked) as (url, _):
        http = client(url)
        assert (await http.post_json("/x", {})).json() == {"a": 1}
        await http.aclose()


async def test_a_server_that_never_answers_fails_within_the_timeout() -> None:
    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()

    async with raw_server(silent) as (url, _):
        http = InternalClient(url, headers={}, timeout=0.3)
        started = time.monotonic()
        with pytest.raises(InternalCallFailed):
            await http.post_json("/x", {})
        assert time.monotonic() - started < 1.5
        await http.aclose()


@pytest.mark.parametrize(
    "answer",
    [
        b"NOT HTTP AT ALL\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n{}",  # cut short, then closed
        b"HTTP/1.1 200 OK\r\nContent-Len",  # cut in the headers
        b"",  # closed without a word
    ],
)
async def test_broken_answers_fail_and_the_next_call_starts_afresh(answer: bytes) -> None:
    calls = 0

    async def broken_first(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal calls
        await read_request(reader)
        calls += 1
        writer.write(answer if calls == 1 else b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}")
        await writer.drain()
        if calls > 1:
            await reader.read()

    async with raw_server(broken_first) as (url, connections):
        http = client(url)
        with pytest.raises(InternalCallFailed):
            await http.post_json("/x", {})
        assert (await http.post_json("/x", {})).json() == {}
        await http.aclose()
    assert len(connections) == 2


async def test_nothing_listening_fails_cleanly() -> None:
    async with raw_server(read_request) as (url, _):
        pass  # closed: nothing listens there any more
    http = client(url)
    with pytest.raises(InternalCallFailed):
        await http.post_json("/x", {})


@pytest.mark.parametrize(
    ("path", "headers"),
    [
        ("/x", {"traceparent": "00-abc\r\nX-Injected: 1"}),
        ("/x", {"X-Evil\r\nHost": "a"}),
        ("/x HTTP/1.1\r\nX-Injected: 1\r\n\r\nGET /y", {}),
        ("/x\nX-Injected: 1", {}),
        ("x", {}),
    ],
)
async def test_line_breaks_cannot_inject_headers_or_requests(
    path: str, headers: dict[str, str]
) -> None:
    seen: list[bytes] = []

    async def record(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        seen.append(await reader.read())

    async with raw_server(record) as (url, _):
        http = client(url)
        with pytest.raises(ValueError):
            await http.post_json(path, {}, headers=headers)
        await http.aclose()
    assert not any(seen)
