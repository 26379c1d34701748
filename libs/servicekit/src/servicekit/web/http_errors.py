"""One error body for every 4xx/5xx of every service: ``{"error": code, "message": text, ...}``.

FastAPI's defaults differ per failure (``detail`` as a string or a list); clients of an auth system
want one machine-readable shape, and no 500 for input they got wrong.
"""

import logging
from collections.abc import Mapping
from typing import Any

import asyncpg
from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("servicekit.http")

# The database unreachable, restarting or failing over (a connection refused, reset or closed
# under the request, a server shutting down or still starting, a standby where the primary was,
# the pool's timeout): a moment's unavailability, answered 503 with Retry-After, never a 500.
# OSError covers refused/reset connections and TimeoutError.
DATABASE_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,
    asyncpg.PostgresConnectionError,
    asyncpg.InterfaceError,
    asyncpg.OperatorInterventionError,
    asyncpg.ReadOnlySQLTransactionError,
    asyncpg.TargetServerAttributeNotMatched,
)


class ApiError(Exception):
    """An expected failure with a stable error code, raised by routes and the service layer."""

    def __init__(
        self,
        status: int,
        error: str,
        message: str,
        headers: dict[str, str] | None = None,
        **extra: Any,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.error = error
        self.message = message
        self.headers = headers
        self.extra = extra


def error_response(
    status: int,
    error: str,
    message: str,
    headers: Mapping[str, str] | None = None,
    **extra: Any,
) -> JSONResponse:
    return JSONResponse(
        {"error": error, "message": message, **extra}, status_code=status, headers=headers
    )


def _validation_details(exc: RequestValidationError) -> list[dict[str, Any]]:
    # Never echo the submitted input back: it may be a password.
    return [
        {
            "field": ".".join(str(p) for p in err.get("loc", ()) if p != "body"),
            "problem": err["msg"],
        }
        for err in exc.errors()
    ]


def install_error_handlers(app: FastAPI) -> None:
    @app.exception_handler(ApiError)
    async def _api_error(_: Request, exc: ApiError) -> JSONResponse:
        return error_response(exc.status, exc.error, exc.message, exc.headers, **exc.extra)

    @app.exception_handler(RequestValidationError)
    async def _invalid(_: Request, exc: RequestValidationError) -> JSONResponse:
        details = _validation_details(exc)
        if any(e.get("type") == "json_invalid" for e in exc.errors()):
            return error_response(400, "malformed_json", "request body is not valid JSON")
        return error_response(422, "invalid_request", "request failed validation", details=details)

    @app.exception_handler(StarletteHTTPException)
    async def _http(_: Request, exc: StarletteHTTPException) -> JSONResponse:
        code = {400: "bad_request", 404: "not_found", 405: "method_not_allowed"}.get(
            exc.status_code, "http_error"
        )
        return error_response(exc.status_code, code, str(exc.detail), exc.headers)

    # A middleware, not an exception handler: Starlette runs the handler for ``Exception`` in
    # its outermost layer, outside every middleware, so a 500 went out without the security
    # headers. Installed first, this is the innermost middleware, and they wrap it.
    app.add_middleware(UnexpectedErrors)


class UnexpectedErrors:
    """Turn an unhandled exception into the one 500 body, and log it; a database that is away
    (``DATABASE_UNAVAILABLE``) into a 503 ``service_unavailable`` instead."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def watch(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, watch)
        except DATABASE_UNAVAILABLE as exc:
            if started:
                raise
            log.warning("database unavailable", extra={"fields": {"error": type(exc).__name__}})
            response = error_response(
                503,
                "service_unavailable",
                "try again in a moment",
                {"Retry-After": "5"},
            )
            await response(scope, receive, send)
        except Exception as exc:
            log.error("unhandled error", exc_info=exc)
            if started:  # too late for another answer; the server closes the connection
                raise
            response = error_response(500, "internal_error", "unexpected error; it has been logged")
            await response(scope, receive, send)


class BodySizeLimit:
    """Refuse bodies over ``max_bytes`` with 413 before the route parses them: a declared
    Content-Length at once, a chunked body (no Content-Length) as soon as what arrived passes
    the limit, without reading on."""

    def __init__(self, app: ASGIApp, max_bytes: int) -> None:
        self.app = app
        self.max_bytes = max_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            await self._reject(scope, receive, send)
            return
        seen = 0
        over = False
        started = False

        async def limited_receive() -> Message:
            nonlocal seen, over
            if over:  # never read past the limit, whoever asks again
                raise _TooLarge
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > self.max_bytes:
                    over = True
                    raise _TooLarge
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            # The app's own answer to a body it could not read is not sent (FastAPI turns any
            # error while reading a body into its 400 "error parsing the body"): the answer is
            # the 413, below.
            if over and not started:
                return
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, limited_receive, guarded_send)
        except _TooLarge:
            if started:
                raise
        if over and not started:
            await self._reject(scope, receive, send)

    async def _reject(self, scope: Scope, receive: Receive, send: Send) -> None:
        response = error_response(
            413, "body_too_large", f"request body exceeds {self.max_bytes} bytes"
        )
        await response(scope, receive, send)


class _TooLarge(Exception):
    pass
