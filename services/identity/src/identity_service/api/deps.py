"""Dependencies injected into routes."""

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from servicekit.web.internal_auth import INTERNAL_TOKEN, require_bearer, unauthorized

from identity_service.core.config import Settings
from identity_service.service_layer.accounts import AccountService
from identity_service.service_layer.registrations import Registrations


# Dependencies are `async def` on purpose: FastAPI runs a plain `def` dependency in its thread
# pool: two thread hand-offs per request for a dictionary lookup (docs/benchmarks.md).
async def get_settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings  # set by create_app
    return settings


async def get_accounts(request: Request) -> AccountService:
    accounts: AccountService = request.app.state.accounts  # set by the lifespan (bootstrap)
    return accounts


async def get_registrations(request: Request) -> Registrations:
    registrations: Registrations = request.app.state.registrations  # set by the lifespan
    return registrations


# Declared in the public document as its security scheme (``sessionToken``); auto_error=False: a
# missing or malformed header gets the platform's 401 body, not FastAPI's.
SESSION_TOKEN = HTTPBearer(
    scheme_name="sessionToken",
    description="session_token from POST /v1/login",
    auto_error=False,
)


async def require_internal_caller(
    settings: Annotated[Settings, Depends(get_settings)],
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(INTERNAL_TOKEN)],
) -> None:
    require_bearer(credentials, settings.internal_api_token.get_secret_value())


async def session_token(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(SESSION_TOKEN)],
) -> str | None:
    return credentials.credentials if credentials else None


async def require_session(
    accounts: Annotated[AccountService, Depends(get_accounts)],
    token: Annotated[str | None, Depends(session_token)],
) -> UUID:
    account_id = await accounts.account_of_session(token) if token else None
    if account_id is None:
        raise unauthorized("a valid session token is required")
    return account_id


Accounts = Annotated[AccountService, Depends(get_accounts)]
RegistrationRequests = Annotated[Registrations, Depends(get_registrations)]
SessionAccount = Annotated[UUID, Depends(require_session)]
SessionToken = Annotated[str | None, Depends(session_token)]
