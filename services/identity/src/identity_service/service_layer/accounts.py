"""Use cases of identity: register, log in, two-factor, and what the reset service asks for."""

import asyncio
import os
import time
import uuid
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from pwreset_contracts import PasswordChangedV1, cloudevents_kafka
from pwreset_contracts.emails import UnsupportedEmail, normalise_email
from pwreset_contracts.sealed import KeyRing, seal, undo_link_binding
from servicekit import tracing

from identity_service.adapters.accounts_repository import (
    Account,
    AccountsRepository,
    PasswordChange,
)
from identity_service.adapters.secret_box import SecretBox
from identity_service.domain import recovery_codes, sessions, totp, undo_links
from identity_service.domain.passwords import Argon2Hasher, PasswordPolicy, check_password
from identity_service.metrics import LOGINS, PASSWORD_CHANGES

EVENT_SOURCE = "/pwreset/identity"
# argon2id is CPU- and memory-bound (19 MiB a hash): more hashing threads than cores only thrash
# the caches and keep more arenas of freed hash memory resident. asyncio's default pool has
# cores + 4 threads; on 2 cores 6 threads hash 13% slower than 2 (bench, docs/benchmarks.md).
_HASHING = ThreadPoolExecutor(max_workers=os.cpu_count() or 1, thread_name_prefix="argon2id")


class AuthFailed(Exception):
    """Login refused; ``reason`` is safe to return to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AccountNotFound(Exception):
    pass


class TotpRejected(Exception):
    """A second factor was missing, wrong, or is throttled after too many failures."""

    def __init__(self, message: str, *, throttled: bool = False) -> None:
        super().__init__(message)
        self.throttled = throttled


@dataclass(frozen=True)
class TotpSetup:
    secret: str
    provisioning_uri: str


@dataclass(frozen=True)
class SecondFactor:
    """What a person typed as their second factor: an authenticator code or a recovery code."""

    totp_code: str | None = None
    recovery_code: str | None = None

    def __bool__(self) -> bool:
        return bool(self.totp_code or self.recovery_code)


@dataclass(frozen=True)
class SecondFactorPolicy:
    max_failures: int
    window: timedelta
    recovery_key: bytes
    recovery_count: int


@dataclass(frozen=True)
class ChangeNotice:
    """How a password change is announced: PasswordChanged with a sealed "This wasn't me" link."""

    public_origin: str
    seal_keys: KeyRing
    undo_ttl: timedelta


class AccountService:
    def __init__(
        self,
        repo: AccountsRepository,
        hasher: Argon2Hasher,
        secret_box: SecretBox,
        policy: PasswordPolicy,
        second_factor: SecondFactorPolicy,
        notice: ChangeNotice,
        *,
        totp_issuer: str,
        session_ttl: timedelta,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._repo = repo
        self._hasher = hasher
        self._box = secret_box
        self._policy = policy
        self._second = second_factor
        self._notice = notice
        self._issuer = totp_issuer
        self._session_ttl = session_ttl
        self._clock = clock
        # Verified against for unknown emails, so a login takes as long whether or not they exist.
        self._decoy_hash = hasher.hash("decoy password that no account has")

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def _hash(self, password: str) -> str:
        return await asyncio.get_running_loop().run_in_executor(
            _HASHING, self._hasher.hash, password
        )

    async def _verify(self, stored: str, password: str) -> tuple[bool, bool]:
        return await asyncio.get_running_loop().run_in_executor(
            _HASHING, self._hasher.verify, stored, password
        )

    async def register(self, email: str, password: str) -> UUID:
        password = check_password(password, email=email, totp_enabled=False, policy=self._policy)
        account_id = uuid.uuid4()
        await self._repo.add(account_id, email, normalise_email(email), await self._hash(password))
        return account_id

    async def login(self, email: str, password: str, factor: SecondFactor) -> str:
        try:
            token = await self._login(email, password, factor)
        except AuthFailed as exc:
            LOGINS.labels(exc.reason).inc()
            raise
        LOGINS.labels("success").inc()
        return token

    async def _login(self, email: str, password: str, factor: SecondFactor) -> str:
        account = await self.lookup(email)
        ok, needs_rehash = await self._verify(
            account.password_hash if account else self._decoy_hash, password
        )
        if account is None or not ok:
            raise AuthFailed("invalid_credentials")
        if account.totp_enabled:
            if not factor:
                raise AuthFailed("totp_required")
            try:
                await self._check_second_factor(account, factor)
            except TotpRejected as exc:
                raise AuthFailed("totp_throttled" if exc.throttled else "totp_invalid") from exc
        if needs_rehash:
            await self._repo.upgrade_hash(
                account.id, account.password_hash, await self._hash(password)
            )
        token = sessions.new_session_token()
        expires = self._now() + self._session_ttl
        await self._repo.add_session(
            uuid.uuid4(), account.id, sessions.token_digest(token), expires
        )
        return token

    async def account_of_session(self, token: str) -> UUID | None:
        return await self._repo.account_of_session(sessions.token_digest(token), self._now())

    async def start_totp(self, account_id: UUID) -> TotpSetup:
        account = await self._require(account_id)
        if account.totp_enabled:
            raise TotpRejected("two-factor authentication is already on")
        secret = totp.new_secret()
        await self._repo.store_pending_totp(
            account_id, self._box.encrypt(secret, context=str(account_id))
        )
        uri = totp.provisioning_uri(secret, account_name=account.email, issuer=self._issuer)
        return TotpSetup(secret=secret, provisioning_uri=uri)

    async def activate_totp(self, account_id: UUID, code: str) -> list[str]:
        """Turn two-factor on; returns the recovery codes, shown this once."""
        account = await self._require(account_id)
        if account.totp_enabled or account.totp_secret_enc is None:
            raise TotpRejected("no pending two-factor setup")
        if not await self._accept_totp(account, code, enable=True):
            raise TotpRejected("the authenticator code is not valid")
        codes = recovery_codes.new_recovery_codes(self._second.recovery_count)
        await self._repo.replace_recovery_codes(
            account_id, [recovery_codes.digest(self._second.recovery_key, c) for c in codes]
        )
        return codes

    async def lookup(self, email: str) -> Account | None:
        """The account whose stored address has the same key as ``email`` (``account.email``
        is the stored address, the one to send to); None for an address we never accept."""
        try:
            key = normalise_email(email)
        except UnsupportedEmail:
            return None
        return await self._repo.by_email_key(key)

    async def verify_totp(self, account_id: UUID, code: str) -> bool:
        account = await self._require(account_id)
        if not account.totp_enabled:
            return False
        try:
            await self._check_second_factor(account, SecondFactor(totp_code=code))
        except TotpRejected:
            return False
        return True

    async def set_password(
        self, account_id: UUID, password: str, factor: SecondFactor, client_ip: str | None
    ) -> None:
        """Called by the reset service once it has checked link and code. With two-factor on,
        the second factor is checked here, never skipped: an email reset does not bypass it."""
        account = await self._require(account_id)
        password = check_password(
            password, email=account.email, totp_enabled=account.totp_enabled, policy=self._policy
        )
        if account.totp_enabled:
            if not factor:
                raise TotpRejected("enter the code from your authenticator app")
            await self._check_second_factor(account, factor)
        password_hash = await self._hash(password)
        await self._repo.replace_password(
            account_id, password_hash, self._change_notice(account, client_ip)
        )
        PASSWORD_CHANGES.inc()

    async def this_wasnt_me(self, token: str) -> Account | None:
        """Revoke every session of the account the undo link belongs to (once)."""
        account_id = await self._repo.use_undo_token(undo_links.token_digest(token), self._now())
        if account_id is None:
            return None
        await self._repo.revoke_sessions(account_id)
        return await self._repo.by_id(account_id)

    def _change_notice(self, account: Account, client_ip: str | None) -> PasswordChange:
        now = self._now()
        change_id = uuid.uuid4()
        token = undo_links.new_undo_token()
        keys = self._notice.seal_keys
        event = PasswordChangedV1(
            change_id=change_id,
            account_id=account.id,
            email=account.email,
            changed_at=now,
            method="reset",
            client_ip=client_ip,
            sealed_undo_link=seal(
                undo_links.undo_link(self._notice.public_origin, token),
                key=keys.current,
                kid=keys.current_id,
                associated_data=undo_link_binding(
                    change_id=change_id, account_id=account.id, recipient=account.email
                ),
            ),
        )
        event_id = uuid.uuid4()
        return PasswordChange(
            undo_token_hash=undo_links.token_digest(token),
            undo_expires_at=now + self._notice.undo_ttl,
            event_id=event_id,
            event=cloudevents_kafka.encode(
                event,
                source=EVENT_SOURCE,
                event_id=str(event_id),
                extensions=tracing.event_extensions(),
            ),
        )

    async def _require(self, account_id: UUID) -> Account:
        account = await self._repo.by_id(account_id)
        if account is None:
            raise AccountNotFound
        return account

    async def _check_second_factor(self, account: Account, factor: SecondFactor) -> None:
        """Accept a TOTP code (each step once) or an unused recovery code; count failures and
        refuse unchecked once there were too many in the window."""
        now = self._now()
        recent = (
            account.totp_failures_since is not None
            and account.totp_failures_since > now - self._second.window
        )
        if recent and account.totp_failures >= self._second.max_failures:
            raise TotpRejected("too many wrong codes; wait and try again", throttled=True)
        if factor.recovery_code:
            accepted = recovery_codes.looks_like_recovery_code(
                factor.recovery_code
            ) and await self._repo.use_recovery_code(
                account.id, recovery_codes.digest(self._second.recovery_key, factor.recovery_code)
            )
        else:
            accepted = await self._accept_totp(account, factor.totp_code or "")
        if not accepted:
            failures = await self._repo.record_second_factor_failure(
                account.id, now, int(self._second.window.total_seconds())
            )
            raise TotpRejected(
                "the code is not valid", throttled=failures >= self._second.max_failures
            )

    async def _accept_totp(self, account: Account, code: str, *, enable: bool = False) -> bool:
        if account.totp_secret_enc is None:
            return False
        secret = self._box.decrypt(account.totp_secret_enc, context=str(account.id))
        match = totp.match_code(
            secret, code, now=self._clock(), last_used_step=account.totp_last_step
        )
        return match is not None and await self._repo.claim_totp_step(
            account.id, match.step, enable=enable
        )
