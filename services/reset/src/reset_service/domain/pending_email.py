"""The one pending, coalesced reset email of an account that is over its per-account limit.

Over the limit a request is still kept (the owner's request must never become a decoy), but its
email waits until the sliding window has room again, so an account receives no more emails than
the limit allows. While it waits, each newer request replaces it (one per account): the email
that goes out carries the newest link, which also takes the codes of the requests it replaced
(``ResetRequest.carried_code_hashes``).
"""

from dataclasses import dataclass
from uuid import UUID

from pwreset_contracts.cloudevents_kafka import KafkaRecord


@dataclass(frozen=True)
class PendingEmail:
    account_id: UUID
    request_id: UUID
    event_id: UUID
    limit_subject: bytes  # the account's rate-limit subject, to take its slot when sent
    record: KafkaRecord  # the ResetRequested event, as it will go to the outbox
