"""In-memory fakes of the reset service's ports, as cosmicpython's FakeRepository and
FakeUnitOfWork, for unit tests of every use case without PostgreSQL or identity.

``FakeDatabase`` keeps the committed tables. A unit of work works on a copy of them and writes it
back on ``commit``, so a test sees exactly what a use case committed, and what it rolled back is
gone, as in PostgreSQL; the request intake writes in one step, as its one statement does. Every
call a use case makes through the ports is logged by name, in order (``FakeDatabase.calls``),
to compare the paths known and unknown emails take.
"""

import copy
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self
from urllib.parse import parse_qs, urlsplit
from uuid import UUID

from pwreset_contracts import ResetRequestedV1, cloudevents_kafka
from pwreset_contracts.cloudevents_kafka import KafkaRecord
from pwreset_contracts.emails import normalise_email
from pwreset_contracts.sealed import KeyRing, open_sealed
from reset_service.domain.pending_email import PendingEmail
from reset_service.domain.rate_limits import Decision, Limit, RequestLimits
from reset_service.domain.reset_request import ResetRequest
from reset_service.service_layer.identity import (
    IdentityUnavailable,
    KnownAccount,
    PasswordRejected,
    SecondFactor,
    TotpInvalid,
    TwoFactorOff,
)
from reset_service.service_layer.password_resets import PasswordResets, ResetPolicy
from reset_service.service_layer.repositories import DueAccount, NewRequest

HASH_KEYS = KeyRing.parse(f"h1:{'A' * 43}")
SEAL_KEYS = KeyRing.parse(f"s1:{'B' * 43}")
ORIGIN = "https://accounts.example.com"
TTL = timedelta(minutes=30)
WINDOW = timedelta(minutes=15)
MAX_ATTEMPTS = 5


@dataclass(frozen=True)
class Hit:
    scope: str
    subject: bytes
    at: datetime


@dataclass
class Tables:
    requests: dict[UUID, ResetRequest] = field(default_factory=dict)
    hits: list[Hit] = field(default_factory=list)
    outbox: list[tuple[UUID, KafkaRecord]] = field(default_factory=list)
    deferred: dict[UUID, tuple[PendingEmail, datetime]] = field(default_factory=dict)

    def copy(self) -> "Tables":
        """A copy to change apart from this one (only requests are changed in place)."""
        return Tables(
            requests={id_: copy.copy(r) for id_, r in self.requests.items()},
            hits=list(self.hits),
            outbox=list(self.outbox),
            deferred=dict(self.deferred),
        )


def take_limit(tables: Tables, limit: Limit, now: datetime) -> Decision:
    """Count one hit of ``limit`` if ``Limit.decide`` finds room (rate_limit_take in SQL)."""
    since = now - limit.window
    in_window = [
        h.at
        for h in tables.hits
        if h.scope == limit.scope and h.subject == limit.subject and h.at > since
    ]
    decision = limit.decide(len(in_window), min(in_window, default=None), now)
    if decision.allowed:
        tables.hits.append(Hit(limit.scope, limit.subject, now))
    return decision


def newest_open(
    tables: Tables, account_id: UUID, created_after: datetime, now: datetime
) -> ResetRequest | None:
    candidates = [
        r
        for r in tables.requests.values()
        if r.account_id == account_id
        and r.used_at is None
        and r.revoked_at is None
        and r.created_at > created_after
        and r.expires_at > now
    ]
    return max(candidates, key=lambda r: r.created_at, default=None)


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **kwargs: float) -> None:
        self.now += timedelta(**kwargs)


class FakeDatabase:
    def __init__(self, clock: Clock) -> None:
        self.tables = Tables()
        self.calls: list[str] = []
        self.issued: list[NewRequest] = []  # what the request intake was given, in order
        self.clock = clock  # the database's own now() (pruning uses it, as PostgreSQL's)
        self.intake = FakeRequestIntake(self)

    def unit_of_work(self) -> "FakeUnitOfWork":
        return FakeUnitOfWork(self)


class FakeRequestIntake:
    """``issue_reset_request`` in memory: one atomic step on the committed tables."""

    def __init__(self, db: FakeDatabase) -> None:
        self._db = db

    async def issue(self, new: NewRequest, *, keep: bool) -> Decision:
        self._db.calls.append(f"intake.issue(keep={keep})")
        self._db.issued.append(new)
        tables = self._db.tables.copy()
        if new.by_ip is not None:
            by_ip = take_limit(tables, new.by_ip, new.now)
            if not by_ip.allowed:
                return by_ip  # nothing written: the copy is dropped
        by_account = take_limit(tables, new.by_account, new.now)
        only_the_hits = tables.copy()

        account_id = new.request.account_id
        replaced = newest_open(tables, account_id, new.takes_over_after, new.now)
        for r in tables.requests.values():
            if r.account_id == account_id and r.used_at is None and r.revoked_at is None:
                r.revoked_at = new.now
        request = new.request.taking_over(replaced)
        tables.requests[request.id] = copy.copy(request)
        if by_account.allowed:
            tables.outbox.append((new.event_id, new.record))
            tables.deferred.pop(account_id, None)
        else:
            email = PendingEmail(
                account_id, request.id, new.event_id, new.by_account.subject, new.record
            )
            due_at = new.now + timedelta(seconds=by_account.retry_after_seconds)
            waiting = tables.deferred.get(account_id)
            tables.deferred[account_id] = (email, min(due_at, waiting[1]) if waiting else due_at)
        self._db.tables = tables if keep else only_the_hits
        return Decision(True)


class _Repository:
    def __init__(self, uow: "FakeUnitOfWork", name: str) -> None:
        self._uow = uow
        self._name = name

    def _call(self, method: str) -> Tables:
        self._uow.db.calls.append(f"{self._name}.{method}")
        return self._uow.tables


class FakeRequests(_Repository):
    async def revoke_open(self, account_id: UUID, now: datetime) -> None:
        for r in self._call("revoke_open").requests.values():
            if r.account_id == account_id and r.used_at is None and r.revoked_at is None:
                r.revoked_at = now

    async def open_of(self, account_id: UUID, now: datetime) -> list[ResetRequest]:
        found = [
            copy.copy(r)
            for r in self._call("open_of").requests.values()
            if r.account_id == account_id and r.is_open(now)
        ]
        return sorted(found, key=lambda r: r.created_at, reverse=True)

    async def cancel_open(self, account_id: UUID, now: datetime) -> int:
        cancelled = 0
        for r in self._call("cancel_open").requests.values():
            if r.account_id == account_id and r.is_open(now):
                r.revoked_at = now
                cancelled += 1
        return cancelled

    async def get(self, request_id: UUID) -> ResetRequest | None:
        return copy.copy(self._call("get").requests.get(request_id))

    async def get_by_token(self, token_hashes: Sequence[bytes]) -> ResetRequest | None:
        return self._by_token(self._call("get_by_token"), token_hashes)

    async def lock_by_token(self, token_hashes: Sequence[bytes]) -> ResetRequest | None:
        return self._by_token(self._call("lock_by_token"), token_hashes)

    async def count_failed_attempt(self, request_id: UUID) -> int:
        request = self._call("count_failed_attempt").requests[request_id]
        request.failed_attempts += 1
        return request.failed_attempts

    async def mark_used(self, request_id: UUID, now: datetime) -> None:
        self._call("mark_used").requests[request_id].used_at = now

    @staticmethod
    def _by_token(tables: Tables, token_hashes: Sequence[bytes]) -> ResetRequest | None:
        found = [r for r in tables.requests.values() if r.token_hash in token_hashes]
        return copy.copy(found[0]) if found else None


class FakeRateLimits(_Repository):
    async def lock(self, limit: Limit) -> None:
        self._call(f"lock:{limit.scope}")

    async def take(self, limit: Limit, now: datetime) -> Decision:
        return take_limit(self._call(f"take:{limit.scope}"), limit, now)

    async def prune(self, window: timedelta) -> None:
        tables = self._call("prune")
        cutoff = self._uow.db.clock() - window
        tables.hits = [h for h in tables.hits if h.at >= cutoff]


class FakeOutbox(_Repository):
    async def add(self, event_id: UUID, record: KafkaRecord) -> None:
        self._call("add").outbox.append((event_id, record))


class FakeDeferredEmails(_Repository):
    async def cancel(self, account_id: UUID) -> None:
        self._call("cancel").deferred.pop(account_id, None)

    async def due_accounts(self, now: datetime, batch: int) -> list[DueAccount]:
        due = sorted(
            (due_at, email)
            for email, due_at in self._call("due_accounts").deferred.values()
            if due_at <= now
        )
        return [DueAccount(email.account_id, email.limit_subject) for _, email in due[:batch]]

    async def due(self, account_id: UUID, now: datetime) -> PendingEmail | None:
        waiting = self._call("due").deferred.get(account_id)
        return waiting[0] if waiting and waiting[1] <= now else None

    async def postpone(self, account_id: UUID, due_at: datetime) -> None:
        tables = self._call("postpone")
        email, _ = tables.deferred[account_id]
        tables.deferred[account_id] = (email, due_at)


class FakeUnitOfWork:
    def __init__(self, db: FakeDatabase) -> None:
        self.db = db
        self._tables: Tables | None = None
        self.requests = FakeRequests(self, "requests")
        self.rate_limits = FakeRateLimits(self, "rate_limits")
        self.outbox = FakeOutbox(self, "outbox")
        self.deferred_emails = FakeDeferredEmails(self, "deferred_emails")

    @property
    def tables(self) -> Tables:
        # Like a connection whose transaction ended: nothing may be written through it.
        if self._tables is None:
            raise AssertionError("the unit of work is not open")
        return self._tables

    @tables.setter
    def tables(self, tables: Tables) -> None:
        self._tables = tables

    async def __aenter__(self) -> Self:
        self._tables = self.db.tables.copy()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.rollback()

    async def commit(self) -> None:
        self.db.calls.append("commit")
        self.db.tables, self._tables = self.tables, None

    async def rollback(self) -> None:
        if self._tables is not None:
            self.db.calls.append("rollback")
            self._tables = None


@dataclass
class PasswordChange:
    account_id: UUID
    password: str
    second_factor: SecondFactor | None
    client_ip: str | None


@dataclass
class FakeIdentity:
    accounts: dict[str, KnownAccount] = field(default_factory=dict)
    changes: list[PasswordChange] = field(default_factory=list)
    valid_totp: str = "123456"
    totp_throttled: bool = False
    rejects_password: str | None = None  # the reason identity's policy gives, if it refuses
    unavailable: bool = False
    languages_set: list[str | None] = field(default_factory=list)  # as passed, per call
    rejected_limit: int | None = 15  # the length bound a too_short or too_long refusal names

    def add(self, email: str, *, totp: bool = False) -> KnownAccount:
        account = KnownAccount(uuid.uuid4(), totp, email)
        self.accounts[normalise_email(email)] = account
        return account

    def remove_two_factor(self, account: KnownAccount) -> None:
        """What support's remove-2fa does to the account identity holds."""
        self.accounts[normalise_email(account.email)] = replace(account, totp_enabled=False)

    async def lookup(self, email: str) -> KnownAccount | None:
        """As identity does: matched by the one normalisation, the stored address returned."""
        if self.unavailable:
            raise IdentityUnavailable("down")
        return self.accounts.get(normalise_email(email))

    async def set_password(
        self,
        account_id: UUID,
        password: str,
        second_factor: SecondFactor | None,
        client_ip: str | None,
        language: str | None = None,
    ) -> None:
        self.languages_set.append(language)
        if self.unavailable:
            raise IdentityUnavailable("down")
        if second_factor is not None:
            # As identity: a second factor for an account that no longer has two-factor is
            # refused as such, before any code is looked at.
            (account,) = [a for a in self.accounts.values() if a.account_id == account_id]
            if not account.totp_enabled:
                raise TwoFactorOff
            if self.totp_throttled:
                raise TotpInvalid(throttled=True)
            if second_factor.totp_code != self.valid_totp:
                raise TotpInvalid
        if self.rejects_password is not None:
            raise PasswordRejected(self.rejects_password, "refused", self.rejected_limit)
        self.changes.append(PasswordChange(account_id, password, second_factor, client_ip))


def policy(
    *,
    account_max: int = 3,
    ip_max: int = 20,
    link_misses_max: int = 10,
    hash_keys: KeyRing = HASH_KEYS,
) -> ResetPolicy:
    return ResetPolicy(
        hash_keys=hash_keys,
        seal_keys=SEAL_KEYS,
        public_origin=ORIGIN,
        ttl=TTL,
        max_attempts=MAX_ATTEMPTS,
        limits=RequestLimits(account_max, ip_max, WINDOW, link_misses_max),
    )


def password_resets(
    db: FakeDatabase, identity: FakeIdentity, clock: Clock, reset_policy: ResetPolicy
) -> PasswordResets:
    return PasswordResets.build(db.unit_of_work, db.intake, identity, reset_policy, clock)


@dataclass(frozen=True)
class Email:
    """A ResetRequested record as the notifier would read it: recipient and opened link."""

    event_id: UUID
    account_id: UUID
    recipient: str
    token: str


def emails(db: FakeDatabase) -> list[Email]:
    """The reset emails in the committed outbox, oldest first."""
    found = []
    for event_id, record in db.tables.outbox:
        event = cloudevents_kafka.decode(record.headers, record.value).data
        assert isinstance(event, ResetRequestedV1)
        link = open_sealed(
            event.sealed_link,
            keys={SEAL_KEYS.current_id: SEAL_KEYS.current},
            associated_data=event.link_binding(),
        )
        token = parse_qs(urlsplit(link).query)["token"][0]
        found.append(Email(event_id, event.account_id, event.email, token))
    return found


def emailed_token(db: FakeDatabase, account: KnownAccount) -> str:
    """The link token of the account's newest email."""
    tokens = [e.token for e in emails(db) if e.account_id == account.account_id]
    assert tokens, "no email for the account"
    return tokens[-1]
