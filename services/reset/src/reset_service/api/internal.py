"""Internal API for identity only ("This wasn't me" starts a fresh reset here): authenticated by
the service credential, served on INTERNAL_PORT, which a NetworkPolicy opens to identity alone.

Outside every client's per-IP bucket: all of these come from identity's few pod addresses, and
one busy bucket for all of them would let anyone who fills it block every "This wasn't me". The
per-account limit still holds (an over-limit request waits, coalesced, as any other).
"""

from fastapi import APIRouter, Depends, status
from servicekit.i18n import SUPPORTED_LANGUAGES, negotiate

from reset_service.api.deps import Resets, require_internal_caller
from reset_service.api.errors import unavailable
from reset_service.api.schemas import ResetRequest, ResetRequestAccepted
from reset_service.service_layer.errors import IdentityUnavailable

router = APIRouter(prefix="/internal/v1", dependencies=[Depends(require_internal_caller)])


@router.post("/password-resets", status_code=status.HTTP_202_ACCEPTED)
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
