"""Use case: ask for a password reset (public form and API, and identity's "This wasn't me").

Known and unknown emails take the same path (identity lookup, secrets, sealing, and the same
one call to the request intake, one database statement) so neither the answer, its timing nor
the statements run tell them apart. Only its ``keep`` argument differs: a known account keeps
its request and email; an unknown one has them undone and leaves nothing but the rate-limit
hits, which count unknown emails exactly like known ones (docs/security.md).
"""

import uuid
from datetime import datetime

from pwreset_contracts import ResetRequestedV1, cloudevents_kafka
from pwreset_contracts.cloudevents_kafka import KafkaRecord
from pwreset_contracts.sealed import reset_link_binding, seal
from servicekit.i18n import DEFAULT_LANGUAGE
from servicekit.runtime import tracing

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
from reset_service.service_layer.repositories import NewRequest, RequestIntake

EVENT_SOURCE = "/pwreset/reset"


class RequestReset:
    def __init__(
        self, intake: RequestIntake, identity: Identity, policy: ResetPolicy, clock: Clock
    ) -> None:
        self._intake = intake
        self._identity = identity
        self._policy = policy
        self._clock = clock

    async def __call__(
        self, email: str, client_ip: str | None, *, language: str = DEFAULT_LANGUAGE
    ) -> IssuedCode:
        """Issue a code for any email; a known account also gets an email: now, or over the
        per-account limit coalesced into the account's next email (which carries the newest
        link and accepts this code). ``client_ip`` None: an internal caller (identity's "This
        wasn't me"), counted in no client's bucket, only in the account's. ``language``: the
        one the person asked in (a supported tag); the email is written in it."""
        now = self._clock()
        code = new_verification_code()
        account = await self._identity.lookup(email)
        limits = self._policy.limits
        hash_key = self._policy.hash_keys.current
        # An unknown email gets a stand-in account: the same work is done for it below.
        request, event_id, record = self._prepare(
            code,
            account_id=account.account_id if account else uuid.uuid4(),
            # Mail goes to the address identity stored, never to the string typed here: a
            # look-alike that matched an account must not receive that account's link.
            recipient=account.email if account else email,
            requires_totp=bool(account and account.totp_enabled),
            language=language,
            now=now,
        )
        new = NewRequest(
            request=request,
            event_id=event_id,
            record=record,
            by_ip=limits.for_ip(hash_key, client_ip) if client_ip is not None else None,
            by_account=limits.for_email(hash_key, email),
            # The newest open request of the window is never dropped: the new one revokes it
            # but takes over its codes and its wrong-code count (ResetRequest.taking_over).
            takes_over_after=now - limits.window,
            now=now,
        )
        # One call for every email, known or unknown, with the same work behind it: both
        # limits, the takeover, the request and its email (now, or over the account's limit
        # coalesced into its pending email). The one difference: an unknown email keeps
        # nothing of it but the rate-limit hits, which count it exactly like a known one.
        by_ip = await self._intake.issue(new, keep=account is not None)
        if not by_ip.allowed:  # nothing was written
            RESET_REQUESTS.labels("ip_limited").inc()
            raise RateLimited(by_ip.retry_after_seconds)
        # One outcome for known and unknown emails: a metric must not tell them apart.
        RESET_REQUESTS.labels("accepted").inc()
        return IssuedCode(code, int(self._policy.ttl.total_seconds()))

    async def from_identity(self, email: str, language: str = DEFAULT_LANGUAGE) -> IssuedCode:
        """identity's "This wasn't me" (internal API): from identity's few pod addresses, so
        outside every client's per-IP bucket; the per-account limit still holds."""
        return await self(email, None, language=language)

    def _prepare(
        self,
        code: str,
        *,
        account_id: uuid.UUID,
        recipient: str,
        requires_totp: bool,
        language: str,
        now: datetime,
    ) -> tuple[ResetRequest, uuid.UUID, KafkaRecord]:
        """The new request (its secrets as keyed hashes; no secret leaves here) and its
        ResetRequested record (id and encoding), whose link is sealed to this request, account
        and recipient for the notifier alone."""
        token = new_link_token()
        request_id = uuid.uuid4()
        seal_keys = self._policy.seal_keys
        event = ResetRequestedV1(
            request_id=request_id,
            account_id=account_id,
            email=recipient,
            locale=language,
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
        hash_keys = self._policy.hash_keys
        request = ResetRequest.issue(
            id=request_id,
            account_id=account_id,
            token_hash=keyed_hash(hash_keys.current, token),
            code_hash=keyed_hash(hash_keys.current, code),
            hash_key_id=hash_keys.current_id,
            requires_totp=requires_totp,
            created_at=now,
            expires_at=event.expires_at,
        )
        event_id = uuid.uuid4()
        record = cloudevents_kafka.encode(
            event,
            source=EVENT_SOURCE,
            event_id=str(event_id),
            extensions=tracing.event_extensions(),
        )
        return request, event_id, record
