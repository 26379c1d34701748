"""Use cases for identity's admin API (support staff, through identity only): an account's open
reset requests, and cancelling them. What leaves here has no link, code or hash: ids, times,
whether the second factor is needed, and the wrong-guess count."""

from dataclasses import dataclass
from uuid import UUID

from reset_service.domain.reset_request import ResetRequest
from reset_service.service_layer.clock import Clock
from reset_service.service_layer.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True)
class AccountRequests:
    uow: UnitOfWorkFactory
    clock: Clock

    async def open(self, account_id: UUID) -> list[ResetRequest]:
        async with self.uow() as uow:
            return await uow.requests.open_of(account_id, self.clock())

    async def cancel(self, account_id: UUID) -> int:
        """Every open request revoked (its link and code stop working at once), and any email
        still waiting for the account's limit dropped: how many requests."""
        async with self.uow() as uow:
            cancelled = await uow.requests.cancel_open(account_id, self.clock())
            await uow.deferred_emails.cancel(account_id)
            await uow.commit()
        return cancelled
