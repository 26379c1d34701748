"""The admin API, for support staff and their tools: served on ADMIN_PORT only (never the
public port, never behind the Ingress; its own NetworkPolicy), with a document of its own at
/admin/openapi.json on that port. Callers present a bearer JWT of the company's identity
provider (or, under `make run`, the development token); the subject of the token is who the
audit log says acted, whatever else the request claims.
"""

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Annotated
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from servicekit.web.http_errors import ApiError
from servicekit.web.openapi import ApiDocument, error_responses

from identity_service.api.admin_schemas import (
    REASON_PATTERN,
    AccountFound,
    AccountLookup,
    AuditPageOut,
    AuditRecordOut,
    ChangeReason,
    Done,
    ResetRequestsCancelled,
    SecurityStateOut,
)
from identity_service.domain.support import MAX_REASON_CHARS, Caller
from identity_service.service_layer.errors import (
    AccountNotFound,
    AdminAuthUnavailable,
    AdminTokenRejected,
    NotPermitted,
    ReasonRequired,
    TwoFactorNotOn,
)
from identity_service.service_layer.ports import AdminTokens, ResetUnavailable
from identity_service.service_layer.support import MAX_PAGE, Support

PREFIX = "/admin"
log = logging.getLogger("identity.admin")


async def get_support(request: Request) -> Support:
    support: Support = request.app.state.identity.support  # set by the lifespan (bootstrap)
    return support


# auto_error=False: a missing or malformed header gets the platform's 401 body, not FastAPI's.
ADMIN_TOKEN = HTTPBearer(
    scheme_name="adminJwt",
    bearerFormat="JWT",
    description="A JWT of the company's identity provider with the support or admin role",
    auto_error=False,
)
# On ADMIN_PORT only (the port gate), like the API it describes.
ADMIN_DOCUMENT = ApiDocument(
    title="identity (admin)",
    description=__doc__ or "",
    prefix=f"{PREFIX}/",
)


async def require_admin_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(ADMIN_TOKEN)],
) -> Caller:
    """Who is calling, from the verified token alone."""
    tokens: AdminTokens | None = request.app.state.identity.admin_tokens
    token = credentials.credentials if credentials else None
    try:
        if token is None or tokens is None:
            raise AdminTokenRejected("no bearer token")
        return await tokens.caller(token)
    except AdminTokenRejected as exc:
        log.warning("admin API token refused", extra={"fields": {"reason": exc.reason}})
        raise ApiError(
            401,
            "invalid_token",
            f"a valid bearer token of the identity provider is required ({exc.reason})",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
        ) from exc
    except AdminAuthUnavailable as exc:
        raise ApiError(
            503,
            "auth_unavailable",
            "the identity provider's keys cannot be fetched; try again shortly",
            headers={"Retry-After": str(exc.retry_after_seconds)},
        ) from exc


SupportCases = Annotated[Support, Depends(get_support)]
AdminCaller = Annotated[Caller, Depends(require_admin_caller)]


@contextmanager
def answers() -> Iterator[None]:
    """The use cases' refusals as the admin API's errors."""
    try:
        yield
    except NotPermitted as exc:
        raise ApiError(403, "forbidden", f"your roles do not allow {exc}") from exc
    except ReasonRequired as exc:
        raise ApiError(422, "reason_required", "say why (the audit log keeps it)") from exc
    except AccountNotFound as exc:
        raise ApiError(404, "account_not_found", "no such account") from exc
    except TwoFactorNotOn as exc:
        raise ApiError(409, "two_factor_not_enabled", "the account has no two-factor") from exc
    except ResetUnavailable as exc:
        raise ApiError(
            503,
            "reset_unavailable",
            "the reset service did not answer; nothing was changed",
            headers={"Retry-After": "5"},
        ) from exc


# Every route: no token or a bad one (401), the provider's keys unreachable (503).
_AUTH = (401, 503)
_BODY = (400, 413, 422)

router = APIRouter(prefix=f"{PREFIX}/v1", tags=["admin"])


@router.post(
    "/accounts/lookup",
    responses=error_responses(*_AUTH, *_BODY, 403),
    summary="The account of an email address",
)
async def lookup(body: AccountLookup, caller: AdminCaller, support: SupportCases) -> AccountFound:
    with answers():
        account_id = await support.find_account(caller, str(body.email), body.reason)
    return AccountFound(account_id=account_id)


@router.get(
    "/accounts/{account_id}/security",
    responses=error_responses(*_AUTH, 403, 404, 422),
    summary="An account's security state",
)
async def security_state(
    account_id: UUID,
    caller: AdminCaller,
    support: SupportCases,
    reason: Annotated[
        str | None, Query(min_length=1, max_length=MAX_REASON_CHARS, pattern=REASON_PATTERN)
    ] = None,
) -> SecurityStateOut:
    """No secret, hash or token: on/off, counts, times, ids."""
    with answers():
        return SecurityStateOut.of(await support.security_state(caller, account_id, reason))


@router.post(
    "/accounts/{account_id}/two-factor/remove",
    responses=error_responses(*_AUTH, *_BODY, 403, 404, 409),
    summary="Remove two-factor authentication (lost device) and sign out everywhere",
)
async def remove_two_factor(
    account_id: UUID, body: ChangeReason, caller: AdminCaller, support: SupportCases
) -> Done:
    with answers():
        record = await support.remove_two_factor(caller, account_id, body.reason)
    return Done(audit_id=record.id)


@router.post(
    "/accounts/{account_id}/sign-out-everywhere",
    responses=error_responses(*_AUTH, *_BODY, 403, 404),
    summary="End every session of the account",
)
async def sign_out_everywhere(
    account_id: UUID, body: ChangeReason, caller: AdminCaller, support: SupportCases
) -> Done:
    with answers():
        record = await support.sign_out_everywhere(caller, account_id, body.reason)
    return Done(audit_id=record.id)


@router.post(
    "/accounts/{account_id}/password-resets/cancel",
    responses=error_responses(*_AUTH, *_BODY, 403, 404),
    summary="Cancel the account's open password-reset requests",
)
async def cancel_reset_requests(
    account_id: UUID, body: ChangeReason, caller: AdminCaller, support: SupportCases
) -> ResetRequestsCancelled:
    with answers():
        cancelled, record = await support.cancel_reset_requests(caller, account_id, body.reason)
    return ResetRequestsCancelled(audit_id=record.id, cancelled=cancelled)


@router.get(
    "/audit",
    responses=error_responses(*_AUTH, 403, 422),
    summary="The audit log, newest first (admins only)",
)
async def audit_log(
    caller: AdminCaller,
    support: SupportCases,
    account_id: UUID | None = None,
    # An audit row id (bigint): a larger one is a 422, not a database error.
    before: Annotated[int | None, Query(ge=1, le=2**63 - 1)] = None,
    limit: Annotated[int, Query(ge=1, le=MAX_PAGE)] = 50,
) -> AuditPageOut:
    with answers():
        page = await support.audit_log(caller, account_id, before, limit)
    return AuditPageOut(
        records=[AuditRecordOut.of(r) for r in page.records], next_before=page.next_before
    )
