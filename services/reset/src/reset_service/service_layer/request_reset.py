"""Use case: ask for a password reset (public form and API, and identity's "This wasn't me").

Known and unknown emails take the same path (identity lookup, secrets, sealing, and in one
transaction the same repository calls in the same order) so neither the answer, its timing nor
the statements run tell them apart. Only the last step differs: a known account keeps the
savepoint with its request and email; an unknown one rolls it back and leaves nothing but the
rate-limit hits, which count unknown emails exactly like known ones (docs/security.md).
"""

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from pwreset_contracts import ResetRequestedV1, cloudevents_kafka
from pwreset_contracts.cloudevents_kafka import KafkaRecord
from pwreset_contracts.sealed import reset_link_binding, seal
from servicekit.runtime import tracing

from reset_service.domain.pending_email import PendingEmail
from reset_service.domain.reset_request import ResetRequest
from reset_service.domain.secrets_issued import (
    IssuedCode,
    keyed_hash,
    new_link_token,
    new_verification_code,
    reset_link,
)
from reset_service.metrics import RESET_REQUESTS
from reset_service.service_layer.clock import Clock
from reset_service.service_layer.errors import RateLimited
from reset_service.service_layer.identity import Identity
from reset_service.service_layer.policy import ResetPolicy
from reset_service.service_layer.unit_of_work import UnitOfWorkFactory

EVENT_SOURCE = "/pwreset/reset"


@dataclass(frozen=True)
class _Prepared:
    """Everything a request writes, made before its transaction (no secret leaves it)."""

    request_id: uuid.UUID
    account_id: uuid.UUID
    token_hash: bytes
    code_hash: bytes
    requires_totp: bool
    expires_at: datetime
    event_id: uuid.UUID
    record: KafkaRecord


class RequestReset:
    def __init__(
        self, uow: UnitOfWorkFactory, identity: Identity, policy: ResetPolicy, clock: Clock
    ) -> None:
        self._uow = uow
        self._identity = identity
        self._policy = policy
        self._clock = clock

    async def __call__(self, email: str, client_ip: str | None) -> IssuedCode:
        """Issue a code for any email; a known account also gets an email: now, or over the
        per-account limit coalesced into the account's next email (which carries the newest
        link and accepts this code). ``client_ip`` None: an internal caller (identity's "This
        wasn't me"), counted in no client's bucket, only in the account's."""
        now = self._clock()
        code = new_verification_code()
        account = await self._identity.lookup(email)
        # An unknown email gets a stand-in account: the same work is done for it below.
        prepared = self._prepare(
            code,
            account_id=account.account_id if account else uuid.uuid4(),
            # Mail goes to the address identity stored, never to the string typed here: a
            # look-alike that matched an account must not receive that account's link.
            recipient=account.email if account else email,
            requires_totp=bool(account and account.totp_enabled),
            now=now,
        )
        limits = self._policy.limits
        hash_key = self._policy.hash_keys.current
        account_limit = limits.for_email(hash_key, email)
        async with self._uow() as uow:
            if client_ip is not None:
                by_ip = await uow.rate_limits.take(limits.for_ip(hash_key, client_ip), now)
                if not by_ip.allowed:  # nothing was written
                    await uow.commit()
                    RESET_REQUESTS.labels("ip_limited").inc()
                    raise RateLimited(by_ip.retry_after_seconds)
            # Under the account's lock from here on: one request of it at a time.
            by_account = await uow.rate_limits.take(account_limit, now)

            # The request and its email are written for every email alike, under a savepoint.
            savepoint = await uow.savepoint()
            replaced = await uow.requests.newest_open(
                prepared.account_id, created_after=now - limits.window, now=now
            )
            # The newest request is never dropped: it revokes the older ones but takes over
            # their codes and their wrong-code count (ResetRequest.issue).
            await uow.requests.revoke_open(prepared.account_id, now)
            await uow.requests.add(self._new_request(prepared, replaced, now))
            if by_account.allowed:
                await uow.outbox.add(prepared.event_id, prepared.record)
                # The email going out now carries a newer link than any pending one.
                await uow.deferred_emails.cancel(prepared.account_id)
            else:
                # Over the account's limit: the email waits, coalesced, for room in the window.
                await uow.deferred_emails.defer(
                    PendingEmail(
                        prepared.account_id,
                        prepared.request_id,
                        prepared.event_id,
                        account_limit.subject,
                        prepared.record,
                    ),
                    due_at=now + timedelta(seconds=by_account.retry_after_seconds),
                )

            # The one difference between a known and an unknown email, after the same work.
            if account is not None:
                await savepoint.keep()
            else:
                await savepoint.rollback()
            await uow.commit()
        # One outcome for known and unknown emails: a metric must not tell them apart.
        RESET_REQUESTS.labels("accepted").inc()
        return IssuedCode(code, int(self._policy.ttl.total_seconds()))

    async def from_identity(self, email: str) -> IssuedCode:
        """identity's "This wasn't me" (internal API): from identity's few pod addresses, so
        outside every client's per-IP bucket; the per-account limit still holds."""
        return await self(email, None)

    def _prepare(
        self,
        code: str,
        *,
        account_id: uuid.UUID,
        recipient: str,
        requires_totp: bool,
        now: datetime,
    ) -> _Prepared:
        """The new request's secrets (as keyed hashes) and its ResetRequested record, whose
        link is sealed to this request, account and recipient for the notifier alone."""
        token = new_link_token()
        request_id = uuid.uuid4()
        seal_keys = self._policy.seal_keys
        event = ResetRequestedV1(
            request_id=request_id,
            account_id=account_id,
            email=recipient,
            requested_at=now,
            expires_at=now + self._policy.ttl,
            sealed_link=seal(
                reset_link(self._policy.public_origin, token),
                key=seal_keys.current,
                kid=seal_keys.current_id,
                associated_data=reset_link_binding(
                    request_id=request_id, account_id=account_id, recipient=recipient
                ),
            ),
        )
        event_id = uuid.uuid4()
        hash_key = self._policy.hash_keys.current
        return _Prepared(
            request_id=request_id,
            account_id=account_id,
            token_hash=keyed_hash(hash_key, token),
            code_hash=keyed_hash(hash_key, code),
            requires_totp=requires_totp,
            expires_at=event.expires_at,
            event_id=event_id,
            record=cloudevents_kafka.encode(
                event,
                source=EVENT_SOURCE,
                event_id=str(event_id),
                extensions=tracing.event_extensions(),
            ),
        )

    def _new_request(
        self, prepared: _Prepared, replaced: ResetRequest | None, now: datetime
    ) -> ResetRequest:
        return ResetRequest.issue(
            id=prepared.request_id,
            account_id=prepared.account_id,
            token_hash=prepared.token_hash,
            code_hash=prepared.code_hash,
            hash_key_id=self._policy.hash_keys.current_id,
            requires_totp=prepared.requires_totp,
            created_at=now,
            expires_at=prepared.expires_at,
            replacing=replaced,
        )
