"""Use cases of identity: register, log in, two-factor, and what the reset service asks for."""

import asyncio
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from uuid import UUID

from identity_service.adapters.accounts_repository import Account, AccountsRepository
from identity_service.adapters.secret_box import SecretBox
from identity_service.domain import sessions, totp
from identity_service.domain.passwords import Argon2Hasher, PasswordPolicy, check_password


class AuthFailed(Exception):
    """Login refused; ``reason`` is safe to return to the client."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class AccountNotFound(Exception):
    pass


class TotpRejected(Exception):
    pass


@dataclass(frozen=True)
class TotpSetup:
    secret: str
    provisioning_uri: str


class AccountService:
    def __init__(
        self,
        repo: AccountsRepository,
        hasher: Argon2Hasher,
        secret_box: SecretBox,
        policy: PasswordPolicy,
        *,
        totp_issuer: str,
        session_ttl: timedelta,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._repo = repo
        self._hasher = hasher
        self._box = secret_box
        self._policy = policy
        self._issuer = totp_issuer
        self._session_ttl = session_ttl
        self._clock = clock
        # Verified against for unknown emails, so a login takes as long whether or not they exist.
        self._decoy_hash = hasher.hash("decoy password that no account has")

    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(self._hasher.hash, password)

    async def _verify(self, stored: str, password: str) -> tuple[bool, bool]:
        return await asyncio.to_thread(self._hasher.verify, stored, password)

    async def register(self, email: str, password: str) -> UUID:
        password = check_password(password, email=email, totp_enabled=False, policy=self._policy)
        account_id = uuid.uuid4()
        await self._repo.add(account_id, email, await self._hash(password))
        return account_id

    async def login(self, email: str, password: str, totp_code: str | None) -> str:
        account = await self._repo.by_email(email)
        ok, needs_rehash = await self._verify(
            account.password_hash if account else self._decoy_hash, password
        )
        if account is None or not ok:
            raise AuthFailed("invalid_credentials")
        if account.totp_enabled:
            if not totp_code:
                raise AuthFailed("totp_required")
            if not await self._accept_totp(account, totp_code):
                raise AuthFailed("totp_invalid")
        if needs_rehash:
            await self._repo.upgrade_hash(
                account.id, account.password_hash, await self._hash(password)
            )
        token = sessions.new_session_token()
        expires = datetime.now(UTC) + self._session_ttl
        await self._repo.add_session(
            uuid.uuid4(), account.id, sessions.token_digest(token), expires
        )
        return token

    async def account_of_session(self, token: str) -> UUID | None:
        return await self._repo.account_of_session(sessions.token_digest(token), datetime.now(UTC))

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

    async def activate_totp(self, account_id: UUID, code: str) -> None:
        account = await self._require(account_id)
        if account.totp_enabled or account.totp_secret_enc is None:
            raise TotpRejected("no pending two-factor setup")
        if not await self._accept_totp(account, code, enable=True):
            raise TotpRejected("the authenticator code is not valid")

    async def lookup(self, email: str) -> Account | None:
        return await self._repo.by_email(email)

    async def verify_totp(self, account_id: UUID, code: str) -> bool:
        account = await self._require(account_id)
        return account.totp_enabled and await self._accept_totp(account, code)

    async def set_password(self, account_id: UUID, password: str, totp_code: str | None) -> None:
        """Called by the reset service once it has checked link and code; TOTP checked here."""
        account = await self._require(account_id)
        password = check_password(
            password, email=account.email, totp_enabled=account.totp_enabled, policy=self._policy
        )
        if account.totp_enabled and not (totp_code and await self._accept_totp(account, totp_code)):
            raise TotpRejected("the authenticator code is not valid")
        await self._repo.replace_password(account_id, await self._hash(password))

    async def _require(self, account_id: UUID) -> Account:
        account = await self._repo.by_id(account_id)
        if account is None:
            raise AccountNotFound
        return account

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
