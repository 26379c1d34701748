"""Dependencies injected into routes."""

from typing import Annotated
from uuid import UUID

from fastapi import Depends, Header, Request
from servicekit.web.http_errors import ApiError
from servicekit.web.internal_auth import bearer, require_bearer

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


async def require_internal_caller(
    settings: Annotated[Settings, Depends(get_settings)],
    authorization: Annotated[str | None, Header()] = None,
) -> None:
    require_bearer(authorization, settings.internal_api_token.get_secret_value())


async def require_session(
    accounts: Annotated[AccountService, Depends(get_accounts)],
    authorization: Annotated[str | None, Header()] = None,
) -> UUID:
    token = bearer(authorization)
    account_id = await accounts.account_of_session(token) if token else None
    if account_id is None:
        raise ApiError(
            401,
            "unauthorized",
            "a valid session token is required",
            headers={"WWW-Authenticate": "Bearer"},
        )
    return account_id


Accounts = Annotated[AccountService, Depends(get_accounts)]
RegistrationRequests = Annotated[Registrations, Depends(get_registrations)]
SessionAccount = Annotated[UUID, Depends(require_session)]
