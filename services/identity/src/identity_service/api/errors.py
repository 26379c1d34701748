"""Service-layer failures that more than one identity route can meet, as HTTP errors with
stable codes."""

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse
from servicekit.web.http_errors import ApiError, error_response

from identity_service.service_layer.errors import HashingBusy, LoginThrottled, PasswordRejected


def password_rejected(exc: PasswordRejected) -> ApiError:
    if exc.limit is None:
        return ApiError(422, "password_rejected", str(exc), reason=exc.reason)
    return ApiError(422, "password_rejected", str(exc), reason=exc.reason, limit=exc.limit)


def throttled_response(exc: LoginThrottled) -> JSONResponse:
    # The same for known and unknown emails: it says only that attempts must slow down.
    return error_response(
        429,
        "login_throttled",
        "too many failed attempts; wait and try again",
        headers={"Retry-After": str(exc.retry_after_seconds)},
        retry_after_seconds=exc.retry_after_seconds,
    )


def busy_response(exc: HashingBusy) -> JSONResponse:
    return error_response(
        503,
        "busy",
        "too many requests right now; try again in a moment",
        headers={"Retry-After": str(exc.retry_after_seconds)},
    )


def install(app: FastAPI) -> None:
    @app.exception_handler(LoginThrottled)
    async def _throttled(_: Request, exc: LoginThrottled) -> JSONResponse:
        return throttled_response(exc)

    @app.exception_handler(HashingBusy)
    async def _busy(_: Request, exc: HashingBusy) -> JSONResponse:
        return busy_response(exc)
