"""What identity's use cases need from outside besides the database: the password hasher, the
box that encrypts TOTP secrets, and the reset service. ``adapters`` implements each one;
``tests/unit/fakes.py`` has in-memory stand-ins."""

from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from typing import Protocol
from uuid import UUID

from identity_service.domain.support import Caller, OpenResetRequest

# Seconds since the epoch (time.time); injected so tests can move time on.
Clock = Callable[[], float]


class PasswordHashing(Protocol):
    """argon2id in two lanes. Logins and registrations share one whose queue is bounded:
    ``shared_slot`` raises HashingBusy when it is full. A password change for a reset has a lane
    of its own (``hash_for_change``), so no flood of logins can starve it."""

    def shared_slot(self) -> AbstractAsyncContextManager[None]:
        """A place in the shared lane's queue, or HashingBusy."""
        ...

    async def verify(self, stored_hash: str, password: str) -> tuple[bool, bool]:
        """(matches, needs rehash); inside shared_slot()."""
        ...

    async def hash(self, password: str) -> str:
        """A new hash in the shared lane; inside shared_slot()."""
        ...

    async def hash_for_change(self, password: str) -> str:
        """A new hash in the password-change lane."""
        ...

    def hash_now(self, password: str) -> str:
        """On the caller's thread: start-up work only."""
        ...


class SecretBox(Protocol):
    """Encrypts TOTP secrets at rest, bound to ``context`` (the account id)."""

    def encrypt(self, plaintext: str, *, context: str) -> bytes: ...

    def decrypt(self, blob: bytes, *, context: str) -> str: ...


class ResetUnavailable(Exception):
    """The reset service did not start a reset (unreachable, or it refused)."""


class ResetStarter(Protocol):
    """The reset service's internal API: a fresh reset for "This wasn't me"."""

    async def start_reset(self, email: str, locale: str | None = None) -> str:
        """The verification code of the new reset request (its email in ``locale``), or
        ResetUnavailable."""
        ...


class ResetRequestsAdmin(Protocol):
    """The reset service's internal API, for support: an account's open reset requests."""

    async def open_requests(self, account_id: UUID) -> list[OpenResetRequest]:
        """Never a link, code or hash; ResetUnavailable."""
        ...

    async def cancel_open(self, account_id: UUID) -> int:
        """Revoke every open request of the account: how many; ResetUnavailable."""
        ...


class AdminTokens(Protocol):
    """Checks the admin API's bearer tokens (the company identity provider's JWTs, or the
    development token): who is calling, with which roles."""

    async def caller(self, token: str) -> Caller:
        """AdminTokenRejected; AdminAuthUnavailable when the provider's keys cannot be had."""
        ...
