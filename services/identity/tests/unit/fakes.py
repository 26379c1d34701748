"""In-memory stand-ins for identity's ports, and one `World` wiring them to the real use cases.

`FakeDatabase` keeps the tables; each `FakeUnitOfWork` works on a copy of them and writes it back
only on `commit` (leaving without commit drops it), so a test sees exactly what a use case
committed, and how many times. The guarded writes (TOTP steps, the second factor's attempt
counts, the session's epoch check) keep their conditions, as the SQL does.
"""

import contextlib
import copy
import dataclasses
import uuid
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from types import TracebackType
from typing import Self
from uuid import UUID

import pyotp
from identity_service.domain.accounts import Account, EmailTaken
from identity_service.domain.login_throttle import (
    ThrottleCounter,
    ThrottleRule,
    Verdict,
    give_back,
    reserve,
)
from identity_service.domain.passwords import PasswordPolicy
from identity_service.domain.registrations import PendingRegistration, VerifiedRegistration
from identity_service.domain.second_factor import (
    AttemptLimits,
    FailureCounts,
    SecondFactorReservation,
    reserve_attempt,
)
from identity_service.domain.sessions import NewSession
from identity_service.domain.support import (
    AuditRecord,
    Caller,
    OpenResetRequest,
    Role,
    SecurityChange,
    SessionSummary,
)
from identity_service.domain.undo_links import UndoKind
from identity_service.service_layer.accounts import AccountService
from identity_service.service_layer.errors import HashingBusy
from identity_service.service_layer.login_throttle import LoginLimits, LoginThrottle
from identity_service.service_layer.notices import ChangeNotice, Notices
from identity_service.service_layer.ports import ResetUnavailable
from identity_service.service_layer.registrations import RegistrationPolicy, Registrations
from identity_service.service_layer.repositories import AuditPage
from identity_service.service_layer.second_factor import SecondFactorPolicy
from identity_service.service_layer.support import Support
from pwreset_contracts import cloudevents_kafka
from pwreset_contracts.cloudevents_kafka import KafkaRecord
from pwreset_contracts.events import Event, SealedValue
from pwreset_contracts.sealed import KeyRing, open_sealed

NOTICE_KEYS = KeyRing.parse(f"n1:{'N' * 43}")
RECOVERY_KEY = b"R" * 32
START = 1_800_000_000.0  # a fixed clock: the middle of a TOTP step
PASSWORD = "correct horse battery staple"
NEW_PASSWORD = "another long and fresh password"


# --- the database -----------------------------------------------------------------------------


@dataclass
class SessionRow:
    account_id: UUID
    token_hash: bytes
    expires_at: datetime
    revoked: bool = False


@dataclass
class UndoRow:
    account_id: UUID
    expires_at: datetime
    kind: UndoKind
    used: bool = False


@dataclass
class RegistrationRow:
    pending: PendingRegistration
    used: bool = False


@dataclass
class Tables:
    accounts: dict[UUID, Account] = field(default_factory=dict)
    email_keys: dict[str, UUID] = field(default_factory=dict)
    recovery_codes: dict[UUID, dict[bytes, bool]] = field(default_factory=dict)  # hash -> used
    sessions: dict[UUID, SessionRow] = field(default_factory=dict)
    undo_tokens: dict[bytes, UndoRow] = field(default_factory=dict)
    login_throttle: dict[bytes, ThrottleCounter] = field(default_factory=dict)
    registrations: dict[UUID, RegistrationRow] = field(default_factory=dict)
    outbox: list[tuple[UUID, KafkaRecord]] = field(default_factory=list)
    audit: list[AuditRecord] = field(default_factory=list)  # oldest first; seq = index + 1


class FakeDatabase:
    def __init__(self) -> None:
        self.tables = Tables()
        self.commits = 0
        self.rollbacks = 0


class FakeAccounts:
    def __init__(self, t: Tables) -> None:
        self._t = t

    def _put(self, account: Account) -> None:
        self._t.accounts[account.id] = account

    async def add(self, account_id: UUID, email: str, email_key: str, password_hash: str) -> None:
        if not await self.add_if_absent(account_id, email, email_key, password_hash):
            raise EmailTaken

    async def add_if_absent(
        self, account_id: UUID, email: str, email_key: str, password_hash: str
    ) -> bool:
        if email_key in self._t.email_keys:
            return False
        self._t.email_keys[email_key] = account_id
        self._t.accounts[account_id] = Account(
            account_id, email, password_hash, None, False, None, 0, None, 0, 0
        )
        return True

    async def by_email_key(self, email_key: str) -> Account | None:
        account_id = self._t.email_keys.get(email_key)
        return self._t.accounts[account_id] if account_id else None

    async def by_id(self, account_id: UUID) -> Account | None:
        return self._t.accounts.get(account_id)

    async def store_pending_totp(self, account_id: UUID, secret_enc: bytes) -> None:
        a = self._t.accounts[account_id]
        if not a.totp_enabled:
            self._put(dataclasses.replace(a, totp_secret_enc=secret_enc))

    def _step_is_new(self, account: Account, step: int) -> bool:
        return account.totp_last_step is None or account.totp_last_step < step

    async def claim_totp_step(self, account_id: UUID, step: int) -> bool:
        a = self._t.accounts[account_id]
        if not self._step_is_new(a, step):
            return False
        self._put(dataclasses.replace(_no_failures(a), totp_last_step=step))
        return True

    async def reserve_second_factor_attempt(
        self, account_id: UUID, now: datetime, limits: AttemptLimits, *, recovery_code: bool
    ) -> SecondFactorReservation:
        a = self._t.accounts[account_id]
        counts = FailureCounts(a.totp_failures, a.totp_failures_since, a.totp_consecutive_failures)
        counted, reservation = reserve_attempt(counts, now, limits, recovery_code=recovery_code)
        self._put(
            dataclasses.replace(
                a,
                totp_failures=counted.in_window,
                totp_failures_since=counted.window_since,
                totp_consecutive_failures=counted.consecutive,
            )
        )
        return reservation

    async def enable_second_factor(self, account_id: UUID, step: int, secret_enc: bytes) -> bool:
        a = self._t.accounts[account_id]
        if a.totp_enabled or a.totp_secret_enc != secret_enc or not self._step_is_new(a, step):
            return False
        self._put(
            dataclasses.replace(
                _no_failures(a),
                totp_enabled=True,
                totp_last_step=step,
                credentials_epoch=a.credentials_epoch + 1,
            )
        )
        return True

    async def disable_second_factor(self, account_id: UUID) -> bool:
        a = self._t.accounts[account_id]
        if not a.totp_enabled:
            return False
        self._put(
            dataclasses.replace(
                _no_failures(a),
                totp_enabled=False,
                totp_secret_enc=None,
                totp_last_step=None,
                credentials_epoch=a.credentials_epoch + 1,
            )
        )
        return True

    async def change_password(
        self, account_id: UUID, password_hash: str, locale: str | None = None
    ) -> None:
        a = self._t.accounts[account_id]
        self._put(
            dataclasses.replace(
                a,
                password_hash=password_hash,
                credentials_epoch=a.credentials_epoch + 1,
                locale=locale or a.locale,
            )
        )

    async def bump_credentials_epoch(self, account_id: UUID) -> None:
        a = self._t.accounts[account_id]
        self._put(dataclasses.replace(a, credentials_epoch=a.credentials_epoch + 1))

    async def upgrade_hash(self, account_id: UUID, old_hash: str, new_hash: str) -> None:
        a = self._t.accounts[account_id]
        if a.password_hash == old_hash:
            self._put(dataclasses.replace(a, password_hash=new_hash))


def _no_failures(account: Account) -> Account:
    return dataclasses.replace(
        account, totp_failures=0, totp_failures_since=None, totp_consecutive_failures=0
    )


class FakeRecoveryCodes:
    def __init__(self, t: Tables) -> None:
        self._t = t

    async def replace(self, account_id: UUID, code_hashes: list[bytes]) -> None:
        self._t.recovery_codes[account_id] = dict.fromkeys(code_hashes, False)

    async def delete_all(self, account_id: UUID) -> None:
        self._t.recovery_codes.pop(account_id, None)

    async def use(self, account_id: UUID, code_hash: bytes) -> bool:
        codes = self._t.recovery_codes.get(account_id, {})
        if codes.get(code_hash, True):  # unknown or used
            return False
        codes[code_hash] = True
        self._t.accounts[account_id] = _no_failures(self._t.accounts[account_id])
        return True


class FakeSessions:
    def __init__(self, t: Tables) -> None:
        self._t = t

    async def add(self, session: NewSession) -> bool:
        account = self._t.accounts.get(session.account_id)
        if account is None or account.credentials_epoch != session.credentials_epoch:
            return False
        self._t.sessions[session.id] = SessionRow(
            session.account_id, session.token_hash, session.expires_at
        )
        return True

    async def account_of(self, token_hash: bytes, now: datetime) -> UUID | None:
        for row in self._t.sessions.values():
            if row.token_hash == token_hash and not row.revoked and row.expires_at > now:
                return row.account_id
        return None

    async def revoke(self, token_hash: bytes) -> bool:
        for row in self._t.sessions.values():
            if row.token_hash == token_hash and not row.revoked:
                row.revoked = True
                return True
        return False

    async def revoke_all(self, account_id: UUID) -> None:
        for row in self._t.sessions.values():
            if row.account_id == account_id:
                row.revoked = True


class FakeUndoTokens:
    def __init__(self, t: Tables) -> None:
        self._t = t

    async def add(
        self, token_hash: bytes, account_id: UUID, expires_at: datetime, kind: UndoKind
    ) -> None:
        self._t.undo_tokens[token_hash] = UndoRow(account_id, expires_at, kind)

    def _usable(self, token_hash: bytes, now: datetime) -> UndoRow | None:
        row = self._t.undo_tokens.get(token_hash)
        return row if row and not row.used and row.expires_at > now else None

    async def kind_of(self, token_hash: bytes, now: datetime) -> UndoKind | None:
        row = self._usable(token_hash, now)
        return row.kind if row else None

    async def use(self, token_hash: bytes, now: datetime) -> tuple[UUID, UndoKind] | None:
        row = self._usable(token_hash, now)
        if row is None:
            return None
        row.used = True
        return row.account_id, row.kind


class FakeAccountReads:
    """Lookups on the committed tables, outside any unit of work (as AccountReads on the pool)."""

    def __init__(self, db: FakeDatabase) -> None:
        self._db = db

    async def by_email_key(self, email_key: str) -> Account | None:
        return await FakeAccounts(self._db.tables).by_email_key(email_key)

    async def by_id(self, account_id: UUID) -> Account | None:
        return await FakeAccounts(self._db.tables).by_id(account_id)


class FakeLoginThrottle:
    """The counters in a dict; each call applies domain.login_throttle's rules at once, as the
    database's functions do in one atomic step."""

    def __init__(self, db: FakeDatabase) -> None:
        self._db = db

    @property
    def _stored(self) -> dict[bytes, ThrottleCounter]:
        return self._db.tables.login_throttle

    def _counters(self, keys: tuple[bytes, ...]) -> tuple[ThrottleCounter, ...]:
        return tuple(self._stored.setdefault(k, ThrottleCounter()) for k in keys)

    async def reserve(
        self,
        rules: tuple[ThrottleRule, ...],
        keys: tuple[bytes, ...],
        now: datetime,
        forget_after: timedelta,
    ) -> Verdict:
        verdict = reserve(rules, self._counters(keys), now, forget_after)
        if verdict.allowed:
            self._stored.update(zip(keys, verdict.counters, strict=True))
        return verdict

    async def give_back(
        self, rules: tuple[ThrottleRule, ...], keys: tuple[bytes, ...], clear: tuple[bool, ...]
    ) -> None:
        counters = give_back(rules, self._counters(keys), clear=clear)
        self._stored.update(zip(keys, counters, strict=True))

    async def prune(self, now: datetime, forget_before: datetime) -> int:
        gone = [
            k
            for k, c in self._stored.items()
            if (c.last_failure_at is None or c.last_failure_at < forget_before)
            and (c.blocked_until is None or c.blocked_until < now)
        ]
        for k in gone:
            del self._stored[k]
        return len(gone)


class FakeRegistrations:
    def __init__(self, t: Tables) -> None:
        self._t = t

    async def add(self, pending: PendingRegistration) -> None:
        self._t.registrations[pending.registration_id] = RegistrationRow(pending)

    async def use(self, token_hash: bytes, now: datetime) -> VerifiedRegistration | None:
        for row in self._t.registrations.values():
            p = row.pending
            if (
                p.token_hash == token_hash
                and not row.used
                and p.expires_at > now
                and p.password_hash is not None
            ):
                row.used = True
                return VerifiedRegistration(p.email, p.password_hash)
        return None

    async def prune(self, now: datetime) -> int:
        gone = [k for k, r in self._t.registrations.items() if r.pending.expires_at < now]
        for k in gone:
            del self._t.registrations[k]
        return len(gone)


class FakeOutbox:
    def __init__(self, t: Tables) -> None:
        self._t = t

    async def add(self, event_id: UUID, record: KafkaRecord) -> None:
        self._t.outbox.append((event_id, record))


class FakeAudit:
    def __init__(self, t: Tables) -> None:
        self._t = t

    async def add(self, record: AuditRecord) -> None:
        self._t.audit.append(record)

    async def page(self, account_id: UUID | None, before: int | None, limit: int) -> AuditPage:
        rows = [
            (seq, r)
            for seq, r in enumerate(self._t.audit, start=1)
            if (account_id is None or r.account_id == account_id)
            and (before is None or seq < before)
        ][::-1]
        more = len(rows) > limit
        rows = rows[:limit]
        return AuditPage(tuple(r for _, r in rows), rows[-1][0] if more and rows else None)


class FakeSecurityReads:
    def __init__(self, t: Tables) -> None:
        self._t = t

    async def recovery_codes_left(self, account_id: UUID) -> int:
        return sum(not used for used in self._t.recovery_codes.get(account_id, {}).values())

    async def password_changed_at(self, account_id: UUID) -> datetime | None:
        return datetime(2026, 1, 1, tzinfo=UTC) if account_id in self._t.accounts else None

    async def live_sessions(
        self, account_id: UUID, now: datetime, limit: int
    ) -> tuple[list[SessionSummary], int]:
        live = [
            SessionSummary(sid, row.expires_at - timedelta(hours=1), row.expires_at)
            for sid, row in self._t.sessions.items()
            if row.account_id == account_id and not row.revoked and row.expires_at > now
        ]
        return live[:limit], len(live)

    async def recent_changes(self, account_id: UUID, limit: int) -> list[SecurityChange]:
        rows = [r for r in self._t.undo_tokens.values() if r.account_id == account_id]
        return [SecurityChange(r.kind, r.expires_at, r.used) for r in rows][::-1][:limit]


class FakeUnitOfWork:
    def __init__(self, db: FakeDatabase) -> None:
        self._db = db
        self._work: Tables | None = None

    def _tables(self) -> Tables:
        if self._work is None:
            raise RuntimeError("the unit of work is not open")
        return self._work

    @property
    def accounts(self) -> FakeAccounts:
        return FakeAccounts(self._tables())

    @property
    def recovery_codes(self) -> FakeRecoveryCodes:
        return FakeRecoveryCodes(self._tables())

    @property
    def sessions(self) -> FakeSessions:
        return FakeSessions(self._tables())

    @property
    def undo_tokens(self) -> FakeUndoTokens:
        return FakeUndoTokens(self._tables())

    @property
    def registrations(self) -> FakeRegistrations:
        return FakeRegistrations(self._tables())

    @property
    def outbox(self) -> FakeOutbox:
        return FakeOutbox(self._tables())

    @property
    def audit(self) -> FakeAudit:
        return FakeAudit(self._tables())

    @property
    def security(self) -> FakeSecurityReads:
        return FakeSecurityReads(self._tables())

    async def __aenter__(self) -> Self:
        self._work = copy.deepcopy(self._db.tables)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.rollback()

    async def commit(self) -> None:
        if self._work is not None:
            # The failed-login counters are no part of a unit of work (FakeLoginThrottle):
            # what was counted meanwhile stays.
            self._work.login_throttle = self._db.tables.login_throttle
            self._db.tables, self._work = self._work, None
            self._db.commits += 1

    async def rollback(self) -> None:
        if self._work is not None:
            self._work = None
            self._db.rollbacks += 1


# --- the other ports --------------------------------------------------------------------------


class FakeHashing:
    """ "Hashes" that show the password and the parameters they were made with: ``v2:`` now,
    ``v1:`` an older setting (wants a rehash). Records which lane hashed and what was checked."""

    def __init__(self, queue_limit: int = 100) -> None:
        self.queue_limit = queue_limit
        self.queued = 0
        self.verified: list[str] = []  # stored hashes checked, in order
        self.lanes: list[str] = []  # "shared" or "change", per hash made
        self.on_verify: Callable[[], None] = lambda: None

    @contextlib.asynccontextmanager
    async def shared_slot(self) -> AsyncIterator[None]:
        if self.queued >= self.queue_limit:
            raise HashingBusy
        self.queued += 1
        try:
            yield
        finally:
            self.queued -= 1

    async def verify(self, stored_hash: str, password: str) -> tuple[bool, bool]:
        self.verified.append(stored_hash)
        self.on_verify()
        version, _, hashed = stored_hash.partition(":")
        return hashed == password, version != "v2"

    async def hash(self, password: str) -> str:
        self.lanes.append("shared")
        return f"v2:{password}"

    async def hash_for_change(self, password: str) -> str:
        self.lanes.append("change")
        return f"v2:{password}"

    def hash_now(self, password: str) -> str:
        return f"v2:{password}"


class FakeSecretBox:
    def encrypt(self, plaintext: str, *, context: str) -> bytes:
        return f"{context}|{plaintext}".encode()[::-1]

    def decrypt(self, blob: bytes, *, context: str) -> str:
        bound, _, plaintext = blob[::-1].decode().partition("|")
        if bound != context:
            raise ValueError("sealed for another account")
        return plaintext


class FakeResets:
    """The reset service's internal API: starts resets, keeps an account's open requests."""

    CODE = "ABCD2345"

    def __init__(self) -> None:
        self.emails: list[str] = []
        self.locales: list[str | None] = []
        self.unavailable = False
        self.open: dict[UUID, list[OpenResetRequest]] = {}

    async def open_requests(self, account_id: UUID) -> list[OpenResetRequest]:
        if self.unavailable:
            raise ResetUnavailable("connect timeout")
        return list(self.open.get(account_id, []))

    async def cancel_open(self, account_id: UUID) -> int:
        if self.unavailable:
            raise ResetUnavailable("connect timeout")
        return len(self.open.pop(account_id, []))

    async def start_reset(self, email: str, locale: str | None = None) -> str:
        self.locales.append(locale)
        if self.unavailable:
            raise ResetUnavailable("connect timeout")
        self.emails.append(email)
        return self.CODE


class Clock:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> float:
        return self.now

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now, UTC)


# --- everything wired -------------------------------------------------------------------------


class World:
    """Identity's use cases on the fakes, with small limits that tests can reach."""

    def __init__(self, *, queue_limit: int = 100) -> None:
        self.db = FakeDatabase()
        self.clock = Clock()
        self.hashing = FakeHashing(queue_limit)
        self.box = FakeSecretBox()
        self.resets = FakeResets()
        uow: Callable[[], FakeUnitOfWork] = lambda: FakeUnitOfWork(self.db)  # noqa: E731
        self.uow = uow
        throttle = LoginThrottle(FakeLoginThrottle(self.db), LoginLimits.build(key=b"T" * 32))
        notice = ChangeNotice("https://id.example.com", NOTICE_KEYS, timedelta(days=7))
        self.accounts = AccountService(
            uow,
            FakeAccountReads(self.db),
            self.hashing,
            throttle,
            self.box,
            self.resets,
            PasswordPolicy(),
            SecondFactorPolicy(5, timedelta(minutes=15), RECOVERY_KEY, 10, lockout_after=10),
            notice,
            totp_issuer="test",
            session_ttl=timedelta(hours=1),
            clock=self.clock,
        )
        self.registrations = Registrations(
            uow,
            self.hashing,
            throttle,
            Notices(notice, self.clock.datetime),
            PasswordPolicy(),
            RegistrationPolicy(),
            self.clock.datetime,
        )
        self.support = Support(
            uow,
            self.resets,
            Notices(notice, self.clock.datetime),
            self.clock.datetime,
            lockout_after=10,
        )

    @property
    def tables(self) -> Tables:
        return self.db.tables

    def account(self, account_id: UUID) -> Account:
        return self.db.tables.accounts[account_id]

    def live_sessions(self, account_id: UUID) -> int:
        return sum(
            r.account_id == account_id and not r.revoked for r in self.tables.sessions.values()
        )

    def events(self) -> list[Event]:
        """What the outbox holds, decoded, oldest first."""
        return [
            cloudevents_kafka.decode(record.headers, record.value).data
            for _, record in self.tables.outbox
        ]

    async def new_account(self, prefix: str = "a") -> tuple[UUID, str]:
        email = f"{prefix}-{uuid.uuid4().hex[:8]}@example.com"
        return await self.accounts.create_account(email, PASSWORD), email

    async def totp_account(self) -> tuple[UUID, str, pyotp.TOTP, list[str]]:
        """An account with two-factor on: (id, email, its authenticator, its recovery codes)."""
        account_id, email = await self.new_account("t")
        setup = await self.accounts.start_totp(account_id)
        totp = pyotp.TOTP(setup.secret)
        codes = await self.accounts.activate_totp(account_id, totp.at(self.clock.now), PASSWORD)
        self.clock.now += 30  # the next code is a new step
        return account_id, email, totp, codes


def link_token(sealed_link: SealedValue | None, associated_data: str) -> str:
    """The token in a sealed link of an event, opened as the notifier would."""
    assert sealed_link is not None
    link = open_sealed(sealed_link, keys=NOTICE_KEYS.keys, associated_data=associated_data)
    return str(link).split("token=")[1]


SUPPORT = Caller("grace@corp.example", frozenset({Role.SUPPORT}))
ADMIN = Caller("ada@corp.example", frozenset({Role.ADMIN}))
NOBODY = Caller("mallory@corp.example", frozenset())
