"""Use case: forget rate-limit hits that fell out of every window (a background worker)."""

from datetime import timedelta

from reset_service.service_layer.unit_of_work import UnitOfWorkFactory


class PruneRateLimits:
    def __init__(self, uow: UnitOfWorkFactory, window: timedelta) -> None:
        self._uow = uow
        self._window = window

    async def __call__(self) -> None:
        async with self._uow() as uow:
            await uow.rate_limits.prune(self._window)
            await uow.commit()
