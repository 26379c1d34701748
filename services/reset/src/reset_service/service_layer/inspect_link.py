"""Use case: open the link from the email (the "Set new password" page asks what it needs).

Reading never consumes the link: mail scanners prefetch links.
"""

from dataclasses import dataclass
from datetime import datetime

from reset_service.service_layer.clock import Clock
from reset_service.service_layer.errors import ConfirmRejected
from reset_service.service_layer.link_misses import LinkMisses
from reset_service.service_layer.policy import ResetPolicy
from reset_service.service_layer.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True)
class LinkInfo:
    requires_totp: bool
    expires_at: datetime


class InspectLink:
    def __init__(
        self, uow: UnitOfWorkFactory, policy: ResetPolicy, clock: Clock, misses: LinkMisses
    ) -> None:
        self._uow = uow
        self._policy = policy
        self._clock = clock
        self._misses = misses

    async def __call__(self, token: str, client_ip: str | None = None) -> LinkInfo:
        """Raises ConfirmRejected for a link that cannot be used (one answer for unknown, used,
        revoked and expired), RateLimited after too many unknown ones from this client."""
        async with self._uow() as uow:
            request = await uow.requests.get_by_token(self._policy.token_hashes(token))
        if request is None:
            raise await self._misses.refuse(client_ip)
        refusal = request.refusal(self._clock(), self._policy.max_attempts)
        if refusal is not None:
            raise ConfirmRejected(refusal)
        return LinkInfo(requires_totp=request.requires_totp, expires_at=request.expires_at)
