"""The unit-of-work port: one transaction, the repositories a use case sees, explicit commit.

A use case opens one (``async with uow_factory() as uow``), works through its repositories and
calls ``commit``; leaving the block without it rolls everything back (cosmicpython's
``unit_of_work.py``). ``adapters/unit_of_work.py`` implements it on PostgreSQL.
"""

from collections.abc import Callable
from typing import Protocol

from servicekit.runtime.unit_of_work import UnitOfWorkBase

from reset_service.service_layer.repositories import (
    DeferredEmailsRepository,
    OutboxRepository,
    RateLimitsRepository,
    RequestsRepository,
)


class UnitOfWork(UnitOfWorkBase, Protocol):
    @property
    def requests(self) -> RequestsRepository: ...

    @property
    def rate_limits(self) -> RateLimitsRepository: ...

    @property
    def outbox(self) -> OutboxRepository: ...

    @property
    def deferred_emails(self) -> DeferredEmailsRepository: ...


# A fresh unit of work per use-case run: concurrent requests each get their own transaction.
UnitOfWorkFactory = Callable[[], UnitOfWork]
