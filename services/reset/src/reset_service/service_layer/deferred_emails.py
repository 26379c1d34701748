"""Use case: send the coalesced emails whose account has room in its window again.

Run by a background worker (``bootstrap.py``). Each due email takes a slot of its account's
limit as a new request would, so an account never gets more emails than the limit allows; an
email whose request was used, replaced or expired meanwhile is dropped, not sent.
"""

from datetime import datetime, timedelta

from reset_service.service_layer.clock import Clock
from reset_service.service_layer.policy import ResetPolicy
from reset_service.service_layer.repositories import DueAccount
from reset_service.service_layer.unit_of_work import UnitOfWorkFactory

BATCH = 100  # due emails per round; the rest wait for the next


class SendDueEmails:
    def __init__(self, uow: UnitOfWorkFactory, policy: ResetPolicy, clock: Clock) -> None:
        self._uow = uow
        self._policy = policy
        self._clock = clock

    async def __call__(self) -> int:
        """Move the pending emails whose time has come into the outbox, each taking a slot of
        its account's limit (or waiting again if the slot went to another email). Returns how
        many went out."""
        now = self._clock()
        async with self._uow() as uow:
            due = await uow.deferred_emails.due_accounts(now, BATCH)
        sent = 0
        for account in due:
            sent += await self._send(account, now)
        return sent

    async def _send(self, account: DueAccount, now: datetime) -> int:
        """1 if the account's pending email went to the outbox, else 0."""
        limits = self._policy.limits
        async with self._uow() as uow:
            # The account's limit lock first, as a new request takes it before it writes the
            # pending email: the other order could deadlock with a request of the account.
            await uow.rate_limits.lock(limits.for_account(account.limit_subject))
            pending = await uow.deferred_emails.due(account.account_id, now)
            if pending is None:  # sent by another replica meanwhile
                return 0
            request = await uow.requests.get(pending.request_id)
            if request is None or not request.is_open(now):
                # Used or replaced meanwhile: nothing left to send.
                await uow.deferred_emails.cancel(account.account_id)
                await uow.commit()
                return 0
            slot = await uow.rate_limits.take(limits.for_account(pending.limit_subject), now)
            if not slot.allowed:
                await uow.deferred_emails.postpone(
                    account.account_id, now + timedelta(seconds=slot.retry_after_seconds)
                )
                await uow.commit()
                return 0
            await uow.outbox.add(pending.event_id, pending.record)
            await uow.deferred_emails.cancel(account.account_id)
            await uow.commit()
            return 1
