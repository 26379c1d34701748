from typing import Annotated

from fastapi import Depends, Request

from reset_service.service_layer.password_resets import PasswordResets


def get_resets(request: Request) -> PasswordResets:
    return request.app.state.resets


Resets = Annotated[PasswordResets, Depends(get_resets)]
