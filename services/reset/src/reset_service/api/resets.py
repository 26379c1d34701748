"""JSON API of password resets."""

from typing import Annotated

from fastapi import APIRouter, Header, status
from servicekit.i18n import negotiate, parse_accept_language
from servicekit.web.openapi import error_responses

from reset_service.api.deps import ClientIp, Resets
from reset_service.api.errors import confirm_error, password_error, rate_limited, unavailable
from reset_service.api.schemas import (
    ConfirmReset,
    ResetConfirmed,
    ResetRequest,
    ResetRequestAccepted,
)
from reset_service.service_layer.errors import (
    ConfirmRejected,
    IdentityUnavailable,
    PasswordRejected,
    RateLimited,
)

router = APIRouter(prefix="/v1/password-resets")


@router.post(
    "",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(
        429,
        503,
        describe={
            429: "rate_limited: too many requests from this client (never per account)",
            503: "service_unavailable: identity did not answer",
        },
    ),
)
async def request_reset(
    body: ResetRequest,
    resets: Resets,
    ip: ClientIp,
    accept_language: Annotated[str | None, Header()] = None,  # read in part: never a 422
) -> ResetRequestAccepted:
    # The email's language: the body's `locale`, else the client's Accept-Language.
    language = negotiate([body.locale, *parse_accept_language(accept_language)])
    try:
        issued = await resets.request(str(body.email), ip, language=language)
    except RateLimited as exc:
        raise rate_limited(exc) from exc
    except IdentityUnavailable as exc:
        raise unavailable(exc) from exc
    return ResetRequestAccepted(
        verification_code=issued.verification_code,
        expires_in_seconds=issued.expires_in_seconds,
    )


@router.post(
    "/confirm",
    responses=error_responses(
        400,
        409,
        410,
        422,
        429,
        503,
        describe={
            400: "code_required, totp_required or wrong_code (with attempts_left)",
            409: "reset_outdated: asked for while two-factor was on, which has been turned off "
            "since; request a new reset (nothing was counted)",
            410: "link_invalid (unknown, used, expired or superseded) or too_many_attempts",
            422: "password_rejected (with reason), or invalid_request",
            429: "rate_limited (too many links that match nothing from this client; with "
            "Retry-After) or totp_throttled (too many wrong authenticator codes)",
            503: "service_unavailable: identity did not answer",
        },
        retry_after=(503,),
    ),
)
async def confirm_reset(body: ConfirmReset, resets: Resets, ip: ClientIp) -> ResetConfirmed:
    try:
        await resets.confirm(
            token=body.token,
            new_password=body.new_password,
            code=body.verification_code,
            totp_code=body.totp_code,
            recovery_code=body.recovery_code,
            client_ip=ip,
        )
    except ConfirmRejected as exc:
        raise confirm_error(exc) from exc
    except RateLimited as exc:  # too many link tokens that match nothing from this client
        raise rate_limited(exc) from exc
    except PasswordRejected as exc:
        raise password_error(exc) from exc
    except IdentityUnavailable as exc:
        raise unavailable(exc) from exc
    return ResetConfirmed()
