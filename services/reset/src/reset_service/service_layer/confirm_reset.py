"""Use case: set the new password with the link's token and the code (or second factor).

The request row stays locked for the whole confirmation, identity's answer included, so
concurrent confirmations of one link queue and exactly one can use it. A wrong code is counted
and committed before the refusal is raised; the last allowed one burns the request.
"""

from reset_service.domain.reset_request import ConfirmFailure, ResetRequest
from reset_service.metrics import RESET_CONFIRMATIONS
from reset_service.service_layer.clock import Clock
from reset_service.service_layer.errors import ConfirmRejected, PasswordRejected
from reset_service.service_layer.identity import (
    Identity,
    SecondFactor,
    TotpInvalid,
    TwoFactorOff,
)
from reset_service.service_layer.link_misses import LinkMisses
from reset_service.service_layer.policy import ResetPolicy
from reset_service.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory


class ConfirmReset:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        identity: Identity,
        policy: ResetPolicy,
        clock: Clock,
        misses: LinkMisses,
    ) -> None:
        self._uow = uow
        self._identity = identity
        self._policy = policy
        self._clock = clock
        self._misses = misses

    async def __call__(
        self,
        *,
        token: str,
        new_password: str,
        code: str | None,
        totp_code: str | None = None,
        recovery_code: str | None = None,
        client_ip: str | None = None,
        language: str | None = None,
    ) -> None:
        """Set the new password if link and code (or second factor) are right; single use.
        Raises ConfirmRejected, RateLimited (unknown tokens), PasswordRejected,
        IdentityUnavailable. ``language``: the one the person set it in, which identity keeps
        on the account for the emails it sends later (None: leave the account's as it is)."""
        try:
            await self._confirm(
                token,
                new_password,
                code,
                SecondFactor(totp_code, recovery_code),
                client_ip,
                language,
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
        language: str | None,
    ) -> None:
        failure: ConfirmRejected | None = None
        async with self._uow() as uow:
            request = await uow.requests.lock_by_token(self._policy.token_hashes(token))
            if request is not None:
                failure = await self._check(
                    uow, request, code, new_password, second_factor, client_ip, language
                )
            await uow.commit()
        if request is None:
            # A token that matches nothing: counted per client, after the row transaction.
            raise await self._misses.refuse(client_ip)
        # Raised after the commit, so the wrong-code count is kept, not rolled back.
        if failure is not None:
            raise failure

    async def _check(
        self,
        uow: UnitOfWork,
        request: ResetRequest,
        code: str | None,
        new_password: str,
        second_factor: SecondFactor,
        client_ip: str | None,
        language: str | None,
    ) -> ConfirmRejected | None:
        """Check the code (or pass the second factor on) and set the password; the failure to
        raise once the row's transaction has committed its count, if any. Refusals that count
        nothing are raised at once (and roll back: nothing was written)."""
        refusal = request.refusal(self._clock(), self._policy.max_attempts) or (
            request.missing_proof(code, bool(second_factor))
        )
        if refusal is not None:
            raise ConfirmRejected(refusal)
        if not request.requires_totp:
            key = self._policy.hash_keys.keys[request.hash_key_id]
            if not request.accepts_code(code, key):
                return await self._wrong_proof(uow, request)
        try:
            await self._identity.set_password(
                request.account_id,
                new_password,
                second_factor if request.requires_totp else None,
                client_ip,
                language,
            )
        except TwoFactorOff as exc:
            # Whatever code was sent, it is not wrong: the reset is out of date (raised now,
            # so nothing is counted).
            raise ConfirmRejected(ConfirmFailure.RESET_OUTDATED) from exc
        except TotpInvalid as exc:
            if exc.throttled:
                raise ConfirmRejected(ConfirmFailure.TOTP_THROTTLED) from exc
            return await self._wrong_proof(uow, request)
        now = self._clock()
        await uow.requests.mark_used(request.id, now)
        # One reset per account: every other open request of it is revoked with this one used.
        await uow.requests.revoke_open(request.account_id, now)
        return None

    async def _wrong_proof(self, uow: UnitOfWork, request: ResetRequest) -> ConfirmRejected:
        request.failed_attempts = await uow.requests.count_failed_attempt(request.id)
        max_attempts = self._policy.max_attempts
        return ConfirmRejected(
            request.wrong_proof(max_attempts), request.attempts_left(max_attempts)
        )
