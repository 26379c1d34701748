"""Repository ports: what identity's use cases read and write, named by what it means. Each
works inside the transaction of the unit of work that holds it (unit_of_work.py), except the
account lookups and the failed-login counters, whose every call is a transaction of its own; the
asyncpg
implementations are in ``adapters``, in-memory ones in ``tests/unit/fakes.py``.

The guarded writes (``claim_totp_step``, ``reserve_second_factor_attempt``, the ``enable`` and
``disable`` of two-factor, ``SessionRepository.add``) decide in the database, in one statement,
so that requests side by side cannot both pass a check made in between.
"""

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from pwreset_contracts.cloudevents_kafka import KafkaRecord

from identity_service.domain.accounts import Account
from identity_service.domain.login_throttle import ThrottleRule, Verdict
from identity_service.domain.registrations import PendingRegistration, VerifiedRegistration
from identity_service.domain.second_factor import AttemptLimits, SecondFactorReservation
from identity_service.domain.sessions import NewSession
from identity_service.domain.support import AuditRecord, SecurityChange, SessionSummary
from identity_service.domain.undo_links import UndoKind


class AccountRepository(Protocol):
    async def add(self, account_id: UUID, email: str, email_key: str, password_hash: str) -> None:
        """``email`` as the person gave it (mail goes there), ``email_key`` its
        ``normalise_email`` form; EmailTaken if that key has an account (one per mailbox)."""
        ...

    async def add_if_absent(
        self, account_id: UUID, email: str, email_key: str, password_hash: str
    ) -> bool:
        """As ``add``, but False instead of EmailTaken (the transaction stays usable)."""
        ...

    async def by_email_key(self, email_key: str) -> Account | None: ...

    async def by_id(self, account_id: UUID) -> Account | None: ...

    async def store_pending_totp(self, account_id: UUID, secret_enc: bytes) -> None:
        """Keep a new secret for an authenticator being set up (not while two-factor is on)."""
        ...

    async def claim_totp_step(self, account_id: UUID, step: int) -> bool:
        """Record a TOTP step as used and clear the failure counts; False if it (or a later one)
        was used already."""
        ...

    async def reserve_second_factor_attempt(
        self, account_id: UUID, now: datetime, limits: AttemptLimits, *, recovery_code: bool
    ) -> SecondFactorReservation:
        """Count an attempt as a failure before its code is checked
        (domain.second_factor.reserve_attempt), in one statement."""
        ...

    async def enable_second_factor(self, account_id: UUID, step: int, secret_enc: bytes) -> bool:
        """Turn two-factor on with the pending secret ``secret_enc`` (the one the code was
        checked against), claiming the code's step; the epoch moves on. False if it was on
        already, another secret is pending now, or the step was used."""
        ...

    async def disable_second_factor(self, account_id: UUID) -> bool:
        """Two-factor off, secret and counts gone, the epoch moves on. False if it was off."""
        ...

    async def change_password(
        self, account_id: UUID, password_hash: str, locale: str | None = None
    ) -> None:
        """The new hash; the epoch moves on, so no login that checked the old one ends in a
        session. ``locale``: the account's language from now on (None: unchanged)."""
        ...

    async def bump_credentials_epoch(self, account_id: UUID) -> None:
        """Void every login in flight (sign-out-everywhere)."""
        ...

    async def upgrade_hash(self, account_id: UUID, old_hash: str, new_hash: str) -> None:
        """Only if the hash is still ``old_hash``: a concurrent reset wins over a rehash."""
        ...


class AccountReads(Protocol):
    """Accounts looked up outside any unit of work: one statement each, which the database runs
    as a transaction of its own (a lookup inside a unit of work cost a BEGIN and a ROLLBACK
    besides). For the account a step starts from: whatever the step then writes is decided again
    in its own unit of work (a session only for the credentials it checked, and so on)."""

    async def by_email_key(self, email_key: str) -> Account | None: ...

    async def by_id(self, account_id: UUID) -> Account | None: ...


class RecoveryCodeRepository(Protocol):
    async def replace(self, account_id: UUID, code_hashes: list[bytes]) -> None: ...

    async def delete_all(self, account_id: UUID) -> None: ...

    async def use(self, account_id: UUID, code_hash: bytes) -> bool:
        """Mark an unused code used and clear the account's failure counts; False if there is
        no such unused code."""
        ...


class SessionRepository(Protocol):
    async def add(self, session: NewSession) -> bool:
        """Write the session only if the account is still at ``session.credentials_epoch``
        (compare-and-set, ordered against a concurrent change of credentials)."""
        ...

    async def account_of(self, token_hash: bytes, now: datetime) -> UUID | None:
        """The account of a live (unrevoked, unexpired) session."""
        ...

    async def revoke_all(self, account_id: UUID) -> None: ...

    async def revoke(self, token_hash: bytes) -> bool:
        """End one live session; False if none was live under this token."""
        ...


class UndoTokenRepository(Protocol):
    async def add(
        self, token_hash: bytes, account_id: UUID, expires_at: datetime, kind: UndoKind
    ) -> None: ...

    async def kind_of(self, token_hash: bytes, now: datetime) -> UndoKind | None:
        """What an unused, unexpired token undoes, without using it."""
        ...

    async def use(self, token_hash: bytes, now: datetime) -> tuple[UUID, UndoKind] | None:
        """Mark an unused, unexpired token used: its account and what it undoes."""
        ...


class LoginThrottleRepository(Protocol):
    """Failed-login counters, one per scope key. Not part of a unit of work: each call is one
    atomic step of its own, committed when it returns, so an attempt is counted (and seen by
    every other attempt) before its password is checked. Attempts on the same keys are decided
    one after the other, however many arrive at once. The rules are domain.login_throttle's."""

    async def reserve(
        self,
        rules: tuple[ThrottleRule, ...],
        keys: tuple[bytes, ...],
        now: datetime,
        forget_after: timedelta,
    ) -> Verdict:
        """``reserve`` of domain.login_throttle on the stored counters (zero for new keys):
        counted on every scope, or on none when one is blocked."""
        ...

    async def give_back(
        self, rules: tuple[ThrottleRule, ...], keys: tuple[bytes, ...], clear: tuple[bool, ...]
    ) -> None:
        """``give_back`` of domain.login_throttle on the stored counters."""
        ...

    async def prune(self, now: datetime, forget_before: datetime) -> int:
        """Forget counters that count as zero anyway (last failure before ``forget_before``,
        no delay running at ``now``); how many."""
        ...


class RegistrationRepository(Protocol):
    async def add(self, pending: PendingRegistration) -> None: ...

    async def use(self, token_hash: bytes, now: datetime) -> VerifiedRegistration | None:
        """Mark an unused, unexpired request with this token used."""
        ...

    async def prune(self, now: datetime) -> int:
        """Delete requests past their lifetime (their hashes are kept no longer); how many."""
        ...


class Outbox(Protocol):
    async def add(self, event_id: UUID, record: KafkaRecord) -> None:
        """Published to Kafka by the relay once the unit of work commits (never before)."""
        ...


@dataclass(frozen=True)
class AuditPage:
    """Audit records, newest first; ``next_before`` continues the list (None: no more)."""

    records: tuple[AuditRecord, ...]
    next_before: int | None


class AuditRepository(Protocol):
    """The admin API's audit log: append-only (the table refuses UPDATE and DELETE)."""

    async def add(self, record: AuditRecord) -> None: ...

    async def page(self, account_id: UUID | None, before: int | None, limit: int) -> AuditPage:
        """Newest first, older than the cursor ``before``; one account's or everyone's."""
        ...


class SecurityReads(Protocol):
    """What support may see of an account's security, besides the account row: no secret,
    no hash, no token."""

    async def recovery_codes_left(self, account_id: UUID) -> int: ...

    async def password_changed_at(self, account_id: UUID) -> datetime | None: ...

    async def live_sessions(
        self, account_id: UUID, now: datetime, limit: int
    ) -> tuple[list[SessionSummary], int]:
        """The newest ``limit`` live sessions, and how many are live in all."""
        ...

    async def recent_changes(self, account_id: UUID, limit: int) -> list[SecurityChange]:
        """Security changes the holder was emailed about, newest first."""
        ...
