"""Registration that tells nobody who has an account, and lets nobody claim an address they do
not receive mail at.

Every request gets the same answer, takes the same steps (a hash, one transaction) and leads to
one email at most: for a new address a link that creates the account, for an address that has
one a notice saying so. The account exists only once the link was followed. So an anonymous
client learns nothing from registering, and nobody can take another person's address first.
"""

import secrets
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pwreset_contracts.emails import normalise_email
from servicekit.client_network import client_network

from identity_service.domain.login_throttle import ThrottleRule
from identity_service.domain.passwords import PasswordPolicy, check_password
from identity_service.domain.registrations import CompletedRegistration, PendingRegistration
from identity_service.domain.undo_links import token_digest
from identity_service.service_layer.errors import LoginThrottled, RegistrationLinkInvalid
from identity_service.service_layer.login_throttle import LoginThrottle
from identity_service.service_layer.notices import Notices
from identity_service.service_layer.ports import PasswordHashing
from identity_service.service_layer.unit_of_work import UnitOfWorkFactory

# Requests from one client IP (over it: 429), and emails to one address (over it: the same
# answer, no email), each with a growing delay after the free ones.
PER_IP = ThrottleRule("register_ip", 10, timedelta(minutes=15))
PER_ADDRESS = ThrottleRule("register_address", 3, timedelta(hours=1))


@dataclass(frozen=True)
class RegistrationPolicy:
    ttl: timedelta = timedelta(hours=24)
    per_ip: ThrottleRule = PER_IP
    per_address: ThrottleRule = PER_ADDRESS


class Registrations:
    def __init__(
        self,
        uow: UnitOfWorkFactory,
        hashing: PasswordHashing,
        throttle: LoginThrottle,
        notices: Notices,
        password_policy: PasswordPolicy,
        policy: RegistrationPolicy,
        now: Callable[[], datetime],
    ) -> None:
        self._uow = uow
        self._hashing = hashing
        self._throttle = throttle
        self._notices = notices
        self._password_policy = password_policy
        self._policy = policy
        self._now = now

    async def request(self, email: str, password: str, client_ip: str, locale: str = "en") -> None:
        """PasswordRejected (a weak password, whoever the address belongs to), LoginThrottled
        (this client asked too often), HashingBusy; otherwise the same for every address.
        ``locale``: the language the request was made in; the verification email is written in
        it (an address that has an account gets its notice in the account's language)."""
        password = check_password(
            password, email=email, totp_enabled=False, policy=self._password_policy
        )
        now = self._now()
        by_ip = await self._throttle.count(self._policy.per_ip, now, client_network(client_ip))
        if not by_ip.allowed:
            raise LoginThrottled(by_ip.retry_after)
        async with self._hashing.shared_slot():
            password_hash = await self._hashing.hash(password)
        key = normalise_email(email)  # the schema refused what it cannot normalise
        mail = await self._throttle.count(self._policy.per_address, now, key)
        async with self._uow() as uow:
            existing = await uow.accounts.by_email_key(key)
        registration_id = uuid.uuid4()
        expires_at = now + self._policy.ttl
        token = None if existing else secrets.token_urlsafe(32)
        recipient = existing.email if existing else email
        event_id, event = self._notices.registration(
            registration_id,
            recipient,
            token,
            expires_at,
            # Whoever asked, the notice goes to the owner of the address: in their language.
            existing.locale if existing else locale,
        )
        async with self._uow() as uow:
            await uow.registrations.add(
                PendingRegistration(
                    registration_id=registration_id,
                    email=recipient,
                    password_hash=None if existing else password_hash,
                    token_hash=token_digest(token) if token else None,
                    expires_at=expires_at,
                )
            )
            if mail.allowed:  # over the address's limit: stored all the same, but no email
                await uow.outbox.add(event_id, event)
            await uow.commit()

    async def complete(self, token: str) -> CompletedRegistration:
        """Create the account of an unused, unexpired request (once); RegistrationLinkInvalid
        if the token matches nothing usable or the address got an account in the meantime."""
        account_id = uuid.uuid4()
        async with self._uow() as uow:
            verified = await uow.registrations.use(token_digest(token), self._now())
            if verified is None:
                raise RegistrationLinkInvalid
            created = await uow.accounts.add_if_absent(
                account_id,
                verified.email,
                normalise_email(verified.email),
                verified.password_hash,
            )
            await uow.commit()  # the token stays used even when the address is taken now
        if not created:
            raise RegistrationLinkInvalid
        return CompletedRegistration(account_id, verified.email)

    async def prune(self) -> int:
        """Requests past their lifetime: their password hashes are kept no longer."""
        now = self._now()
        async with self._uow() as uow:
            pruned = await uow.registrations.prune(now)
            await uow.commit()
        return pruned
