"""The ledger turns "the database is away" into LedgerUnavailable (a retry with the partitions
paused), never an unexpected error (a dead letter): also when a failover DSN
(target_session_attrs=read-write) meets only standbys for a moment."""

import asyncpg
import pytest
from notifier_service.adapters.deliveries_ledger import DeliveriesLedger
from notifier_service.service_layer.ports import LedgerUnavailable


class PoolWithoutPrimary:
    def __init__(self, error: BaseException) -> None:
        self.error = error

    async def acquire(self) -> object:
        raise self.error


@pytest.mark.parametrize(
    "error",
    [
        asyncpg.TargetServerAttributeNotMatched("None of the hosts match"),
        ConnectionRefusedError(111, "refused"),
        asyncpg.ConnectionDoesNotExistError("closed"),
    ],
    ids=type,
)
async def test_no_primary_is_a_ledger_unavailable(error: BaseException) -> None:
    ledger = DeliveriesLedger(PoolWithoutPrimary(error))  # type: ignore[arg-type]
    with pytest.raises(LedgerUnavailable):
        async with ledger.claim([], wait=True):
            pass
