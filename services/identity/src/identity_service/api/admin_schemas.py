"""Request and response bodies of identity's admin API (support staff): counts, times and ids,
never a secret, a hash or a token."""

from datetime import datetime
from typing import Annotated
from uuid import UUID

from pydantic import BaseModel, Field

from identity_service.api.schemas import Email, Strict
from identity_service.domain.support import (
    MAX_REASON_CHARS,
    AuditRecord,
    OpenResetRequest,
    SecurityChange,
    SecurityState,
    SessionSummary,
)

# Text a person typed: no control character but tab and newlines (PostgreSQL's text refuses NUL;
# an escape sequence would be replayed to whoever reads the log in a terminal), and at least one
# character that is neither white space nor a control: what the use case keeps once it strips
# the reason (a reason of blanks is no reason; 422 either way, but the document then says which
# requests are valid).
_TYPED = r"[^\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]"
REASON_PATTERN = rf"^{_TYPED}*[^\s\x00-\x1f\x7f-\x9f]{_TYPED}*$"
Reason = Annotated[str, Field(min_length=1, max_length=MAX_REASON_CHARS, pattern=REASON_PATTERN)]


class AccountLookup(Strict):
    email: Email
    reason: Reason | None = None


class AccountFound(BaseModel):
    account_id: UUID | None = Field(description="null: no account has this address")


class ChangeReason(Strict):
    """Why support makes the change, as the audit log will say (e.g. the ticket and how the
    person's identity was checked)."""

    reason: Reason


class Session(BaseModel):
    id: UUID
    created_at: datetime
    expires_at: datetime

    @classmethod
    def of(cls, s: SessionSummary) -> "Session":
        return cls(id=s.id, created_at=s.created_at, expires_at=s.expires_at)


class ResetRequestOut(BaseModel):
    id: UUID
    created_at: datetime
    expires_at: datetime
    requires_totp: bool
    failed_attempts: int

    @classmethod
    def of(cls, r: OpenResetRequest) -> "ResetRequestOut":
        return cls(
            id=r.id,
            created_at=r.created_at,
            expires_at=r.expires_at,
            requires_totp=r.requires_totp,
            failed_attempts=r.failed_attempts,
        )


class SecurityEventOut(BaseModel):
    event: str = Field(description="password_changed, second_factor_enabled or _disabled")
    occurred_at: datetime
    undone: bool = Field(description='its "This wasn\'t me" link was used')

    @classmethod
    def of(cls, c: SecurityChange) -> "SecurityEventOut":
        return cls(event=c.kind, occurred_at=c.occurred_at, undone=c.undone)


class AuditRecordOut(BaseModel):
    id: UUID
    occurred_at: datetime
    actor: str = Field(description="the subject of the caller's token")
    role: str
    action: str
    account_id: UUID | None
    reason: str | None

    @classmethod
    def of(cls, r: AuditRecord) -> "AuditRecordOut":
        return cls(
            id=r.id,
            occurred_at=r.occurred_at,
            actor=r.actor,
            role=r.role.value,
            action=r.action.value,
            account_id=r.account_id,
            reason=r.reason,
        )


class SecurityStateOut(BaseModel):
    account_id: UUID
    email: str
    two_factor_enabled: bool
    two_factor_setup_pending: bool
    second_factor_locked: bool = Field(description="too many wrong codes in a row")
    recovery_codes_left: int
    password_changed_at: datetime | None
    active_sessions: int
    sessions: list[Session] = Field(description="the newest 20 live sessions")
    open_reset_requests: list[ResetRequestOut] | None = Field(
        description="null: the reset service could not be asked just now"
    )
    recent_security_events: list[SecurityEventOut]
    recent_support_actions: list[AuditRecordOut]

    @classmethod
    def of(cls, state: SecurityState) -> "SecurityStateOut":
        f = state.facts
        requests = state.open_reset_requests
        return cls(
            account_id=f.account_id,
            email=f.email,
            two_factor_enabled=f.two_factor_enabled,
            two_factor_setup_pending=f.two_factor_setup_pending,
            second_factor_locked=f.second_factor_locked,
            recovery_codes_left=f.recovery_codes_left,
            password_changed_at=f.password_changed_at,
            active_sessions=f.live_sessions,
            sessions=[Session.of(s) for s in f.sessions],
            open_reset_requests=None
            if requests is None
            else [ResetRequestOut.of(r) for r in requests],
            recent_security_events=[SecurityEventOut.of(c) for c in f.recent_changes],
            recent_support_actions=[AuditRecordOut.of(r) for r in state.recent_support_actions],
        )


class Done(BaseModel):
    audit_id: UUID = Field(description="the audit record of this action")


class ResetRequestsCancelled(Done):
    cancelled: int


class AuditPageOut(BaseModel):
    records: list[AuditRecordOut]
    next_before: int | None = Field(description="pass as `before` for the next (older) page")
