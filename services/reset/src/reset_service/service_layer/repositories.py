"""Repository ports of the reset service: what a use case may read and write, and nothing more.

``adapters/`` implements them on the unit of work's PostgreSQL connection; ``tests/unit/fakes.py``
in memory. Every method runs inside the unit of work's transaction.
"""

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol
from uuid import UUID

from pwreset_contracts.cloudevents_kafka import KafkaRecord

from reset_service.domain.pending_email import PendingEmail
from reset_service.domain.rate_limits import Decision, Limit
from reset_service.domain.reset_request import ResetRequest


class RequestsRepository(Protocol):
    async def revoke_open(self, account_id: UUID, now: datetime) -> None:
        """Revoke every open request of the account."""
        ...

    async def open_of(self, account_id: UUID, now: datetime) -> list[ResetRequest]:
        """The account's open requests (not used, not revoked, not expired), newest first."""
        ...

    async def cancel_open(self, account_id: UUID, now: datetime) -> int:
        """Revoke every open (unexpired) request of the account: how many."""
        ...

    async def get(self, request_id: UUID) -> ResetRequest | None: ...

    async def get_by_token(self, token_hashes: Sequence[bytes]) -> ResetRequest | None:
        """The request one of ``token_hashes`` (the token under each hash key) belongs to."""
        ...

    async def lock_by_token(self, token_hashes: Sequence[bytes]) -> ResetRequest | None:
        """As ``get_by_token``, the row locked until the unit of work ends: concurrent
        confirmations of one link queue here, so exactly one can use it."""
        ...

    async def count_failed_attempt(self, request_id: UUID) -> int:
        """Count one wrong code or second factor; the count after it."""
        ...

    async def mark_used(self, request_id: UUID, now: datetime) -> None: ...


@dataclass(frozen=True)
class NewRequest:
    """A reset request as ``RequestReset`` made it, and what writing it involves."""

    request: ResetRequest  # fresh: the intake has it take over the account's newest open one
    event_id: UUID
    record: KafkaRecord  # its ResetRequested email: sent now, or over the account's limit later
    by_ip: Limit | None  # None: an internal caller, counted in no client's bucket
    by_account: Limit
    takes_over_after: datetime  # only a request created after this is taken over
    now: datetime


class RequestIntake(Protocol):
    """Where reset requests come in: one atomic step each, on its own (no unit of work around
    it), so that the whole request is one round trip to the database."""

    async def issue(self, new: NewRequest, *, keep: bool) -> Decision:
        """Under the IP's and then the account's rate-limit lock: take ``by_ip`` (if it refuses,
        write nothing else and return its decision) and ``by_account``; revoke the account's
        open requests, ``new.request`` taking over the newest one created after
        ``takes_over_after`` (``ResetRequest.taking_over``); add it; and queue its email: into
        the outbox if ``by_account`` had room (cancelling any pending email), else as the
        account's pending email (``DeferredEmailsRepository.defer``), due when the window has
        room. ``keep`` false does all of that alike and then undoes it but the rate-limit hits
        (an unknown email). Returns the IP limit's decision."""
        ...


class RateLimitsRepository(Protocol):
    async def lock(self, limit: Limit) -> None:
        """Hold the limit's subject lock until the unit of work ends (``take`` takes it too)."""
        ...

    async def take(self, limit: Limit, now: datetime) -> Decision:
        """Under the subject's lock: count one hit if ``limit.decide`` finds room."""
        ...

    async def prune(self, window: timedelta) -> None:
        """Forget hits older than ``window`` (before the database's own now)."""
        ...


class OutboxRepository(Protocol):
    async def add(self, event_id: UUID, record: KafkaRecord) -> None:
        """The record goes to Kafka once the unit of work commits (the relay publishes it)."""
        ...


@dataclass(frozen=True)
class DueAccount:
    account_id: UUID
    limit_subject: bytes


class DeferredEmailsRepository(Protocol):
    async def cancel(self, account_id: UUID) -> None: ...

    async def due_accounts(self, now: datetime, batch: int) -> list[DueAccount]:
        """Accounts whose pending email is due, oldest due first."""
        ...

    async def due(self, account_id: UUID, now: datetime) -> PendingEmail | None:
        """The account's pending email if it is (still) due."""
        ...

    async def postpone(self, account_id: UUID, due_at: datetime) -> None: ...
