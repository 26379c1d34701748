"""Finding accounts and checking their passwords: the steps login, re-authentication for a
security change and the reset's requests share.

A password is checked in the shared hashing lane (HashingBusy when its queue is full) and under
the failed-login limits: the attempt is counted before the check and given back when it was
right. An unknown email takes the very same steps, against a decoy hash, so neither the answer
nor the time taken tells whether an account exists.
"""

from collections.abc import Awaitable, Callable
from datetime import datetime
from uuid import UUID

from pwreset_contracts.emails import UnsupportedEmail, normalise_email

from identity_service.domain.accounts import Account
from identity_service.service_layer.errors import (
    AccountNotFound,
    HashingBusy,
    ReauthenticationFailed,
)
from identity_service.service_layer.login_throttle import LoginThrottle
from identity_service.service_layer.ports import PasswordHashing
from identity_service.service_layer.repositories import AccountReads
from identity_service.service_layer.unit_of_work import UnitOfWorkFactory


class Credentials:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        reads: AccountReads,
        hashing: PasswordHashing,
        throttle: LoginThrottle,
        now: Callable[[], datetime],
    ) -> None:
        self._uow = uow
        self._reads = reads
        self._hashing = hashing
        self._throttle = throttle
        self._now = now
        # Verified against for unknown emails, so a login takes as long whether or not they exist.
        self._decoy_hash = hashing.hash_now("decoy password that no account has")

    async def lookup(self, email: str) -> Account | None:
        """The account whose stored address has the same key as ``email`` (``account.email``
        is the stored address, the one to send to); None for an address we never accept."""
        try:
            key = normalise_email(email)
        except UnsupportedEmail:
            return None
        return await self._reads.by_email_key(key)

    async def by_id(self, account_id: UUID) -> Account | None:
        return await self._reads.by_id(account_id)

    async def require(self, account_id: UUID) -> Account:
        account = await self.by_id(account_id)
        if account is None:
            raise AccountNotFound
        return account

    async def verify_password(
        self,
        email: str,
        password: str,
        client_ip: str,
        load: Callable[[], Awaitable[Account | None]],
    ) -> tuple[Account | None, bool]:
        """(the account, whether its hash wants upgrading) if the password is right, else
        (None, False). LoginThrottled past the limits, HashingBusy when the lane is full."""
        async with self._hashing.shared_slot():
            # Counted as a failure before the password is checked: attempts sent side by side
            # cannot all slip under the limit. Unknown emails go through the same steps.
            attempt = await self._throttle.reserve(email, client_ip, self._now())
            account = await load()
            ok, needs_rehash = await self._hashing.verify(
                account.password_hash if account else self._decoy_hash, password
            )
        if account is None or not ok:
            return None, False
        await attempt.password_verified()
        return account, needs_rehash

    async def reauthenticate(self, account_id: UUID, password: str, client_ip: str) -> Account:
        """The account, once its password was entered again (under the login limits)."""
        account = await self.require(account_id)
        verified, _ = await self.verify_password(
            account.email, password, client_ip, lambda: self.by_id(account_id)
        )
        if verified is None:
            raise ReauthenticationFailed
        return verified

    async def rehash(self, account: Account, password: str) -> None:
        """Upgrade a hash made with older parameters; skipped when the lane is busy."""
        try:
            async with self._hashing.shared_slot():
                new_hash = await self._hashing.hash(password)
        except HashingBusy:
            return
        async with self._uow() as uow:
            await uow.accounts.upgrade_hash(account.id, account.password_hash, new_hash)
            await uow.commit()
