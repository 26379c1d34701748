"""The identity port: what the reset use cases ask of identity's internal API.

``adapters/identity_client.py`` implements it over HTTP; unit tests use an in-memory fake. The
errors are the service layer's, so routes never import the adapter to catch them.
"""

from dataclasses import dataclass
from typing import Protocol
from uuid import UUID


class IdentityUnavailable(Exception):
    """identity did not answer usefully (down, timed out, 5xx, refused our credential)."""


class PasswordRejected(Exception):
    """identity's password policy refused the new password (``reason``: its machine code)."""

    def __init__(self, reason: str, message: str, limit: int | None = None) -> None:
        super().__init__(message)
        self.reason = reason
        self.limit = limit  # the length bound a too_short or too_long password missed


class TotpInvalid(Exception):
    """identity refused the second factor; ``throttled``: too many wrong ones lately."""

    def __init__(self, *, throttled: bool = False) -> None:
        super().__init__("second factor refused")
        self.throttled = throttled


class TwoFactorOff(Exception):
    """identity refused a second factor because the account no longer has two-factor: the
    reset was asked for while it was on (so it asks for no on-screen code), and it has been
    removed since. No wrong code: the person needs a new reset."""


@dataclass(frozen=True)
class SecondFactor:
    """An authenticator code or a recovery code, passed through to identity to check."""

    totp_code: str | None = None
    recovery_code: str | None = None

    def __bool__(self) -> bool:
        return bool(self.totp_code or self.recovery_code)


@dataclass(frozen=True)
class KnownAccount:
    account_id: UUID
    totp_enabled: bool
    email: str  # the address identity stored: the only one the reset email may go to


class Identity(Protocol):
    async def lookup(self, email: str) -> KnownAccount | None:
        """The account ``email`` reaches under the platform's normalisation, if any."""
        ...

    async def set_password(
        self,
        account_id: UUID,
        password: str,
        second_factor: SecondFactor | None,
        client_ip: str | None,
        language: str | None = None,
    ) -> None:
        """Raises PasswordRejected, TotpInvalid, TwoFactorOff or IdentityUnavailable.
        ``language``: kept on the account for identity's emails (None: unchanged)."""
        ...
