"""Routes a person's browser or app calls."""

from typing import Annotated

from fastapi import APIRouter, Header, Response, status
from servicekit.i18n import negotiate, parse_accept_language
from servicekit.web.client_ip import ClientIp
from servicekit.web.http_errors import ApiError
from servicekit.web.internal_auth import unauthorized
from servicekit.web.openapi import error_responses

from identity_service.api.deps import Accounts, RegistrationRequests, SessionAccount, SessionToken
from identity_service.api.errors import password_rejected
from identity_service.api.schemas import (
    AccountCreated,
    CreateAccount,
    Login,
    RegistrationAccepted,
    SessionIssued,
    TotpActivate,
    TotpActivated,
    TotpDisable,
    TotpDisabled,
    TotpSetupOut,
    UndoDone,
    UndoPasswordChange,
    VerifyRegistration,
)
from identity_service.domain.second_factor import SecondFactor
from identity_service.service_layer.errors import (
    AuthFailed,
    PasswordRejected,
    ReauthenticationFailed,
    RegistrationLinkInvalid,
    TotpRejected,
)

router = APIRouter(prefix="/v1")

_LOGIN_MESSAGES = {
    "invalid_credentials": "email or password is wrong",
    "totp_required": "enter the code from your authenticator app",
    "totp_invalid": "the authenticator code is not valid",
    "totp_throttled": "too many wrong codes; wait a few minutes and try again",
    "account_locked": "too many wrong codes in a row; use a recovery code or contact support",
}


BUSY = "busy: the password-hashing queue is full"
THROTTLED = "login_throttled: too many failed attempts for this account or from this client"


@router.post(
    "/accounts",
    status_code=status.HTTP_202_ACCEPTED,
    responses=error_responses(
        422,
        429,
        503,
        describe={
            422: "password_rejected (with reason)",
            429: "login_throttled: too many registrations from this client",
            503: BUSY,
        },
    ),
)
async def request_registration(
    body: CreateAccount,
    registrations: RegistrationRequests,
    ip: ClientIp,
    accept_language: Annotated[str | None, Header()] = None,  # read in part: never a 422
) -> RegistrationAccepted:
    """The same answer for every address: whether it has an account is told only to its
    mailbox. The account is created when the emailed link is followed. The verification email
    is written in the request's language (``Accept-Language``)."""
    language = negotiate(parse_accept_language(accept_language))
    try:
        await registrations.request(body.email, body.password, ip, language)
    except PasswordRejected as exc:
        raise password_rejected(exc) from exc
    return RegistrationAccepted()


@router.post(
    "/accounts/verify",
    status_code=status.HTTP_201_CREATED,
    responses=error_responses(410, describe={410: "link_invalid; or the address has an account"}),
)
async def complete_registration(
    body: VerifyRegistration, registrations: RegistrationRequests
) -> AccountCreated:
    try:
        created = await registrations.complete(body.token)
    except RegistrationLinkInvalid as exc:
        raise ApiError(410, "link_invalid", "this link is invalid, used or expired") from exc
    return AccountCreated(id=created.account_id, email=created.email)


@router.post(
    "/login",
    responses=error_responses(
        401,
        429,
        503,
        describe={
            401: "invalid_credentials, totp_required, totp_invalid, totp_throttled or "
            "account_locked",
            429: THROTTLED,
            503: BUSY,
        },
    ),
)
async def login(body: Login, accounts: Accounts, ip: ClientIp) -> SessionIssued:
    try:
        token = await accounts.login(
            body.email, body.password, SecondFactor(body.totp_code, body.recovery_code), ip
        )
    except AuthFailed as exc:
        raise ApiError(401, exc.reason, _LOGIN_MESSAGES[exc.reason]) from exc
    return SessionIssued(session_token=token)


@router.post(
    "/logout",
    status_code=status.HTTP_204_NO_CONTENT,
    responses=error_responses(),
)
async def logout(accounts: Accounts, token: SessionToken) -> Response:
    """Sign this session out on the server: its token stops working at once, wherever a copy
    of it is. The account's other sessions (other devices) stay."""
    if not token or not await accounts.end_session(token):
        raise unauthorized("a valid session token is required")
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/totp/setup",
    responses=error_responses(409, describe={409: "totp_already_enabled"}),
)
async def start_totp(account_id: SessionAccount, accounts: Accounts) -> TotpSetupOut:
    try:
        setup = await accounts.start_totp(account_id)
    except TotpRejected as exc:
        raise ApiError(409, "totp_already_enabled", str(exc)) from exc
    return TotpSetupOut(secret=setup.secret, provisioning_uri=setup.provisioning_uri)


def _password_wrong() -> ApiError:
    # 403, not 401: the session is fine, the password entered again is not.
    return ApiError(403, "password_wrong", "the password is wrong")


@router.post(
    "/totp/activate",
    responses=error_responses(
        400,
        403,
        429,
        503,
        describe={
            400: "totp_invalid: no setup pending, or the code is wrong",
            403: "password_wrong",
            429: THROTTLED,
            503: BUSY,
        },
    ),
)
async def activate_totp(
    body: TotpActivate, account_id: SessionAccount, accounts: Accounts, ip: ClientIp
) -> TotpActivated:
    try:
        codes = await accounts.activate_totp(account_id, body.code, body.password, ip)
    except ReauthenticationFailed as exc:
        raise _password_wrong() from exc
    except TotpRejected as exc:
        raise ApiError(400, "totp_invalid", str(exc)) from exc
    return TotpActivated(recovery_codes=codes)


@router.post(
    "/totp/disable",
    responses=error_responses(
        400,
        403,
        429,
        503,
        describe={
            400: "totp_invalid: two-factor is off, or the code is missing or wrong",
            403: "password_wrong",
            429: f"{THROTTLED} (with Retry-After); or totp_throttled, account_locked",
            503: BUSY,
        },
        retry_after=(503,),
    ),
)
async def disable_totp(
    body: TotpDisable, account_id: SessionAccount, accounts: Accounts, ip: ClientIp
) -> TotpDisabled:
    try:
        await accounts.disable_totp(
            account_id, body.password, SecondFactor(body.totp_code, body.recovery_code), ip
        )
    except ReauthenticationFailed as exc:
        raise _password_wrong() from exc
    except TotpRejected as exc:
        status = 429 if exc.throttled else 400
        raise ApiError(status, exc.reason, str(exc)) from exc
    return TotpDisabled()


@router.post(
    "/this-wasnt-me",
    responses=error_responses(410, describe={410: "link_invalid"}),
)
async def this_wasnt_me(body: UndoPasswordChange, accounts: Accounts) -> UndoDone:
    """From a security-change email: sign out everywhere, start a fresh reset."""
    done = await accounts.this_wasnt_me(body.token)
    if done is None:
        raise ApiError(410, "link_invalid", "this link is invalid, used or expired")
    return UndoDone(verification_code=done.verification_code)
