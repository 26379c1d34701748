"""Pydantic models of the events; each matches its JSON Schema file (a test keeps them in step)."""

from datetime import datetime
from typing import ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from pwreset_contracts.binding import (
    already_registered_binding,
    registration_link_binding,
    reset_link_binding,
    second_factor_undo_binding,
    undo_link_binding,
)


class SealedValue(BaseModel):
    """AES-256-GCM ciphertext; see ``pwreset_contracts.sealed``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    alg: Literal["A256GCM"] = "A256GCM"
    kid: str = Field(min_length=1, max_length=64)
    nonce: str
    ciphertext: str


class Event(BaseModel):
    """Base of every event's data. Unknown fields are kept, so newer producers don't break us."""

    model_config = ConfigDict(extra="allow", frozen=True)

    topic: ClassVar[str]
    ce_type: ClassVar[str]

    @classmethod
    def dataschema(cls) -> str:
        """The CloudEvents ``dataschema`` of this event: the ``$id`` of its schema (and of the
        released copy, contracts/released/<topic>.json); ``schemas_on_disk.resolve_dataschema``
        turns it back into the schema."""
        return f"urn:pwreset:events:{cls.topic}"

    def partition_key(self) -> str:
        raise NotImplementedError


class ResetRequestedV1(Event):
    topic: ClassVar[str] = "password-reset.requested.v1"
    ce_type: ClassVar[str] = "pwreset.password-reset.requested.v1"

    request_id: UUID
    account_id: UUID
    email: str = Field(max_length=320)
    locale: str = Field(default="en", max_length=35)
    requested_at: datetime
    expires_at: datetime
    sealed_link: SealedValue

    def partition_key(self) -> str:
        return str(self.account_id)

    def link_binding(self) -> str:
        """What ``sealed_link`` must have been sealed with to open for this very record."""
        return reset_link_binding(
            request_id=self.request_id, account_id=self.account_id, recipient=self.email
        )


class PasswordChangedV1(Event):
    topic: ClassVar[str] = "identity.password-changed.v1"
    ce_type: ClassVar[str] = "pwreset.identity.password-changed.v1"

    change_id: UUID
    account_id: UUID
    email: str = Field(max_length=320)
    locale: str = Field(default="en", max_length=35)
    changed_at: datetime
    method: Literal["reset"]
    client_ip: str | None = Field(default=None, max_length=45)
    sealed_undo_link: SealedValue

    def partition_key(self) -> str:
        return str(self.account_id)

    def undo_link_binding(self) -> str:
        """What ``sealed_undo_link`` must have been sealed with to open for this very record."""
        return undo_link_binding(
            change_id=self.change_id, account_id=self.account_id, recipient=self.email
        )


class SecondFactorChangedV1(Event):
    topic: ClassVar[str] = "identity.second-factor-changed.v1"
    ce_type: ClassVar[str] = "pwreset.identity.second-factor-changed.v1"

    change_id: UUID
    account_id: UUID
    email: str = Field(max_length=320)
    locale: str = Field(default="en", max_length=35)
    changed_at: datetime
    change: Literal["enabled", "disabled"]
    actor: Literal["account_holder", "support"] = "account_holder"
    client_ip: str | None = Field(default=None, max_length=45)
    sealed_undo_link: SealedValue

    def partition_key(self) -> str:
        return str(self.account_id)

    def undo_link_binding(self) -> str:
        """What ``sealed_undo_link`` must have been sealed with to open for this very record."""
        return second_factor_undo_binding(
            change_id=self.change_id,
            account_id=self.account_id,
            recipient=self.email,
            change=self.change,
            actor=self.actor,
            changed_at=self.changed_at,
            locale=self.locale,
        )


class RegistrationRequestedV1(Event):
    topic: ClassVar[str] = "identity.registration-requested.v1"
    ce_type: ClassVar[str] = "pwreset.identity.registration-requested.v1"

    registration_id: UUID
    email: str = Field(max_length=320)
    locale: str = Field(default="en", max_length=35)
    requested_at: datetime
    expires_at: datetime
    kind: Literal["verify_address", "already_registered"]
    sealed_link: SealedValue | None = None

    def partition_key(self) -> str:
        # No account yet: requests are independent of each other, any partition will do.
        return str(self.registration_id)

    def link_binding(self) -> str:
        """What ``sealed_link`` must have been sealed with to open for this very record (each
        kind has its own binding: a seal made for one kind does not open as the other)."""
        if self.kind == "already_registered":
            return already_registered_binding(
                registration_id=self.registration_id, recipient=self.email, locale=self.locale
            )
        return registration_link_binding(registration_id=self.registration_id, recipient=self.email)


class AdminActionAuditedV1(Event):
    """One action of support staff through identity's admin API, as its audit log holds it."""

    topic: ClassVar[str] = "identity.admin-action-audited.v1"
    ce_type: ClassVar[str] = "pwreset.identity.admin-action-audited.v1"

    audit_id: UUID
    occurred_at: datetime
    actor: str = Field(min_length=1, max_length=255)
    role: Literal["support", "admin"]
    action: Literal[
        "account_looked_up",
        "security_state_viewed",
        "two_factor_removed",
        "signed_out_everywhere",
        "reset_requests_cancelled",
        "audit_log_read",
    ]
    account_id: UUID | None = None
    reason: str | None = Field(default=None, max_length=500)

    def partition_key(self) -> str:
        # The account's events stay in order; an action on no account has a key of its own.
        return str(self.account_id or self.audit_id)


_ALL: tuple[type[Event], ...] = (
    ResetRequestedV1,
    PasswordChangedV1,
    SecondFactorChangedV1,
    RegistrationRequestedV1,
    AdminActionAuditedV1,
)
EVENT_TYPES: dict[str, type[Event]] = {cls.ce_type: cls for cls in _ALL}
TOPICS: dict[str, str] = {cls.topic: cls.ce_type for cls in _ALL}
