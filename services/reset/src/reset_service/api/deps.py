from typing import Annotated

from fastapi import Depends, Request
from servicekit.client_ip import ClientIp

from reset_service.service_layer.password_resets import PasswordResets


# Dependencies are `async def` on purpose: FastAPI runs a plain `def` dependency in its thread
# pool: two thread hand-offs per request for a dictionary lookup (docs/benchmarks.md).
async def get_resets(request: Request) -> PasswordResets:
    return request.app.state.resets


Resets = Annotated[PasswordResets, Depends(get_resets)]

__all__ = ["ClientIp", "Resets", "get_resets"]
