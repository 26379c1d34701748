"""Use cases of identity: register, log in, two-factor, and what the reset service asks for."""

import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from pwreset_contracts.emails import UnsupportedEmail, normalise_email

from identity_service import security_events
from identity_service.adapters.accounts_repository import (
    Account,
    AccountsRepository,
    SecondFactorAttempt,
    UndoKind,
)
from identity_service.adapters.password_hashing import HashingBusy, PasswordHashing
from identity_service.adapters.secret_box import SecretBox
from identity_service.domain import recovery_codes, sessions, totp, undo_links
from identity_service.domain.passwords import PasswordPolicy, check_password
from identity_service.metrics import LOGINS, PASSWORD_CHANGES
from identity_service.security_events import SecurityEvent
from identity_service.service_layer.login_throttle import LoginThrottle, LoginThrottled
from identity_service.service_layer.notices import ChangeNotice, Notices


class ReauthenticationFailed(Exception):
    """The password entered again to confirm a security change was wrong."""


class AuthFailed(Exception):
    """Login refused; ``reason`` is safe to return to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AccountNotFound(Exception):
    pass


class TotpRejected(Exception):
    """A second factor was missing, wrong, throttled after too many failures in the window, or
    locked after too many in a row (then only a recovery code, or support, gets past it)."""

    def __init__(self, message: str, *, throttled: bool = False, locked: bool = False) -> None:
        super().__init__(message)
        self.throttled = throttled or locked
        self.locked = locked

    @property
    def reason(self) -> str:
        if self.locked:
            return "account_locked"
        return "totp_throttled" if self.throttled else "totp_invalid"


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
    # NIST SP 800-63B: at most 100 consecutive failed attempts on one account.
    lockout_after: int = 100


class AccountService:
    def __init__(
        self,
        repo: AccountsRepository,
        hashing: PasswordHashing,
        throttle: LoginThrottle,
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
        self._hashing = hashing
        self._throttle = throttle
        self._box = secret_box
        self._policy = policy
        self._second = second_factor
        self._notices = Notices(notice, self._now)
        self._issuer = totp_issuer
        self._session_ttl = session_ttl
        self._clock = clock
        # Verified against for unknown emails, so a login takes as long whether or not they exist.
        self._decoy_hash = hashing.hash_now("decoy password that no account has")

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    async def create_account(self, email: str, password: str) -> UUID:
        """An account for an address taken on trust: for operators' seeding tools only. People
        register through Registrations, which proves the address first."""
        password = check_password(password, email=email, totp_enabled=False, policy=self._policy)
        account_id = uuid.uuid4()
        async with self._hashing.shared_slot():
            password_hash = await self._hashing.hash(password)
        await self._repo.add(account_id, email, normalise_email(email), password_hash)
        return account_id

    async def login(
        self, email: str, password: str, factor: SecondFactor, client_ip: str = "unknown"
    ) -> str:
        """A session token, or AuthFailed; LoginThrottled (429) past the failed-login limits,
        HashingBusy (503) when the hashing queue is full."""
        try:
            token = await self._login(email, password, factor, client_ip)
        except AuthFailed as exc:
            LOGINS.labels(exc.reason).inc()
            raise
        except LoginThrottled:
            LOGINS.labels("throttled").inc()
            security_events.record(SecurityEvent.LOGIN_THROTTLED, client_ip=client_ip)
            raise
        except HashingBusy:
            LOGINS.labels("busy").inc()
            raise
        LOGINS.labels("success").inc()
        return token

    async def _verify_password(
        self,
        email: str,
        password: str,
        client_ip: str,
        load: Callable[[], Awaitable[Account | None]],
    ) -> tuple[Account | None, bool]:
        """(the account, whether its hash wants upgrading) if the password is right, else
        (None, False). Under the failed-login limits, in the shared hashing lane."""
        async with self._hashing.shared_slot():
            # Counted as a failure before the password is checked: attempts sent side by side
            # cannot all slip under the limit. Unknown emails go through the same steps.
            attempt = await self._throttle.reserve(email, client_ip, self._now())
            account = await load()
            ok, needs_rehash = await self._hashing.verify(
                account.password_hash if account else self._decoy_hash, password
            )
        if account is None or not ok:
            return None, False
        await attempt.password_verified()
        return account, needs_rehash

    async def _login(self, email: str, password: str, factor: SecondFactor, client_ip: str) -> str:
        account, needs_rehash = await self._verify_password(
            email, password, client_ip, lambda: self.lookup(email)
        )
        if account is None:
            raise AuthFailed("invalid_credentials")
        if account.totp_enabled:
            if not factor:
                raise AuthFailed("totp_required")
            try:
                await self._check_second_factor(account, factor, client_ip)
            except TotpRejected as exc:
                raise AuthFailed(exc.reason) from exc
        if needs_rehash:
            await self._rehash(account, password)
        token = sessions.new_session_token()
        expires = self._now() + self._session_ttl
        if not await self._repo.add_session(
            uuid.uuid4(),
            account.id,
            sessions.token_digest(token),
            expires,
            credentials_epoch=account.credentials_epoch,
        ):
            # The password (or the second factor) changed, or every session was signed out,
            # while this login was being checked: what it verified is no longer the account's.
            raise AuthFailed("invalid_credentials")
        return token

    async def prune_login_throttle(self) -> int:
        return await self._throttle.repo.prune(self._now())

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

    async def _reauthenticate(self, account_id: UUID, password: str, client_ip: str) -> Account:
        """The account, once its password was entered again (under the login limits)."""
        account = await self._require(account_id)
        verified, _ = await self._verify_password(
            account.email, password, client_ip, lambda: self._repo.by_id(account_id)
        )
        if verified is None:
            raise ReauthenticationFailed
        return verified

    async def activate_totp(
        self, account_id: UUID, code: str, password: str, client_ip: str = "unknown"
    ) -> list[str]:
        """Turn two-factor on; returns the recovery codes, shown this once. Needs the password
        again (a stolen session alone must not lock the owner out) and emails the holder."""
        account = await self._reauthenticate(account_id, password, client_ip)
        if account.totp_enabled or account.totp_secret_enc is None:
            raise TotpRejected("no pending two-factor setup")
        secret = self._box.decrypt(account.totp_secret_enc, context=str(account.id))
        match = totp.match_code(
            secret, code, now=self._clock(), last_used_step=account.totp_last_step
        )
        codes = recovery_codes.new_recovery_codes(self._second.recovery_count)
        if (
            match is None
            or match.replayed
            or not await self._repo.enable_second_factor(
                account_id,
                match.step,
                [recovery_codes.digest(self._second.recovery_key, c) for c in codes],
                self._notices.second_factor_changed(account, "enabled", client_ip),
            )
        ):
            raise TotpRejected("the authenticator code is not valid")
        security_events.record(
            SecurityEvent.SECOND_FACTOR_ENABLED, account_id=account_id, client_ip=client_ip
        )
        return codes

    async def disable_totp(
        self, account_id: UUID, password: str, factor: SecondFactor, client_ip: str = "unknown"
    ) -> None:
        """Turn two-factor off: the password again and a current code (or a recovery code)."""
        account = await self._reauthenticate(account_id, password, client_ip)
        if not account.totp_enabled:
            raise TotpRejected("two-factor authentication is not on")
        if not factor:
            raise TotpRejected("enter the code from your authenticator app")
        await self._check_second_factor(account, factor, client_ip)
        notice = self._notices.second_factor_changed(account, "disabled", client_ip)
        if await self._repo.disable_second_factor(account_id, notice):
            security_events.record(
                SecurityEvent.SECOND_FACTOR_DISABLED, account_id=account_id, client_ip=client_ip
            )

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
            await self._check_second_factor(account, factor, client_ip)
        password_hash = await self._hashing.hash_for_change(password)
        await self._repo.replace_password(
            account_id, password_hash, self._notices.password_changed(account, client_ip)
        )
        PASSWORD_CHANGES.inc()
        security_events.record(
            SecurityEvent.PASSWORD_CHANGED, account_id=account_id, client_ip=client_ip
        )

    async def undo_kind(self, token: str) -> UndoKind | None:
        """What a "This wasn't me" link would undo, if it still works (nothing is used up)."""
        return await self._repo.undo_token_kind(undo_links.token_digest(token), self._now())

    async def this_wasnt_me(self, token: str) -> Account | None:
        """Undo what the link was sent for (once): every session of the account is signed out,
        logins in flight included, and two-factor that somebody else turned on is turned off."""
        used = await self._repo.use_undo_token(undo_links.token_digest(token), self._now())
        if used is None:
            return None
        account_id, kind = used
        if kind == "second_factor_enabled" and await self._repo.disable_second_factor(
            account_id, None
        ):
            security_events.record(
                SecurityEvent.SECOND_FACTOR_DISABLED, account_id=account_id, cause="this_wasnt_me"
            )
        await self._repo.revoke_sessions(account_id)
        security_events.record(
            SecurityEvent.SESSIONS_REVOKED, account_id=account_id, cause="this_wasnt_me"
        )
        return await self._repo.by_id(account_id)

    async def _rehash(self, account: Account, password: str) -> None:
        """Upgrade a hash made with older parameters; skipped when the lane is busy."""
        try:
            async with self._hashing.shared_slot():
                new_hash = await self._hashing.hash(password)
        except HashingBusy:
            return
        await self._repo.upgrade_hash(account.id, account.password_hash, new_hash)

    async def _require(self, account_id: UUID) -> Account:
        account = await self._repo.by_id(account_id)
        if account is None:
            raise AccountNotFound
        return account

    async def _check_second_factor(
        self, account: Account, factor: SecondFactor, client_ip: str | None = None
    ) -> None:
        """Accept a TOTP code (each step once) or an unused recovery code. Each attempt is
        counted before its code is checked (see reserve_second_factor_attempt)."""
        reservation = await self._repo.reserve_second_factor_attempt(
            account.id,
            self._now(),
            window_seconds=int(self._second.window.total_seconds()),
            max_per_window=self._second.max_failures,
            lockout_after=self._second.lockout_after,
            recovery_code=bool(factor.recovery_code),
        )
        if reservation.verdict is SecondFactorAttempt.LOCKED:
            raise TotpRejected(
                "too many wrong codes in a row; use a recovery code or contact support",
                locked=True,
            )
        if reservation.verdict is SecondFactorAttempt.THROTTLED:
            raise TotpRejected("too many wrong codes; wait and try again", throttled=True)
        if factor.recovery_code:
            accepted = recovery_codes.looks_like_recovery_code(
                factor.recovery_code
            ) and await self._repo.use_recovery_code(
                account.id, recovery_codes.digest(self._second.recovery_key, factor.recovery_code)
            )
        else:
            accepted = await self._accept_totp(account, factor.totp_code or "", client_ip=client_ip)
        if accepted:
            return
        security_events.record(
            SecurityEvent.SECOND_FACTOR_WRONG,
            account_id=account.id,
            client_ip=client_ip,
            kind="recovery_code" if factor.recovery_code else "totp",
        )
        if reservation.consecutive_failures == self._second.lockout_after:
            security_events.record(
                SecurityEvent.ACCOUNT_LOCKED, account_id=account.id, client_ip=client_ip
            )
        raise TotpRejected(
            "the code is not valid",
            throttled=reservation.failures_in_window >= self._second.max_failures,
        )

    async def _accept_totp(
        self, account: Account, code: str, *, enable: bool = False, client_ip: str | None = None
    ) -> bool:
        if account.totp_secret_enc is None:
            return False
        secret = self._box.decrypt(account.totp_secret_enc, context=str(account.id))
        match = totp.match_code(
            secret, code, now=self._clock(), last_used_step=account.totp_last_step
        )
        if match is None:
            return False
        # A right code whose step was used already (or is claimed by a request side by side)
        # is somebody replaying a code they saw.
        if not match.replayed and await self._repo.claim_totp_step(
            account.id, match.step, enable=enable
        ):
            return True
        security_events.record(
            SecurityEvent.TOTP_REPLAYED, account_id=account.id, client_ip=client_ip
        )
        return False
