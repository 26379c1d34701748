"""Accounts for addresses taken on trust: for operators' seeding tools only
(``identity-service seed-accounts``, refused in production). People register through
Registrations, which proves the address first."""

import uuid
from dataclasses import dataclass
from uuid import UUID

from pwreset_contracts.emails import normalise_email

from identity_service.domain.accounts import EmailTaken
from identity_service.domain.passwords import PasswordPolicy, check_password
from identity_service.service_layer.ports import PasswordHashing
from identity_service.service_layer.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True)
class SeededAccount:
    id: UUID
    created: bool  # False: the address had an account already (``id`` is that one)


class AccountSeeding:
    def __init__(
        self, uow: UnitOfWorkFactory, hashing: PasswordHashing, policy: PasswordPolicy
    ) -> None:
        self._uow = uow
        self._hashing = hashing
        self._policy = policy

    async def create(self, email: str, password: str) -> UUID:
        """A new account; PasswordRejected, EmailTaken, or ValueError for an address the
        platform does not accept."""
        password = check_password(password, email=email, totp_enabled=False, policy=self._policy)
        account_id = uuid.uuid4()
        async with self._hashing.shared_slot():
            password_hash = await self._hashing.hash(password)
        async with self._uow() as uow:
            await uow.accounts.add(account_id, email, normalise_email(email), password_hash)
            await uow.commit()
        return account_id

    async def seed(self, email: str, password: str) -> SeededAccount:
        """The address's account, created unless it has one."""
        try:
            return SeededAccount(await self.create(email, password), created=True)
        except EmailTaken:
            async with self._uow() as uow:
                existing = await uow.accounts.by_email_key(normalise_email(email))
            if existing is None:  # taken a moment ago, gone now: nothing deletes accounts
                raise
            return SeededAccount(existing.id, created=False)
