"""Every failure identity's use cases let through to a route, in one place: routes import them
from here and never from adapters (which raise the ones they detect, such as HashingBusy)."""

from datetime import timedelta

from identity_service.domain.accounts import EmailTaken
from identity_service.domain.passwords import PasswordRejected
from identity_service.domain.support import NotPermitted, ReasonRequired

__all__ = [
    "AccountNotFound",
    "AdminAuthUnavailable",
    "AdminTokenRejected",
    "AuthFailed",
    "EmailTaken",
    "HashingBusy",
    "LoginThrottled",
    "NotPermitted",
    "PasswordRejected",
    "ReasonRequired",
    "ReauthenticationFailed",
    "RegistrationLinkInvalid",
    "TotpRejected",
    "TwoFactorNotOn",
]


class AuthFailed(Exception):
    """Login refused; ``reason`` is safe to return to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class ReauthenticationFailed(Exception):
    """The password entered again to confirm a security change was wrong."""


class AccountNotFound(Exception):
    pass


class TotpRejected(Exception):
    """A second factor was missing, wrong, throttled after too many failures in the window, or
    locked after too many in a row (then only a recovery code, or support, gets past it)."""

    def __init__(self, message: str, *, throttled: bool = False, locked: bool = False) -> None:
        super().__init__(message)
        self.throttled = throttled or locked
        self.locked = locked

    @property
    def reason(self) -> str:
        if self.locked:
            return "account_locked"
        return "totp_throttled" if self.throttled else "totp_invalid"


class LoginThrottled(Exception):
    """Too many failed logins for this account or address; ``retry_after_seconds`` says when."""

    def __init__(self, retry_after: timedelta) -> None:
        super().__init__("too many failed attempts")
        self.retry_after_seconds = max(1, int(-(-retry_after.total_seconds() // 1)))


class HashingBusy(Exception):
    """The shared hashing lane is full; try again in a moment."""

    retry_after_seconds = 1


class RegistrationLinkInvalid(Exception):
    """The verification link matches no usable request (unknown, used, expired or taken)."""


class AdminTokenRejected(Exception):
    """The admin API's bearer token is missing, malformed, badly signed, expired, or names the
    wrong issuer or audience; ``reason`` says which (for the caller and the log, never the
    token)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AdminAuthUnavailable(Exception):
    """The identity provider's keys could not be fetched, and none are cached: try later."""

    retry_after_seconds = 5


class TwoFactorNotOn(Exception):
    """The account has no two-factor authentication: support asked to remove it, or a reset's
    confirmation brought a second factor (the reset was asked for while it was on)."""
