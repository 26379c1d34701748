"""Sessions: written only for the credentials a login verified, ended all at once when the
account holder asks (or the password changes)."""

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from uuid import UUID

from identity_service.domain import sessions
from identity_service.domain.accounts import Account
from identity_service.domain.sessions import NewSession
from identity_service.service_layer.unit_of_work import UnitOfWorkFactory


class Sessions:
    def __init__(self, uow: UnitOfWorkFactory, ttl: timedelta, now: Callable[[], datetime]) -> None:
        self._uow = uow
        self._ttl = ttl
        self._now = now

    async def start(self, account: Account) -> str | None:
        """A session token for ``account`` as it was read when its login was checked; None if
        its credentials changed (or every session was signed out) since: what that login
        verified is no longer the account's."""
        token = sessions.new_session_token()
        session = NewSession(
            id=uuid.uuid4(),
            account_id=account.id,
            token_hash=sessions.token_digest(token),
            expires_at=self._now() + self._ttl,
            credentials_epoch=account.credentials_epoch,
        )
        async with self._uow() as uow:
            written = await uow.sessions.add(session)
            await uow.commit()
        return token if written else None

    async def account_of(self, token: str) -> UUID | None:
        async with self._uow() as uow:
            return await uow.sessions.account_of(sessions.token_digest(token), self._now())

    async def end(self, token: str) -> bool:
        """Sign out this session only (the person's other devices stay signed in); False if
        it was not live."""
        async with self._uow() as uow:
            ended = await uow.sessions.revoke(sessions.token_digest(token))
            await uow.commit()
        return ended

    async def sign_out_everywhere(self, account_id: UUID) -> None:
        """Every session ends, and so does every login in flight (the epoch moves on)."""
        async with self._uow() as uow:
            await uow.accounts.bump_credentials_epoch(account_id)
            await uow.sessions.revoke_all(account_id)
            await uow.commit()
