"""Service-layer failures as HTTP errors with stable codes."""

from servicekit.web.http_errors import ApiError

from reset_service.service_layer.errors import (
    ConfirmFailure,
    ConfirmRejected,
    IdentityUnavailable,
    PasswordRejected,
    RateLimited,
)

CONFIRM_MESSAGES = {
    ConfirmFailure.LINK_INVALID: "this reset link is invalid, used or expired; request a new one",
    ConfirmFailure.TOO_MANY_ATTEMPTS: "too many wrong codes; request a new reset",
    ConfirmFailure.CODE_REQUIRED: "enter the verification code shown when you asked for the reset",
    ConfirmFailure.TOTP_REQUIRED: "enter the code from your authenticator app",
    ConfirmFailure.WRONG_CODE: "the code is not right",
    ConfirmFailure.TOTP_THROTTLED: "too many wrong authenticator codes; wait a few minutes",
    ConfirmFailure.RESET_OUTDATED: "two-factor authentication was turned off after this reset "
    "was asked for; request a new reset",
}
_STATUS = {
    ConfirmFailure.LINK_INVALID: 410,
    ConfirmFailure.TOO_MANY_ATTEMPTS: 410,
    ConfirmFailure.CODE_REQUIRED: 400,
    ConfirmFailure.TOTP_REQUIRED: 400,
    ConfirmFailure.WRONG_CODE: 400,
    ConfirmFailure.TOTP_THROTTLED: 429,
    ConfirmFailure.RESET_OUTDATED: 409,
}


def confirm_error(exc: ConfirmRejected) -> ApiError:
    status, code = _STATUS[exc.failure], exc.failure.value
    if exc.attempts_left is None:
        return ApiError(status, code, CONFIRM_MESSAGES[exc.failure])
    message = CONFIRM_MESSAGES[exc.failure]
    return ApiError(status, code, message, attempts_left=exc.attempts_left)


def password_error(exc: PasswordRejected) -> ApiError:
    return ApiError(422, "password_rejected", str(exc), reason=exc.reason)


def unavailable(_: IdentityUnavailable) -> ApiError:
    return ApiError(
        503, "service_unavailable", "try again in a moment", headers={"Retry-After": "5"}
    )


def rate_limited(exc: RateLimited) -> ApiError:
    # Says nothing about any account: only this client sent too many requests.
    return ApiError(
        429,
        "rate_limited",
        "too many requests from your network; try again later",
        headers={"Retry-After": str(exc.retry_after_seconds)},
        retry_after_seconds=exc.retry_after_seconds,
    )
