"""Internal API for the reset service only: authenticated by its service credential, and kept
off the public ingress by the NetworkPolicy (docs/architecture.md)."""

from uuid import UUID

from fastapi import APIRouter, Depends, status
from servicekit.i18n import negotiate
from servicekit.web.http_errors import ApiError
from servicekit.web.openapi import error_responses

from identity_service.api.deps import Accounts, require_internal_caller
from identity_service.api.errors import password_rejected
from identity_service.api.schemas import (
    Lookup,
    LookupResult,
    SetPassword,
    TotpVerify,
    TotpVerifyResult,
)
from identity_service.domain.second_factor import SecondFactor
from identity_service.service_layer.errors import (
    AccountNotFound,
    PasswordRejected,
    TotpRejected,
    TwoFactorNotOn,
)

router = APIRouter(prefix="/internal/v1", dependencies=[Depends(require_internal_caller)])


def _not_found() -> ApiError:
    return ApiError(404, "account_not_found", "no such account")


@router.post("/accounts/lookup")
async def lookup(body: Lookup, accounts: Accounts) -> LookupResult:
    """200 for known and unknown emails alike (``account_id`` null): a 404 would show up in the
    HTTP metrics' status label and tell them apart."""
    account = await accounts.lookup(body.email)
    if account is None:
        return LookupResult(account_id=None, totp_enabled=False, email=None)
    return LookupResult(
        account_id=account.id, totp_enabled=account.totp_enabled, email=account.email
    )


@router.post(
    "/accounts/{account_id}/totp/verify",
    responses=error_responses(404, describe={404: "account_not_found"}),
)
async def verify_totp(account_id: UUID, body: TotpVerify, accounts: Accounts) -> TotpVerifyResult:
    try:
        return TotpVerifyResult(valid=await accounts.verify_totp(account_id, body.code))
    except AccountNotFound as exc:
        raise _not_found() from exc


@router.post(
    "/accounts/{account_id}/password",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(
        403,
        404,
        409,
        422,
        describe={
            403: "totp_invalid, totp_throttled or account_locked: the second factor is "
            "missing or wrong",
            404: "account_not_found",
            409: "two_factor_off: a second factor was sent, but the account has no two-factor "
            "(removed since the reset was asked for); nothing changed, ask for a new reset",
            422: "password_rejected (with reason)",
        },
    ),
)
async def set_password(account_id: UUID, body: SetPassword, accounts: Accounts) -> None:
    try:
        await accounts.set_password(
            account_id,
            body.new_password,
            SecondFactor(body.totp_code, body.recovery_code),
            body.client_ip,
            # A tag we ship no catalog for is kept as English: what the emails are written in.
            negotiate([body.locale]) if body.locale else None,
        )
    except AccountNotFound as exc:
        raise _not_found() from exc
    except PasswordRejected as exc:
        raise password_rejected(exc) from exc
    except TotpRejected as exc:
        raise ApiError(403, exc.reason, str(exc)) from exc
    except TwoFactorNotOn as exc:
        raise ApiError(409, "two_factor_off", str(exc)) from exc
