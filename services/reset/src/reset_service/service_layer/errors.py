"""Every failure the reset use cases let through to their callers, in one place.

Routes catch these (never an adapter's exception): the identity port's errors are re-exported
here beside the use cases' own.
"""

from reset_service.domain.reset_request import ConfirmFailure
from reset_service.service_layer.identity import IdentityUnavailable, PasswordRejected


class RateLimited(Exception):
    """Too many requests from one client IP (the per-account limit never shows)."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"retry after {retry_after_seconds}s")
        self.retry_after_seconds = retry_after_seconds


class ConfirmRejected(Exception):
    def __init__(self, failure: ConfirmFailure, attempts_left: int | None = None) -> None:
        super().__init__(failure.value)
        self.failure = failure
        self.attempts_left = attempts_left


__all__ = [
    "ConfirmFailure",
    "ConfirmRejected",
    "IdentityUnavailable",
    "PasswordRejected",
    "RateLimited",
]
