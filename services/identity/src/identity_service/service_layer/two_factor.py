"""Turning two-factor on and off from a session. Each needs the password again (a stolen
session alone must not lock the owner out, nor drop the owner's second factor), turning it off
also a current code, and each change is announced to the account holder with a "This wasn't
me" link that undoes it."""

from dataclasses import dataclass
from uuid import UUID

from identity_service import security_events
from identity_service.domain import recovery_codes, totp
from identity_service.domain.accounts import Account
from identity_service.domain.second_factor import SecondFactor
from identity_service.security_events import SecurityEvent
from identity_service.service_layer.credentials import Credentials
from identity_service.service_layer.errors import TotpRejected
from identity_service.service_layer.notices import AccountNotice, Notices, announce
from identity_service.service_layer.ports import Clock, SecretBox
from identity_service.service_layer.second_factor import SecondFactorCheck, SecondFactorPolicy
from identity_service.service_layer.unit_of_work import UnitOfWork, UnitOfWorkFactory


@dataclass(frozen=True)
class TotpSetup:
    secret: str
    provisioning_uri: str


async def turn_off(uow: UnitOfWork, account_id: UUID, notice: AccountNotice | None) -> bool:
    """Two-factor off in ``uow``: secret and recovery codes gone, logins in flight void, and
    the notice if there is one. False if it was off already."""
    if not await uow.accounts.disable_second_factor(account_id):
        return False
    await uow.recovery_codes.delete_all(account_id)
    if notice is not None:
        await announce(uow, account_id, notice)
    return True


class TwoFactorSetup:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        credentials: Credentials,
        second_factor: SecondFactorCheck,
        secret_box: SecretBox,
        notices: Notices,
        policy: SecondFactorPolicy,
        *,
        issuer: str,
        clock: Clock,
    ) -> None:
        self._uow = uow
        self._credentials = credentials
        self._second_factor = second_factor
        self._box = secret_box
        self._notices = notices
        self._policy = policy
        self._issuer = issuer
        self._clock = clock

    async def start(self, account_id: UUID) -> TotpSetup:
        """A new secret for the person's authenticator, kept (encrypted) until activated."""
        account = await self._credentials.require(account_id)
        if account.totp_enabled:
            raise TotpRejected("two-factor authentication is already on")
        secret = totp.new_secret()
        async with self._uow() as uow:
            await uow.accounts.store_pending_totp(
                account_id, self._box.encrypt(secret, context=str(account_id))
            )
            await uow.commit()
        uri = totp.provisioning_uri(secret, account_name=account.email, issuer=self._issuer)
        return TotpSetup(secret=secret, provisioning_uri=uri)

    async def activate(
        self, account_id: UUID, code: str, password: str, client_ip: str = "unknown"
    ) -> list[str]:
        """Turn two-factor on; returns the recovery codes, shown this once."""
        account = await self._credentials.reauthenticate(account_id, password, client_ip)
        if not account.totp_setup_pending or account.totp_secret_enc is None:
            raise TotpRejected("no pending two-factor setup")
        secret = self._box.decrypt(account.totp_secret_enc, context=str(account.id))
        match = totp.match_code(
            secret, code, now=self._clock(), last_used_step=account.totp_last_step
        )
        codes = recovery_codes.new_recovery_codes(self._policy.recovery_count)
        if (
            match is None
            or match.replayed
            or not await self._turn_on(
                account, account.totp_secret_enc, match.step, codes, client_ip
            )
        ):
            raise TotpRejected("the authenticator code is not valid")
        security_events.record(
            SecurityEvent.SECOND_FACTOR_ENABLED, account_id=account_id, client_ip=client_ip
        )
        return codes

    async def _turn_on(
        self, account: Account, secret_enc: bytes, step: int, codes: list[str], client_ip: str
    ) -> bool:
        """With the code's step claimed, fresh recovery codes and the notice: one transaction.
        False if a request side by side got there first (on already, or the step used), or a
        setup side by side replaced the secret the code was checked against: what is turned on
        is the secret the code proved, never one stored since (by a stolen session, say)."""
        notice = self._notices.second_factor_changed(account, "enabled", client_ip)
        async with self._uow() as uow:
            if not await uow.accounts.enable_second_factor(account.id, step, secret_enc):
                return False
            await uow.recovery_codes.replace(
                account.id, [recovery_codes.digest(self._policy.recovery_key, c) for c in codes]
            )
            await announce(uow, account.id, notice)
            await uow.commit()
        return True

    async def disable(
        self, account_id: UUID, password: str, factor: SecondFactor, client_ip: str = "unknown"
    ) -> None:
        """Turn two-factor off: the password again and a current code (or a recovery code)."""
        account = await self._credentials.reauthenticate(account_id, password, client_ip)
        if not account.totp_enabled:
            raise TotpRejected("two-factor authentication is not on")
        if not factor:
            raise TotpRejected("enter the code from your authenticator app")
        await self._second_factor.check(account, factor, client_ip)
        notice = self._notices.second_factor_changed(account, "disabled", client_ip)
        async with self._uow() as uow:
            turned_off = await turn_off(uow, account_id, notice)
            await uow.commit()
        if turned_off:
            security_events.record(
                SecurityEvent.SECOND_FACTOR_DISABLED, account_id=account_id, client_ip=client_ip
            )
