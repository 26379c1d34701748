"""A link token that matches no request: counted per client IP, 429 after a few in a window.

Shared by opening a link and confirming one, so guessing tokens is bounded the same way on
both; the answer below the limit is the one every unusable link gets (LINK_INVALID).
"""

from reset_service.domain.reset_request import ConfirmFailure
from reset_service.metrics import RESET_CONFIRMATIONS
from reset_service.service_layer.clock import Clock
from reset_service.service_layer.errors import ConfirmRejected, RateLimited
from reset_service.service_layer.policy import ResetPolicy
from reset_service.service_layer.unit_of_work import UnitOfWorkFactory


class LinkMisses:
    def __init__(self, uow: UnitOfWorkFactory, policy: ResetPolicy, clock: Clock) -> None:
        self._uow = uow
        self._policy = policy
        self._clock = clock

    async def refuse(self, client_ip: str | None) -> ConfirmRejected:
        """Count the miss for ``client_ip`` (None: an internal caller, not counted) and return
        the refusal to raise; raises RateLimited once the client has missed too often."""
        if client_ip is not None:
            limit = self._policy.limits.for_link_misses(self._policy.hash_keys.current, client_ip)
            async with self._uow() as uow:
                decision = await uow.rate_limits.take(limit, self._clock())
                await uow.commit()
            if not decision.allowed:
                RESET_CONFIRMATIONS.labels("link_misses_limited").inc()
                raise RateLimited(decision.retry_after_seconds)
        return ConfirmRejected(ConfirmFailure.LINK_INVALID)
