"""JSON API of password resets."""

from fastapi import APIRouter, status

from reset_service.adapters.identity_client import IdentityUnavailable, PasswordRejected
from reset_service.api.deps import Resets
from reset_service.api.errors import confirm_error, password_error, unavailable
from reset_service.api.schemas import (
    ConfirmReset,
    ResetConfirmed,
    ResetRequest,
    ResetRequestAccepted,
)
from reset_service.service_layer.password_resets import ConfirmRejected

router = APIRouter(prefix="/v1/password-resets")


@router.post("", status_code=status.HTTP_202_ACCEPTED)
async def request_reset(body: ResetRequest, resets: Resets) -> ResetRequestAccepted:
    try:
        issued = await resets.request(str(body.email))
    except IdentityUnavailable as exc:
        raise unavailable(exc) from exc
    return ResetRequestAccepted(
        verification_code=issued.verification_code,
        expires_in_seconds=issued.expires_in_seconds,
    )


@router.post("/confirm")
async def confirm_reset(body: ConfirmReset, resets: Resets) -> ResetConfirmed:
    try:
        await resets.confirm(
            token=body.token,
            new_password=body.new_password,
            code=body.verification_code,
            totp_code=body.totp_code,
        )
    except ConfirmRejected as exc:
        raise confirm_error(exc) from exc
    except PasswordRejected as exc:
        raise password_error(exc) from exc
    except IdentityUnavailable as exc:
        raise unavailable(exc) from exc
    return ResetConfirmed()
