"""Routes a person's browser or app calls."""

from fastapi import APIRouter, status
from servicekit.http_errors import ApiError

from identity_service.adapters.accounts_repository import EmailTaken
from identity_service.api.deps import Accounts, SessionAccount
from identity_service.api.schemas import (
    AccountCreated,
    CreateAccount,
    Login,
    SessionIssued,
    TotpActivate,
    TotpSetupOut,
)
from identity_service.domain.passwords import PasswordRejected
from identity_service.service_layer.accounts import AuthFailed, TotpRejected

router = APIRouter(prefix="/v1")

_LOGIN_MESSAGES = {
    "invalid_credentials": "email or password is wrong",
    "totp_required": "enter the code from your authenticator app",
    "totp_invalid": "the authenticator code is not valid",
}


def password_rejected(exc: PasswordRejected) -> ApiError:
    return ApiError(422, "password_rejected", str(exc), reason=exc.reason)


@router.post("/accounts", status_code=status.HTTP_201_CREATED)
async def create_account(body: CreateAccount, accounts: Accounts) -> AccountCreated:
    try:
        account_id = await accounts.register(body.email, body.password)
    except PasswordRejected as exc:
        raise password_rejected(exc) from exc
    except EmailTaken as exc:
        raise ApiError(409, "email_taken", "an account with this email exists") from exc
    return AccountCreated(id=account_id, email=body.email)


@router.post("/login")
async def login(body: Login, accounts: Accounts) -> SessionIssued:
    try:
        token = await accounts.login(body.email, body.password, body.totp_code)
    except AuthFailed as exc:
        raise ApiError(401, exc.reason, _LOGIN_MESSAGES[exc.reason]) from exc
    return SessionIssued(session_token=token)


@router.post("/totp/setup")
async def start_totp(account_id: SessionAccount, accounts: Accounts) -> TotpSetupOut:
    try:
        setup = await accounts.start_totp(account_id)
    except TotpRejected as exc:
        raise ApiError(409, "totp_already_enabled", str(exc)) from exc
    return TotpSetupOut(secret=setup.secret, provisioning_uri=setup.provisioning_uri)


@router.post("/totp/activate", status_code=status.HTTP_204_NO_CONTENT)
async def activate_totp(body: TotpActivate, account_id: SessionAccount, accounts: Accounts) -> None:
    try:
        await accounts.activate_totp(account_id, body.code)
    except TotpRejected as exc:
        raise ApiError(400, "totp_invalid", str(exc)) from exc
