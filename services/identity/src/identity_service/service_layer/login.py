"""Logging in: the password under the failed-login limits, then the second factor when it is
on, then a session written only if the credentials are still those that were checked."""

from identity_service import security_events
from identity_service.domain.second_factor import SecondFactor
from identity_service.metrics import LOGINS
from identity_service.security_events import SecurityEvent
from identity_service.service_layer.credentials import Credentials
from identity_service.service_layer.errors import (
    AuthFailed,
    HashingBusy,
    LoginThrottled,
    TotpRejected,
)
from identity_service.service_layer.second_factor import SecondFactorCheck
from identity_service.service_layer.sessions import Sessions


class Login:
    def __init__(
        self, credentials: Credentials, second_factor: SecondFactorCheck, sessions: Sessions
    ) -> None:
        self._credentials = credentials
        self._second_factor = second_factor
        self._sessions = sessions

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

    async def _login(self, email: str, password: str, factor: SecondFactor, client_ip: str) -> str:
        account, needs_rehash = await self._credentials.verify_password(
            email, password, client_ip, lambda: self._credentials.lookup(email)
        )
        if account is None:
            raise AuthFailed("invalid_credentials")
        if account.totp_enabled:
            if not factor:
                raise AuthFailed("totp_required")
            try:
                await self._second_factor.check(account, factor, client_ip)
            except TotpRejected as exc:
                raise AuthFailed(exc.reason) from exc
        if needs_rehash:
            await self._credentials.rehash(account, password)
        token = await self._sessions.start(account)
        if token is None:
            # The password (or the second factor) changed, or every session was signed out,
            # while this login was being checked.
            raise AuthFailed("invalid_credentials")
        return token
