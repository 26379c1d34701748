from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials
from servicekit.web.client_ip import ClientIp
from servicekit.web.internal_auth import INTERNAL_TOKEN, require_bearer

from reset_service.service_layer.password_resets import PasswordResets


# Dependencies are `async def` on purpose: FastAPI runs a plain `def` dependency in its thread
# pool: two thread hand-offs per request for a dictionary lookup (docs/benchmarks.md).
async def get_resets(request: Request) -> PasswordResets:
    resets: PasswordResets = request.app.state.resets  # set by the lifespan (bootstrap)
    return resets


async def require_internal_caller(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(INTERNAL_TOKEN)],
) -> None:
    """identity's credential on the internal API (the same INTERNAL_API_TOKEN both ways)."""
    require_bearer(credentials, request.app.state.settings.internal_api_token.get_secret_value())


Resets = Annotated[PasswordResets, Depends(get_resets)]

__all__ = ["ClientIp", "Resets", "get_resets", "require_internal_caller"]
