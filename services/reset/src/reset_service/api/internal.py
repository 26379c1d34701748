"""Internal API for identity only ("This wasn't me" starts a fresh reset here): authenticated by
the service credential, served on INTERNAL_PORT, which a NetworkPolicy opens to identity alone.

Outside every client's per-IP bucket: all of these come from identity's few pod addresses, and
one busy bucket for all of them would let anyone who fills it block every "This wasn't me". The
per-account limit still holds (an over-limit request waits, coalesced, as any other).
"""

from uuid import UUID

from fastapi import APIRouter, Depends, status
from servicekit.i18n import SUPPORTED_LANGUAGES, negotiate
from servicekit.web.openapi import error_responses

from reset_service.api.deps import Resets, require_internal_caller
from reset_service.api.errors import unavailable
from reset_service.api.schemas import (
    OpenResetRequest,
    OpenResetRequests,
    ResetRequest,
    ResetRequestAccepted,
    ResetRequestsCancelled,
)
from reset_service.service_layer.errors import IdentityUnavailable

router = APIRouter(prefix="/internal/v1", dependencies=[Depends(require_internal_caller)])


@router.post(
    "/password-resets",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(503, describe={503: "service_unavailable: identity did not answer"}),
)
async def start_reset(body: ResetRequest, resets: Resets) -> ResetRequestAccepted:
    try:
        issued = await resets.request.from_identity(
            str(body.email), negotiate([body.locale], SUPPORTED_LANGUAGES)
        )
    except IdentityUnavailable as exc:
        raise unavailable(exc) from exc
    return ResetRequestAccepted(
        verification_code=issued.verification_code,
        expires_in_seconds=issued.expires_in_seconds,
    )


# For identity's admin API (support staff act through identity, which audits them).


@router.get(
    "/accounts/{account_id}/password-resets",
    responses=error_responses(401, 422),
)
async def open_requests(account_id: UUID, resets: Resets) -> OpenResetRequests:
    """The account's open reset requests, newest first: ids, times, counts; no secret."""
    found = await resets.account_requests.open(account_id)
    return OpenResetRequests(
        open=[
            OpenResetRequest(
                id=r.id,
                created_at=r.created_at,
                expires_at=r.expires_at,
                requires_totp=r.requires_totp,
                failed_attempts=r.failed_attempts,
            )
            for r in found
        ]
    )


@router.post(
    "/accounts/{account_id}/password-resets/cancel",
    responses=error_responses(401, 413, 422),
)
async def cancel_requests(account_id: UUID, resets: Resets) -> ResetRequestsCancelled:
    """Revoke every open request of the account: its links and codes stop working."""
    return ResetRequestsCancelled(cancelled=await resets.account_requests.cancel(account_id))
