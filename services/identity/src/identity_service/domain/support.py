"""Support staff and what they may do: roles from the company's identity provider, the actions
of the admin API, and the audit record every action leaves.

Pure rules, no I/O: who may do what is decided here, so a route cannot forget it.
"""

import enum
from dataclasses import dataclass
from datetime import datetime
from uuid import UUID

MAX_REASON_CHARS = 500


class Role(enum.Enum):
    """Granted by the identity provider's role claim; any other value grants nothing."""

    SUPPORT = "support"
    ADMIN = "admin"


class Action(enum.Enum):
    """What an admin-API caller does; each is written to the audit log."""

    ACCOUNT_LOOKED_UP = "account_looked_up"
    SECURITY_STATE_VIEWED = "security_state_viewed"
    TWO_FACTOR_REMOVED = "two_factor_removed"
    SIGNED_OUT_EVERYWHERE = "signed_out_everywhere"
    RESET_REQUESTS_CANCELLED = "reset_requests_cancelled"
    AUDIT_LOG_READ = "audit_log_read"


# Support staff help people; reading what support staff did is for admins (who audit them).
_ALLOWED: dict[Role, frozenset[Action]] = {
    Role.SUPPORT: frozenset(Action) - {Action.AUDIT_LOG_READ},
    Role.ADMIN: frozenset(Action),
}
# Changes need a reason in the record; a look at an account may give one.
REASON_REQUIRED = frozenset(
    {Action.TWO_FACTOR_REMOVED, Action.SIGNED_OUT_EVERYWHERE, Action.RESET_REQUESTS_CANCELLED}
)


class NotPermitted(Exception):
    """The caller's roles do not allow the action."""


class ReasonRequired(Exception):
    """A change was asked for without a reason (the audit log must say why)."""


@dataclass(frozen=True)
class Caller:
    """Who called the admin API, as the verified token says: its subject and granted roles."""

    subject: str
    roles: frozenset[Role]

    def role_for(self, action: Action) -> Role:
        """The role the action is done under (the strongest the caller holds that allows it),
        or NotPermitted."""
        for role in (Role.ADMIN, Role.SUPPORT):
            if role in self.roles and action in _ALLOWED[role]:
                return role
        raise NotPermitted(action.value)


def roles_from_claim(value: object) -> frozenset[Role]:
    """The roles a claim grants: a string or a list of strings; unknown values are ignored."""
    names = [value] if isinstance(value, str) else value if isinstance(value, list) else []
    known = {role.value: role for role in Role}
    return frozenset(known[name] for name in names if isinstance(name, str) and name in known)


def checked_reason(action: Action, reason: str | None) -> str | None:
    text = (reason or "").strip()
    if action in REASON_REQUIRED and not text:
        raise ReasonRequired(action.value)
    return text[:MAX_REASON_CHARS] or None


@dataclass(frozen=True)
class AuditRecord:
    """One admin action: who (the token's subject and the role used), what, on which account,
    why and when. Written in the transaction of the change it records."""

    id: UUID
    occurred_at: datetime
    actor: str
    role: Role
    action: Action
    account_id: UUID | None
    reason: str | None


@dataclass(frozen=True)
class SessionSummary:
    """A live session as support sees it: never its token or the token's hash."""

    id: UUID
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class OpenResetRequest:
    """An open reset request, as the reset service reports it: never its link, code or hash."""

    id: UUID
    created_at: datetime
    expires_at: datetime
    requires_totp: bool
    failed_attempts: int


@dataclass(frozen=True)
class SecurityChange:
    """A change the account holder was told about ("This wasn't me" emails), and whether its
    link was used."""

    kind: str
    occurred_at: datetime
    undone: bool


@dataclass(frozen=True)
class SecurityFacts:
    """What identity's database says about an account's security, read in one transaction."""

    account_id: UUID
    email: str
    two_factor_enabled: bool
    two_factor_setup_pending: bool
    second_factor_locked: bool
    recovery_codes_left: int
    password_changed_at: datetime | None
    live_sessions: int  # all of them; ``sessions`` lists the newest few
    sessions: tuple[SessionSummary, ...]
    recent_changes: tuple[SecurityChange, ...]


@dataclass(frozen=True)
class SecurityState:
    facts: SecurityFacts
    # None when the reset service could not be asked (the rest is still worth showing).
    open_reset_requests: tuple[OpenResetRequest, ...] | None
    recent_support_actions: tuple[AuditRecord, ...]
