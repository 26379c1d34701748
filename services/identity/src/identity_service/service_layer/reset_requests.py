"""What the reset service asks identity for over the internal API: who an address belongs to,
whether an authenticator code is right, and the new password once its link and code checked
out. The second factor is checked here, never skipped: an email reset does not bypass it."""

import dataclasses
from uuid import UUID

from identity_service import security_events
from identity_service.domain.accounts import Account
from identity_service.domain.passwords import PasswordPolicy, check_password
from identity_service.domain.second_factor import SecondFactor
from identity_service.metrics import PASSWORD_CHANGES
from identity_service.security_events import SecurityEvent
from identity_service.service_layer.credentials import Credentials
from identity_service.service_layer.errors import TotpRejected, TwoFactorNotOn
from identity_service.service_layer.notices import Notices, announce
from identity_service.service_layer.ports import PasswordHashing
from identity_service.service_layer.second_factor import SecondFactorCheck
from identity_service.service_layer.unit_of_work import UnitOfWorkFactory


class ResetRequests:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        credentials: Credentials,
        second_factor: SecondFactorCheck,
        hashing: PasswordHashing,
        notices: Notices,
        policy: PasswordPolicy,
    ) -> None:
        self._uow = uow
        self._credentials = credentials
        self._second_factor = second_factor
        self._hashing = hashing
        self._notices = notices
        self._policy = policy

    async def lookup(self, email: str) -> Account | None:
        return await self._credentials.lookup(email)

    async def verify_totp(self, account_id: UUID, code: str) -> bool:
        """Whether the code is right (and now used); counted like every second-factor attempt."""
        account = await self._credentials.require(account_id)
        if not account.totp_enabled:
            return False
        try:
            await self._second_factor.check(account, SecondFactor(totp_code=code))
        except TotpRejected:
            return False
        return True

    async def set_password(
        self,
        account_id: UUID,
        password: str,
        factor: SecondFactor,
        client_ip: str | None,
        locale: str | None = None,
    ) -> None:
        """The new password, with the second factor when it is on: PasswordRejected,
        TotpRejected, TwoFactorNotOn (a second factor for an account without two-factor) or
        AccountNotFound, else one transaction that stores the hash, moves the
        credentials epoch on (no login that checked the old password ends in a session),
        revokes every session, and writes the "This wasn't me" token and PasswordChanged.
        ``locale``: the language the new password was set in; kept on the account, and the
        PasswordChanged email is written in it (None: the account's, unchanged)."""
        account = await self._credentials.require(account_id)
        password = check_password(
            password, email=account.email, totp_enabled=account.totp_enabled, policy=self._policy
        )
        if account.totp_enabled:
            if not factor:
                raise TotpRejected("enter the code from your authenticator app")
            await self._second_factor.check(account, factor, client_ip)
        elif factor:
            # reset sends a second factor only for a request asked for while two-factor was on,
            # which it confirms without the on-screen code. Turned off since (support removed
            # it), nothing is left to check: any six digits would make the link alone enough.
            # The person asks for a new reset, which asks for the on-screen code. Refused as
            # what it is, not as a wrong code: reset tells the person so, and counts nothing.
            raise TwoFactorNotOn("two-factor authentication is off now: ask for a new reset")
        # The lane of its own: no flood of logins makes a reset's confirm wait.
        password_hash = await self._hashing.hash_for_change(password)
        if locale is not None:
            account = dataclasses.replace(account, locale=locale)
        notice = self._notices.password_changed(account, client_ip)
        async with self._uow() as uow:
            await uow.accounts.change_password(account_id, password_hash, locale)
            await uow.sessions.revoke_all(account_id)
            await announce(uow, account_id, notice)
            await uow.commit()
        PASSWORD_CHANGES.inc()
        security_events.record(
            SecurityEvent.PASSWORD_CHANGED, account_id=account_id, client_ip=client_ip
        )
