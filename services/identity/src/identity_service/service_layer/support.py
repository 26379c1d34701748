"""What support staff do for a person who lost their device, through the admin API: look the
account up, see its security state, remove two-factor authentication, sign it out everywhere,
cancel its open reset requests; admins also read the audit log.

Every action checks the caller's role first (domain.support), and leaves an audit record (who,
what, which account, why, when) with its AdminActionAudited event in the outbox, in the
transaction of the change itself: no change without its record, no record of a change that was
rolled back. The one change made elsewhere, cancelling reset requests, is recorded once the
reset service has done it.
"""

import uuid
from collections.abc import Callable
from datetime import datetime
from uuid import UUID

from pwreset_contracts import AdminActionAuditedV1
from pwreset_contracts.emails import UnsupportedEmail, normalise_email

from identity_service import security_events
from identity_service.domain.accounts import Account
from identity_service.domain.support import (
    Action,
    AuditRecord,
    Caller,
    SecurityFacts,
    SecurityState,
    checked_reason,
)
from identity_service.security_events import SecurityEvent
from identity_service.service_layer.errors import AccountNotFound, TwoFactorNotOn
from identity_service.service_layer.notices import Notices, encode_event
from identity_service.service_layer.ports import ResetRequestsAdmin, ResetUnavailable
from identity_service.service_layer.repositories import AuditPage
from identity_service.service_layer.two_factor import turn_off
from identity_service.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory

MAX_PAGE = 100
RECENT = 20


class Support:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        resets: ResetRequestsAdmin,
        notices: Notices,
        now: Callable[[], datetime],
        *,
        lockout_after: int,
    ) -> None:
        self._uow = uow
        self._resets = resets
        self._notices = notices
        self._now = now
        self._lockout_after = lockout_after

    async def _record(
        self,
        uow: UnitOfWork,
        caller: Caller,
        action: Action,
        account_id: UUID | None,
        reason: str | None,
    ) -> AuditRecord:
        """The audit row and its event, in ``uow``: committed with the change, or not at all."""
        record = AuditRecord(
            id=uuid.uuid4(),
            occurred_at=self._now(),
            actor=caller.subject,
            role=caller.role_for(action),
            action=action,
            account_id=account_id,
            reason=reason,
        )
        await uow.audit.add(record)
        await uow.outbox.add(
            *encode_event(
                AdminActionAuditedV1(
                    audit_id=record.id,
                    occurred_at=record.occurred_at,
                    actor=record.actor,
                    role=record.role.value,
                    action=record.action.value,
                    account_id=record.account_id,
                    reason=record.reason,
                )
            )
        )
        return record

    @staticmethod
    def _allowed(caller: Caller, action: Action, reason: str | None) -> str | None:
        """NotPermitted, ReasonRequired; before anything is read or written."""
        caller.role_for(action)
        return checked_reason(action, reason)

    @staticmethod
    async def _account(uow: UnitOfWork, account_id: UUID) -> Account:
        account = await uow.accounts.by_id(account_id)
        if account is None:
            raise AccountNotFound(str(account_id))
        return account

    async def find_account(self, caller: Caller, email: str, reason: str | None) -> UUID | None:
        """The account of an address (normalised as everywhere), or None."""
        reason = self._allowed(caller, Action.ACCOUNT_LOOKED_UP, reason)
        try:
            key: str | None = normalise_email(email)
        except UnsupportedEmail:
            key = None  # no account can have it
        async with self._uow() as uow:
            account = await uow.accounts.by_email_key(key) if key else None
            account_id = account.id if account else None
            await self._record(uow, caller, Action.ACCOUNT_LOOKED_UP, account_id, reason)
            await uow.commit()
        return account_id

    async def security_state(
        self, caller: Caller, account_id: UUID, reason: str | None
    ) -> SecurityState:
        reason = self._allowed(caller, Action.SECURITY_STATE_VIEWED, reason)
        now = self._now()
        async with self._uow() as uow:
            account = await self._account(uow, account_id)
            sessions, live = await uow.security.live_sessions(account_id, now, RECENT)
            facts = SecurityFacts(
                account_id=account.id,
                email=account.email,
                two_factor_enabled=account.totp_enabled,
                two_factor_setup_pending=account.totp_setup_pending,
                second_factor_locked=account.totp_consecutive_failures >= self._lockout_after,
                recovery_codes_left=await uow.security.recovery_codes_left(account_id),
                password_changed_at=await uow.security.password_changed_at(account_id),
                live_sessions=live,
                sessions=tuple(sessions),
                recent_changes=tuple(await uow.security.recent_changes(account_id, RECENT)),
            )
            history = await uow.audit.page(account_id, None, RECENT)
            await self._record(uow, caller, Action.SECURITY_STATE_VIEWED, account_id, reason)
            await uow.commit()
        try:
            open_requests = tuple(await self._resets.open_requests(account_id))
        except ResetUnavailable:
            open_requests = None
        return SecurityState(facts, open_requests, history.records)

    async def remove_two_factor(self, caller: Caller, account_id: UUID, reason: str) -> AuditRecord:
        """Two-factor off (secret and recovery codes gone) and every session signed out: the
        lost device may hold one. The person is emailed ("removed by support", with "This
        wasn't me"). TwoFactorNotOn if it was off."""
        checked = self._allowed(caller, Action.TWO_FACTOR_REMOVED, reason)
        async with self._uow() as uow:
            account = await self._account(uow, account_id)
            notice = self._notices.second_factor_changed(account, "disabled", None, "support")
            if not await turn_off(uow, account_id, notice):
                raise TwoFactorNotOn(str(account_id))
            await uow.sessions.revoke_all(account_id)
            record = await self._record(uow, caller, Action.TWO_FACTOR_REMOVED, account_id, checked)
            await uow.commit()
        security_events.record(
            SecurityEvent.SECOND_FACTOR_DISABLED, account_id=account_id, cause="support"
        )
        security_events.record(
            SecurityEvent.SESSIONS_REVOKED, account_id=account_id, cause="support"
        )
        return record

    async def sign_out_everywhere(
        self, caller: Caller, account_id: UUID, reason: str
    ) -> AuditRecord:
        """Every session ends, and every login in flight (the epoch moves on)."""
        checked = self._allowed(caller, Action.SIGNED_OUT_EVERYWHERE, reason)
        async with self._uow() as uow:
            await self._account(uow, account_id)
            await uow.accounts.bump_credentials_epoch(account_id)
            await uow.sessions.revoke_all(account_id)
            record = await self._record(
                uow, caller, Action.SIGNED_OUT_EVERYWHERE, account_id, checked
            )
            await uow.commit()
        security_events.record(
            SecurityEvent.SESSIONS_REVOKED, account_id=account_id, cause="support"
        )
        return record

    async def cancel_reset_requests(
        self, caller: Caller, account_id: UUID, reason: str
    ) -> tuple[int, AuditRecord]:
        """How many open requests the reset service revoked; ResetUnavailable (nothing is
        recorded then: nothing was done)."""
        checked = self._allowed(caller, Action.RESET_REQUESTS_CANCELLED, reason)
        async with self._uow() as uow:
            await self._account(uow, account_id)
        cancelled = await self._resets.cancel_open(account_id)
        async with self._uow() as uow:
            record = await self._record(
                uow, caller, Action.RESET_REQUESTS_CANCELLED, account_id, checked
            )
            await uow.commit()
        return cancelled, record

    async def audit_log(
        self, caller: Caller, account_id: UUID | None, before: int | None, limit: int
    ) -> AuditPage:
        """Admins only; the read itself is recorded too."""
        self._allowed(caller, Action.AUDIT_LOG_READ, None)
        async with self._uow() as uow:
            page = await uow.audit.page(account_id, before, max(1, min(limit, MAX_PAGE)))
            await self._record(uow, caller, Action.AUDIT_LOG_READ, account_id, None)
            await uow.commit()
        return page
