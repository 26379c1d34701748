"""The reset service's use cases, built together on one unit of work, the request intake,
identity and clock.

``bootstrap.py`` builds them from ``Settings`` with the PostgreSQL and HTTP adapters; the unit
tests build them on in-memory fakes. Each use case is its own module; routes and workers call
them through this one object.
"""

from dataclasses import dataclass

from reset_service.domain.secrets_issued import IssuedCode
from reset_service.service_layer.clock import Clock, utc_now
from reset_service.service_layer.confirm_reset import ConfirmReset
from reset_service.service_layer.deferred_emails import SendDueEmails
from reset_service.service_layer.housekeeping import PruneRateLimits
from reset_service.service_layer.identity import Identity
from reset_service.service_layer.inspect_link import InspectLink, LinkInfo
from reset_service.service_layer.link_misses import LinkMisses
from reset_service.service_layer.policy import ResetPolicy
from reset_service.service_layer.repositories import RequestIntake
from reset_service.service_layer.request_reset import RequestReset
from reset_service.service_layer.support_requests import AccountRequests
from reset_service.service_layer.unit_of_work import UnitOfWorkFactory


@dataclass(frozen=True)
class PasswordResets:
    request: RequestReset  # (email, client_ip); .from_identity(email) for "This wasn't me"
    inspect_link: InspectLink
    confirm: ConfirmReset
    send_due_emails: SendDueEmails
    prune_rate_limits: PruneRateLimits
    account_requests: AccountRequests  # identity's admin API: list and cancel open requests

    @classmethod
    def build(
        cls,
        uow: UnitOfWorkFactory,
        intake: RequestIntake,
        identity: Identity,
        policy: ResetPolicy,
        clock: Clock = utc_now,
    ) -> "PasswordResets":
        misses = LinkMisses(uow, policy, clock)
        return cls(
            request=RequestReset(intake, identity, policy, clock),
            inspect_link=InspectLink(uow, policy, clock, misses),
            confirm=ConfirmReset(uow, identity, policy, clock, misses),
            send_due_emails=SendDueEmails(uow, policy, clock),
            prune_rate_limits=PruneRateLimits(uow, policy.limits.window),
            account_requests=AccountRequests(uow, clock),
        )


__all__ = ["IssuedCode", "LinkInfo", "PasswordResets", "ResetPolicy"]
