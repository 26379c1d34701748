"""The pages behind the emailed link.

Landing on ``/reset-password?token=…`` swaps the token for a short-lived HttpOnly cookie and
redirects to a URL without it, so the token cannot leak through history or Referer. Neither GET
nor HEAD consumes the link (mail scanners prefetch links).
"""

from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Cookie, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from reset_service.adapters.identity_client import IdentityUnavailable, PasswordRejected
from reset_service.api.deps import Resets
from reset_service.api.errors import CONFIRM_MESSAGES
from reset_service.service_layer.password_resets import ConfirmFailure, ConfirmRejected

router = APIRouter(include_in_schema=False)
templates = Jinja2Templates(directory=Path(__file__).parent.parent / "templates")

COOKIE = "reset_link"
PATH = "/reset-password"
COOKIE_SECONDS = 15 * 60


def _page(request: Request, template: str, status: int = 200, **context: object) -> HTMLResponse:
    return templates.TemplateResponse(request, template, context, status_code=status)


@router.api_route(PATH, methods=["GET", "HEAD"])
async def landing(
    request: Request,
    resets: Resets,
    token: str | None = None,
    reset_link: Annotated[str | None, Cookie(alias=COOKIE)] = None,
) -> Response:
    if token:
        response = RedirectResponse(PATH, status_code=303)
        response.set_cookie(
            COOKIE,
            token,
            max_age=COOKIE_SECONDS,
            path=PATH,
            httponly=True,
            secure=request.url.scheme == "https",
            samesite="lax",
        )
        return response
    if not reset_link:
        return _page(
            request, "link_invalid.html", 410, message=CONFIRM_MESSAGES[ConfirmFailure.LINK_INVALID]
        )
    try:
        info = await resets.inspect_link(reset_link)
    except ConfirmRejected as exc:
        return _page(request, "link_invalid.html", 410, message=CONFIRM_MESSAGES[exc.failure])
    return _page(request, "set_new_password.html", requires_totp=info.requires_totp)


@router.post(PATH)
async def submit(
    request: Request,
    resets: Resets,
    new_password: Annotated[str, Form(max_length=1024)],
    confirm_password: Annotated[str, Form(max_length=1024)],
    verification_code: Annotated[str | None, Form(max_length=32)] = None,
    totp_code: Annotated[str | None, Form(max_length=6)] = None,
    reset_link: Annotated[str | None, Cookie(alias=COOKIE)] = None,
) -> Response:
    if not reset_link:
        return _page(
            request, "link_invalid.html", 410, message=CONFIRM_MESSAGES[ConfirmFailure.LINK_INVALID]
        )
    requires_totp = totp_code is not None
    if new_password != confirm_password:
        return _page(
            request,
            "set_new_password.html",
            400,
            requires_totp=requires_totp,
            error="The passwords do not match.",
        )
    try:
        await resets.confirm(
            token=reset_link, new_password=new_password, code=verification_code, totp_code=totp_code
        )
    except ConfirmRejected as exc:
        if exc.failure in (ConfirmFailure.LINK_INVALID, ConfirmFailure.TOO_MANY_ATTEMPTS):
            return _page(request, "link_invalid.html", 410, message=CONFIRM_MESSAGES[exc.failure])
        return _page(
            request,
            "set_new_password.html",
            400,
            requires_totp=requires_totp,
            error=CONFIRM_MESSAGES[exc.failure],
        )
    except PasswordRejected as exc:
        return _page(
            request,
            "set_new_password.html",
            422,
            requires_totp=requires_totp,
            error=f"Choose another password: {exc}.",
        )
    except IdentityUnavailable:
        return _page(
            request,
            "set_new_password.html",
            503,
            requires_totp=requires_totp,
            error="Something went wrong on our side. Try again in a moment.",
        )
    response = _page(request, "password_changed.html")
    response.delete_cookie(COOKIE, path=PATH)
    return response
