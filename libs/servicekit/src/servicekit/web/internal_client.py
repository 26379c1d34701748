"""A small HTTP/1.1 client for the platform's internal APIs (one service calling another).

Why not httpx: in the bench profile of a reset request, httpx, httpcore and anyio were 45% of
the reset process's CPU for one JSON call to identity (their connection pool polls every idle
socket, anyio wraps every write). This client does only what an internal JSON API needs, on
asyncio protocols: keep-alive connections, each request written in one ``write``, the answer
parsed by httptools (uvicorn's own parser), a timeout over the whole call. No redirects, no
cookies, no retries: a failed call raises ``InternalCallFailed`` and the caller decides.

Connections idle longer than ``keepalive_expiry`` are closed, not reused: uvicorn closes its
side after 5 s, and a request written just as the server closes would be lost. Trace context:
the caller's headers (``tracing.outgoing_headers``); with OpenTelemetry on, its propagator
writes the current span's context over them, as its httpx instrumentation did.
"""

from __future__ import annotations

import asyncio
import json
import ssl
import time
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, cast
from urllib.parse import urlsplit

import httptools

from servicekit.runtime import otel


class InternalCallFailed(Exception):
    """No answer: the connection failed, broke, timed out or carried no valid HTTP response."""


@dataclass(frozen=True)
class Answer:
    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


class _Connection(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    def __init__(self) -> None:
        self.transport: asyncio.Transport | None = None
        self.closed = False
        self.idle_since = 0.0
        self._answer: asyncio.Future[tuple[Answer, bool]] | None = None
        self._parser: httptools.HttpResponseParser | None = None
        self._content_type = b""
        self._body: list[bytes] = []

    # asyncio.Protocol
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # uvloop's transports are not asyncio.Transport subclasses, but behave as one.
        self.transport = cast(asyncio.Transport, transport)

    def data_received(self, data: bytes) -> None:
        if self._parser is None:  # bytes nobody asked for: the connection is not usable
            self._fail(InternalCallFailed("unexpected data"))
            return
        try:
            self._parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._fail(InternalCallFailed(f"invalid response: {exc}"))

    def eof_received(self) -> bool:
        self._fail(InternalCallFailed("connection closed by the server"))
        return False

    def connection_lost(self, exc: Exception | None) -> None:
        self._fail(InternalCallFailed(f"connection lost: {exc}" if exc else "connection lost"))

    # httptools callbacks
    def on_header(self, name: bytes, value: bytes) -> None:
        if name.lower() == b"content-type":
            self._content_type = value

    def on_body(self, body: bytes) -> None:
        self._body.append(body)

    def on_message_complete(self) -> None:
        parser, answer = self._parser, self._answer
        self._parser = None
        if parser is None or answer is None or answer.done():
            return
        result = Answer(
            parser.get_status_code(), self._content_type.decode("latin-1"), b"".join(self._body)
        )
        answer.set_result((result, parser.should_keep_alive()))

    # the client's side
    def send(self, request: bytes) -> asyncio.Future[tuple[Answer, bool]]:
        assert self.transport is not None
        self._answer = asyncio.get_running_loop().create_future()
        self._parser = httptools.HttpResponseParser(self)
        self._content_type, self._body = b"", []
        self.transport.write(request)
        return self._answer

    def close(self) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.close()

    def _fail(self, exc: InternalCallFailed) -> None:
        self.closed = True
        self._parser = None
        if self._answer is not None and not self._answer.done():
            self._answer.set_exception(exc)
        if self.transport is not None:
            self.transport.close()


class InternalClient:
    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str],
        timeout: float,
        max_connections: int = 100,
        max_idle: int = 20,
        keepalive_expiry: float = 2.0,
    ) -> None:
        url = urlsplit(base_url)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise ValueError("an internal API's URL is http(s)://host[:port]")
        self._host = url.hostname
        self._port = url.port or (443 if url.scheme == "https" else 80)
        self._ssl = ssl.create_default_context() if url.scheme == "https" else None
        self._prefix = url.path.rstrip("/")
        self._fixed = _header_lines({"Host": url.netloc, **headers})
        self._timeout = timeout
        self._slots = asyncio.Semaphore(max_connections)
        self._idle: list[_Connection] = []
        self._max_idle = max_idle
        self._expiry = keepalive_expiry
        self._otel = otel.enabled()

    async def post_json(
        self, path: str, body: object, headers: Mapping[str, str] | None = None
    ) -> Answer:
        payload = json.dumps(body, separators=(",", ":")).encode()
        return await self.request("POST", path, payload, "application/json", headers)

    async def get(self, path: str, headers: Mapping[str, str] | None = None) -> Answer:
        return await self.request("GET", path, None, None, headers)

    async def request(
        self,
        method: str,
        path: str,
        body: bytes | None,
        content_type: str | None,
        headers: Mapping[str, str] | None = None,
    ) -> Answer:
        extra = dict(headers or {})
        if self._otel:
            from opentelemetry.propagate import inject

            inject(extra)
        if content_type is not None:
            extra["Content-Type"] = content_type
        if body is not None:
            extra["Content-Length"] = str(len(body))
        _check_request_line(method, path)
        head = f"{method} {self._prefix}{path} HTTP/1.1\r\n{self._fixed}{_header_lines(extra)}\r\n"
        request = head.encode("latin-1") + (body or b"")
        try:
            async with self._slots, asyncio.timeout(self._timeout):
                connection = await self._connection()
                try:
                    answer, keep_alive = await connection.send(request)
                except BaseException:
                    connection.close()  # in an unknown state: never reused
                    raise
                self._release(connection, keep_alive)
                return answer
        except (OSError, TimeoutError) as exc:
            raise InternalCallFailed(type(exc).__name__) from exc

    async def _connection(self) -> _Connection:
        now = time.monotonic()
        while self._idle:
            connection = self._idle.pop()
            if not connection.closed and now - connection.idle_since < self._expiry:
                return connection
            connection.close()
        loop = asyncio.get_running_loop()
        _, connection = await loop.create_connection(
            _Connection,
            self._host,
            self._port,
            ssl=self._ssl,
            server_hostname=self._host if self._ssl else None,
        )
        return connection

    def _release(self, connection: _Connection, keep_alive: bool) -> None:
        if keep_alive and not connection.closed and len(self._idle) < self._max_idle:
            connection.idle_since = time.monotonic()
            self._idle.append(connection)
        else:
            connection.close()

    async def aclose(self) -> None:
        idle, self._idle = self._idle, []
        for connection in idle:
            connection.close()


def _check_request_line(method: str, path: str) -> None:
    for text in (method, path):
        if not text or not text.isprintable() or " " in text:
            raise ValueError("a method and a path are printable, without spaces")
    if not path.startswith("/"):
        raise ValueError("a path starts with /")


def _header_lines(headers: Mapping[str, str]) -> str:
    lines = []
    for name, value in headers.items():
        # A line break in a value would start a header (or a request) of the caller's choosing.
        if "\r" in value or "\n" in value or "\r" in name or "\n" in name or ":" in name:
            raise ValueError(f"header {name!r}: no line breaks, no colon in the name")
        lines.append(f"{name}: {value}\r\n")
    return "".join(lines)
