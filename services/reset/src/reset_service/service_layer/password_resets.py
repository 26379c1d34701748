"""Use cases of the reset service: request a reset, look at a link, confirm a new password."""

import enum
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from urllib.parse import urlencode

from pwreset_contracts import ResetRequestedV1, cloudevents_kafka
from pwreset_contracts.emails import normalise_email
from pwreset_contracts.sealed import KeyRing, reset_link_binding, seal
from servicekit.runtime import tracing

from reset_service.adapters.identity_client import (
    IdentityClient,
    PasswordRejected,
    SecondFactor,
    TotpInvalid,
)
from reset_service.adapters.rate_limits import Limit
from reset_service.adapters.requests_repository import (
    LockedRequest,
    NewRequest,
    RequestsRepository,
    StoredRequest,
)
from reset_service.domain.secrets_issued import (
    keyed_hash,
    new_link_token,
    new_verification_code,
    normalise_code,
    same_secret,
)
from reset_service.metrics import RESET_CONFIRMATIONS, RESET_REQUESTS

EVENT_SOURCE = "/pwreset/reset"


@dataclass(frozen=True)
class IssuedCode:
    """What the person sees on screen; identical in shape for every email."""

    verification_code: str
    expires_in_seconds: int


class RateLimited(Exception):
    """Too many requests from one client IP (the per-account limit never shows)."""

    def __init__(self, retry_after_seconds: int) -> None:
        super().__init__(f"retry after {retry_after_seconds}s")
        self.retry_after_seconds = retry_after_seconds


@dataclass(frozen=True)
class RequestLimits:
    account_max: int  # emails per account per window; further requests wait, coalesced
    ip_max: int
    window: timedelta
    link_misses_max: int = 10  # link tokens matching nothing, per client IP per window

    def for_email(self, key: bytes, email: str) -> Limit:
        # Counted for unknown emails too, the same way: the limit says nothing about existence.
        # Keyed by the platform's one normalisation, the key identity finds accounts by, so
        # every spelling that reaches an account shares that account's limit.
        return Limit(
            "account",
            keyed_hash(key, "email:" + normalise_email(email)),
            self.account_max,
            self.window,
        )

    def for_ip(self, key: bytes, client_ip: str) -> Limit:
        return Limit("ip", keyed_hash(key, "ip:" + client_ip), self.ip_max, self.window)

    def for_link_misses(self, key: bytes, client_ip: str) -> Limit:
        subject = keyed_hash(key, "ip:" + client_ip)
        return Limit("link_miss", subject, self.link_misses_max, self.window)


class ConfirmFailure(enum.Enum):
    LINK_INVALID = "link_invalid"  # unknown, used, revoked or expired: one answer for all
    TOO_MANY_ATTEMPTS = "too_many_attempts"
    CODE_REQUIRED = "verification_code_required"
    TOTP_REQUIRED = "totp_required"
    WRONG_CODE = "wrong_code"
    TOTP_THROTTLED = "totp_throttled"


class ConfirmRejected(Exception):
    def __init__(self, failure: ConfirmFailure, attempts_left: int | None = None) -> None:
        super().__init__(failure.value)
        self.failure = failure
        self.attempts_left = attempts_left


@dataclass(frozen=True)
class LinkInfo:
    requires_totp: bool
    expires_at: datetime


class PasswordResets:
    def __init__(
        self,
        repo: RequestsRepository,
        identity: IdentityClient,
        *,
        hash_keys: KeyRing,
        seal_keys: KeyRing,
        public_origin: str,
        ttl: timedelta,
        max_attempts: int,
        limits: RequestLimits,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._repo = repo
        self._identity = identity
        self._hash_keys = hash_keys
        self._seal_keys = seal_keys
        self._origin = public_origin
        self._ttl = ttl
        self._max_attempts = max_attempts
        self._limits = limits
        self._clock = clock

    async def request(self, email: str, client_ip: str | None) -> IssuedCode:
        """Issue a code for any email. Known and unknown emails take the same path (lookup,
        secrets, sealing, one transaction) so neither the answer nor its timing differs; only a
        known account keeps its request and gets an email: now, or over the per-account limit
        coalesced into the account's next email (which carries the newest link and accepts this
        code). ``client_ip`` None: an internal caller, counted in no client's bucket."""
        now = self._clock()
        code = new_verification_code()
        account = await self._identity.lookup(email)
        token = new_link_token()
        request_id = uuid.uuid4()
        account_id = account.account_id if account else uuid.uuid4()
        # Mail goes to the address identity stored, never to the string typed here: a
        # look-alike that matched an account must not receive that account's link.
        recipient = account.email if account else email
        link = f"{self._origin}/reset-password?{urlencode({'token': token})}"
        event = ResetRequestedV1(
            request_id=request_id,
            account_id=account_id,
            email=recipient,
            requested_at=now,
            expires_at=now + self._ttl,
            sealed_link=seal(
                link,
                key=self._seal_keys.current,
                kid=self._seal_keys.current_id,
                associated_data=reset_link_binding(
                    request_id=request_id, account_id=account_id, recipient=recipient
                ),
            ),
        )
        event_id = uuid.uuid4()
        key = self._hash_keys.current
        decision = await self._repo.record_request(
            NewRequest(
                id=request_id,
                account_id=account_id,
                token_hash=keyed_hash(key, token),
                code_hash=keyed_hash(key, code),
                hash_key_id=self._hash_keys.current_id,
                requires_totp=bool(account and account.totp_enabled),
                expires_at=event.expires_at,
            ),
            cloudevents_kafka.encode(
                event,
                source=EVENT_SOURCE,
                event_id=str(event_id),
                extensions=tracing.event_extensions(),
            ),
            event_id,
            ip_limit=self._limits.for_ip(key, client_ip) if client_ip is not None else None,
            account_limit=self._limits.for_email(key, email),
            keep=account is not None,
            now=now,
        )
        if not decision.allowed:
            RESET_REQUESTS.labels("ip_limited").inc()
            raise RateLimited(decision.retry_after_seconds)
        # One outcome for known and unknown emails: a metric must not tell them apart.
        RESET_REQUESTS.labels("accepted").inc()
        return IssuedCode(code, int(self._ttl.total_seconds()))

    async def send_due_emails(self) -> int:
        """Send the coalesced emails whose account has room in its window again."""
        return await self._repo.send_due_emails(
            max_hits=self._limits.account_max, window=self._limits.window, now=self._clock()
        )

    def _token_hashes(self, token: str) -> list[bytes]:
        return [keyed_hash(key, token) for key in self._hash_keys.keys.values()]

    async def _found(self, request: StoredRequest | None, client_ip: str | None) -> StoredRequest:
        """The request, or a counted miss for this client: 429 after a few in a window."""
        if request is None and client_ip is not None:
            limit = self._limits.for_link_misses(self._hash_keys.current, client_ip)
            decision = await self._repo.count_unknown_token(limit, self._clock())
            if not decision.allowed:
                RESET_CONFIRMATIONS.labels("link_misses_limited").inc()
                raise RateLimited(decision.retry_after_seconds)
        return self._usable(request)

    def _usable(self, request: StoredRequest | None) -> StoredRequest:
        if (
            request is None
            or request.used_at is not None
            or request.revoked_at is not None
            or request.expires_at <= self._clock()
        ):
            raise ConfirmRejected(ConfirmFailure.LINK_INVALID)
        if request.failed_attempts >= self._max_attempts:
            raise ConfirmRejected(ConfirmFailure.TOO_MANY_ATTEMPTS)
        return request

    async def inspect_link(self, token: str, client_ip: str | None = None) -> LinkInfo:
        """For the page behind the link; reading never consumes it."""
        found = await self._repo.find_by_token(self._token_hashes(token))
        request = await self._found(found, client_ip)
        return LinkInfo(requires_totp=request.requires_totp, expires_at=request.expires_at)

    async def confirm(
        self,
        *,
        token: str,
        new_password: str,
        code: str | None,
        totp_code: str | None = None,
        recovery_code: str | None = None,
        client_ip: str | None = None,
    ) -> None:
        """Set the new password if link and code (or second factor) are right; single use."""
        try:
            await self._confirm(
                token, new_password, code, SecondFactor(totp_code, recovery_code), client_ip
            )
        except ConfirmRejected as exc:
            RESET_CONFIRMATIONS.labels(exc.failure.value).inc()
            raise
        except PasswordRejected:
            RESET_CONFIRMATIONS.labels("password_rejected").inc()
            raise
        RESET_CONFIRMATIONS.labels("success").inc()

    async def _confirm(
        self,
        token: str,
        new_password: str,
        code: str | None,
        second_factor: SecondFactor,
        client_ip: str | None,
    ) -> None:
        failure: ConfirmRejected | None = None
        async with self._repo.lock_by_token(self._token_hashes(token)) as locked:
            if locked.request is None:
                # A token that matches nothing: counted per client, after this transaction.
                failure = ConfirmRejected(ConfirmFailure.LINK_INVALID)
            else:
                failure = await self._check(locked, code, new_password, second_factor, client_ip)
        if locked.request is None:
            await self._found(None, client_ip)
        # Raised after the block, so the failure count above is committed, not rolled back.
        if failure is not None:
            raise failure

    async def _check(
        self,
        locked: LockedRequest,
        code: str | None,
        new_password: str,
        second_factor: SecondFactor,
        client_ip: str | None,
    ) -> ConfirmRejected | None:
        """Check the code (or pass the second factor on) and set the password; the failure to
        raise once the row's transaction has committed its count, if any."""
        failure: ConfirmRejected | None = None
        request = self._usable(locked.request)
        if request.requires_totp:
            # The verification code alone never suffices when two-factor is on.
            if not second_factor:
                raise ConfirmRejected(ConfirmFailure.TOTP_REQUIRED)
        elif not code:
            raise ConfirmRejected(ConfirmFailure.CODE_REQUIRED)
        elif not self._code_matches(request, code):
            failure = await self._failed(locked, ConfirmFailure.WRONG_CODE)
        if failure is None:
            try:
                await self._identity.set_password(
                    request.account_id,
                    new_password,
                    second_factor if request.requires_totp else None,
                    client_ip,
                )
            except TotpInvalid as exc:
                if exc.throttled:
                    raise ConfirmRejected(ConfirmFailure.TOTP_THROTTLED) from exc
                failure = await self._failed(locked, ConfirmFailure.WRONG_CODE)
            else:
                await locked.mark_used(self._clock())
        return failure

    def _code_matches(self, request: StoredRequest, code: str) -> bool:
        """This request's code, or one of the requests it replaced (carried over). Every stored
        hash is compared, in constant time each, so the time says nothing about which matched."""
        presented = keyed_hash(self._hash_keys.keys[request.hash_key_id], normalise_code(code))
        matches = [
            same_secret(presented, h) for h in (request.code_hash, *request.carried_code_hashes)
        ]
        return any(matches)

    async def _failed(self, locked: LockedRequest, kind: ConfirmFailure) -> ConfirmRejected:
        attempts = await locked.record_failure()
        left = max(self._max_attempts - attempts, 0)
        return ConfirmRejected(ConfirmFailure.TOO_MANY_ATTEMPTS if left == 0 else kind, left)


__all__ = [
    "ConfirmFailure",
    "ConfirmRejected",
    "IssuedCode",
    "PasswordRejected",
    "PasswordResets",
    "RateLimited",
    "RequestLimits",
    "SecondFactor",
]
