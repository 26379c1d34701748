"""Checking a second factor: an authenticator code (each 30 s step accepted once) or an unused
recovery code, under the limits of domain.second_factor. Login, turning two-factor off, and
the reset's password change all go through ``SecondFactorCheck.check``."""

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from identity_service import security_events
from identity_service.domain import recovery_codes, totp
from identity_service.domain.accounts import Account
from identity_service.domain.second_factor import (
    AttemptLimits,
    SecondFactor,
    SecondFactorAttempt,
)
from identity_service.security_events import SecurityEvent
from identity_service.service_layer.errors import TotpRejected
from identity_service.service_layer.ports import Clock, SecretBox
from identity_service.service_layer.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True)
class SecondFactorPolicy:
    max_failures: int
    window: timedelta
    recovery_key: bytes
    recovery_count: int
    # NIST SP 800-63B: at most 100 consecutive failed attempts on one account.
    lockout_after: int = 100

    @property
    def limits(self) -> AttemptLimits:
        return AttemptLimits(self.window, self.max_failures, self.lockout_after)


class SecondFactorCheck:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        secret_box: SecretBox,
        policy: SecondFactorPolicy,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._box = secret_box
        self._policy = policy
        self._clock = clock

    async def check(
        self, account: Account, factor: SecondFactor, client_ip: str | None = None
    ) -> None:
        """Accept the factor, or TotpRejected. The attempt is counted (and committed) before its
        code is checked: however many arrive at once, only the allowed number are checked."""
        async with self._uow() as uow:
            reservation = await uow.accounts.reserve_second_factor_attempt(
                account.id,
                datetime.fromtimestamp(self._clock(), UTC),
                self._policy.limits,
                recovery_code=bool(factor.recovery_code),
            )
            await uow.commit()
        if reservation.verdict is SecondFactorAttempt.LOCKED:
            raise TotpRejected(
                "too many wrong codes in a row; use a recovery code or contact support",
                locked=True,
            )
        if reservation.verdict is SecondFactorAttempt.THROTTLED:
            raise TotpRejected("too many wrong codes; wait and try again", throttled=True)
        if factor.recovery_code:
            accepted = await self._accept_recovery_code(account, factor.recovery_code)
        else:
            accepted = await self._accept_totp(account, factor.totp_code or "", client_ip)
        if accepted:
            return
        security_events.record(
            SecurityEvent.SECOND_FACTOR_WRONG,
            account_id=account.id,
            client_ip=client_ip,
            kind="recovery_code" if factor.recovery_code else "totp",
        )
        if reservation.consecutive_failures == self._policy.lockout_after:
            security_events.record(
                SecurityEvent.ACCOUNT_LOCKED, account_id=account.id, client_ip=client_ip
            )
        raise TotpRejected(
            "the code is not valid",
            throttled=reservation.failures_in_window >= self._policy.max_failures,
        )

    async def _accept_recovery_code(self, account: Account, code: str) -> bool:
        if not recovery_codes.looks_like_recovery_code(code):
            return False
        async with self._uow() as uow:
            used = await uow.recovery_codes.use(
                account.id, recovery_codes.digest(self._policy.recovery_key, code)
            )
            await uow.commit()
        return used

    async def _accept_totp(self, account: Account, code: str, client_ip: str | None) -> bool:
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
        if not match.replayed:
            async with self._uow() as uow:
                claimed = await uow.accounts.claim_totp_step(account.id, match.step)
                await uow.commit()
            if claimed:
                return True
        security_events.record(
            SecurityEvent.TOTP_REPLAYED, account_id=account.id, client_ip=client_ip
        )
        return False
