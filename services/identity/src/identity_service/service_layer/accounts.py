"""Identity's account use cases as the one object routes and tests hold: it builds each use
case (one module each) from the ports it is given, and names what identity does."""

import time
from datetime import UTC, datetime, timedelta
from uuid import UUID

from identity_service.domain.accounts import Account
from identity_service.domain.passwords import PasswordPolicy
from identity_service.domain.second_factor import SecondFactor
from identity_service.domain.undo_links import UndoKind
from identity_service.service_layer.credentials import Credentials
from identity_service.service_layer.login import Login
from identity_service.service_layer.login_throttle import LoginThrottle
from identity_service.service_layer.notices import ChangeNotice, Notices
from identity_service.service_layer.ports import Clock, PasswordHashing, ResetStarter, SecretBox
from identity_service.service_layer.repositories import AccountReads
from identity_service.service_layer.reset_requests import ResetRequests
from identity_service.service_layer.second_factor import SecondFactorCheck, SecondFactorPolicy
from identity_service.service_layer.seeding import AccountSeeding
from identity_service.service_layer.sessions import Sessions
from identity_service.service_layer.two_factor import TotpSetup, TwoFactorSetup
from identity_service.service_layer.undo import Undo, UndoDone
from identity_service.service_layer.unit_of_work import UnitOfWorkFactory


class AccountService:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        reads: AccountReads,
        hashing: PasswordHashing,
        throttle: LoginThrottle,
        secret_box: SecretBox,
        resets: ResetStarter,
        policy: PasswordPolicy,
        second_factor: SecondFactorPolicy,
        notice: ChangeNotice,
        *,
        totp_issuer: str,
        session_ttl: timedelta,
        clock: Clock = time.time,
    ) -> None:
        self._clock = clock
        self._throttle = throttle
        notices = Notices(notice, self._now)
        checker = SecondFactorCheck(uow, secret_box, second_factor, clock)
        self.credentials = Credentials(uow, reads, hashing, throttle, self._now)
        self.sessions = Sessions(uow, session_ttl, self._now)
        self.seeding = AccountSeeding(uow, hashing, policy)
        self.logins = Login(self.credentials, checker, self.sessions)
        self.two_factor = TwoFactorSetup(
            uow,
            self.credentials,
            checker,
            secret_box,
            notices,
            second_factor,
            issuer=totp_issuer,
            clock=clock,
        )
        self.reset_requests = ResetRequests(
            uow, self.credentials, checker, hashing, notices, policy
        )
        self.undo = Undo(uow, self.sessions, resets, self._now)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), UTC)

    # People, through the public API and pages.

    async def login(
        self, email: str, password: str, factor: SecondFactor, client_ip: str = "unknown"
    ) -> str:
        """A session token; AuthFailed, LoginThrottled (429), HashingBusy (503)."""
        return await self.logins.login(email, password, factor, client_ip)

    async def account_of_session(self, token: str) -> UUID | None:
        return await self.sessions.account_of(token)

    async def end_session(self, token: str) -> bool:
        return await self.sessions.end(token)

    async def start_totp(self, account_id: UUID) -> TotpSetup:
        return await self.two_factor.start(account_id)

    async def activate_totp(
        self, account_id: UUID, code: str, password: str, client_ip: str = "unknown"
    ) -> list[str]:
        """The recovery codes; ReauthenticationFailed, TotpRejected, LoginThrottled."""
        return await self.two_factor.activate(account_id, code, password, client_ip)

    async def disable_totp(
        self, account_id: UUID, password: str, factor: SecondFactor, client_ip: str = "unknown"
    ) -> None:
        """ReauthenticationFailed, TotpRejected, LoginThrottled."""
        await self.two_factor.disable(account_id, password, factor, client_ip)

    async def undo_kind(self, token: str) -> UndoKind | None:
        return await self.undo.kind(token)

    async def this_wasnt_me(self, token: str) -> UndoDone | None:
        """Signed out everywhere, two-factor someone else turned on off, a fresh reset started;
        None for a link that is unknown, used or expired."""
        return await self.undo.this_wasnt_me(token)

    # The reset service, through the internal API.

    async def lookup(self, email: str) -> Account | None:
        return await self.reset_requests.lookup(email)

    async def verify_totp(self, account_id: UUID, code: str) -> bool:
        """AccountNotFound."""
        return await self.reset_requests.verify_totp(account_id, code)

    async def set_password(
        self,
        account_id: UUID,
        password: str,
        factor: SecondFactor,
        client_ip: str | None,
        locale: str | None = None,
    ) -> None:
        """AccountNotFound, PasswordRejected, TotpRejected."""
        await self.reset_requests.set_password(account_id, password, factor, client_ip, locale)

    # Operators and housekeeping.

    async def create_account(self, email: str, password: str) -> UUID:
        """An account for an address taken on trust (seeding tools only); EmailTaken."""
        return await self.seeding.create(email, password)

    async def prune_login_throttle(self) -> int:
        return await self._throttle.prune(self._now())
