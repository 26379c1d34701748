from typing import Annotated

from fastapi import Depends, Request
from servicekit.client_ip import client_ip

from reset_service.service_layer.password_resets import PasswordResets


# Dependencies are `async def` on purpose: FastAPI runs a plain `def` dependency in its thread
# pool: two thread hand-offs per request for a dictionary lookup (docs/benchmarks.md).
async def get_resets(request: Request) -> PasswordResets:
    return request.app.state.resets


async def get_client_ip(request: Request) -> str:
    """The caller's IP; X-Forwarded-For counts only from TRUSTED_PROXIES."""
    peer = request.client.host if request.client else None
    return client_ip(
        peer,
        request.headers.get("x-forwarded-for"),
        request.app.state.settings.trusted_proxy_networks,
    )


Resets = Annotated[PasswordResets, Depends(get_resets)]
ClientIp = Annotated[str, Depends(get_client_ip)]
