""" "This wasn't me": the link in every security-change email. Used once, it signs the account
out everywhere (logins in flight included), turns off two-factor that somebody else turned on,
and starts a fresh password reset through the reset service."""

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from identity_service import security_events
from identity_service.domain import undo_links
from identity_service.domain.accounts import Account
from identity_service.domain.undo_links import UndoKind
from identity_service.security_events import SecurityEvent
from identity_service.service_layer.ports import ResetStarter, ResetUnavailable
from identity_service.service_layer.sessions import Sessions
from identity_service.service_layer.two_factor import turn_off
from identity_service.service_layer.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True)
class UndoDone:
    account: Account
    kind: UndoKind
    # The fresh reset's code; None when the reset service could not start one (the person is
    # signed out already and can still ask for a reset).
    verification_code: str | None


class Undo:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        sessions: Sessions,
        resets: ResetStarter,
        now: Callable[[], datetime],
    ) -> None:
        self._uow = uow
        self._sessions = sessions
        self._resets = resets
        self._now = now

    async def kind(self, token: str) -> UndoKind | None:
        """What the link would undo, if it still works (nothing is used up)."""
        async with self._uow() as uow:
            return await uow.undo_tokens.kind_of(undo_links.token_digest(token), self._now())

    async def this_wasnt_me(self, token: str) -> UndoDone | None:
        """Undo what the link was sent for, once; None if it is unknown, used or expired."""
        async with self._uow() as uow:
            used = await uow.undo_tokens.use(undo_links.token_digest(token), self._now())
            await uow.commit()
        if used is None:
            return None
        account_id, kind = used
        if kind == "second_factor_enabled":
            async with self._uow() as uow:
                turned_off = await turn_off(uow, account_id, None)
                await uow.commit()
            if turned_off:
                security_events.record(
                    SecurityEvent.SECOND_FACTOR_DISABLED,
                    account_id=account_id,
                    cause="this_wasnt_me",
                )
        await self._sessions.sign_out_everywhere(account_id)
        security_events.record(
            SecurityEvent.SESSIONS_REVOKED, account_id=account_id, cause="this_wasnt_me"
        )
        async with self._uow() as uow:
            account = await uow.accounts.by_id(account_id)
        if account is None:
            return None
        try:
            # The fresh reset's email in the account's language.
            code: str | None = await self._resets.start_reset(account.email, account.locale)
        except ResetUnavailable:
            code = None
        return UndoDone(account, kind, code)
