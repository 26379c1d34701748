"""The page behind the "This wasn't me" link of the "Your password was changed" and "Two-factor
authentication was turned on/off" emails; it says which change it undoes.

GET only shows one button: mail scanners follow links, so opening the link must never act.
The button's POST (CSRF token, and the Origin check of every POST) runs the use case (signs
the account out everywhere, starts a fresh reset through reset's internal API), then shows the
reset's code.
"""

import re
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse
from servicekit.i18n import N_
from servicekit.web import csrf
from servicekit.web.i18n import carry_choice
from servicekit.web.pages import page_templates, render_page

from identity_service.api.deps import Accounts
from identity_service.core.config import Settings

router = APIRouter(include_in_schema=False)
templates = page_templates(Path(__file__).parent.parent / "templates")

PATH = "/this-wasnt-me"
FORM_EXPIRED = N_("This page had expired, so nothing was done. Please select the button again.")
_TOKEN = re.compile(r"^[A-Za-z0-9_-]{16,128}$")  # as the JSON API's UndoPasswordChange


def _forgot_password_url(request: Request) -> str:
    settings: Settings = request.app.state.settings
    return carry_choice(f"{str(settings.reset_public_url).rstrip('/')}/forgot-password", request)


def _invalid(request: Request) -> HTMLResponse:
    return render_page(
        templates,
        request,
        "undo_link_invalid.html",
        410,
        forgot_password_url=_forgot_password_url(request),
    )


@router.get(PATH)
async def confirm_page(
    request: Request, accounts: Accounts, token: str | None = None
) -> HTMLResponse:
    if not token or not _TOKEN.match(token):
        return _invalid(request)
    kind = await accounts.undo_kind(token)
    if kind is None:
        return _invalid(request)
    return render_page(templates, request, "this_wasnt_me.html", token=token, kind=kind)


@router.post(PATH)
async def this_wasnt_me(
    request: Request,
    accounts: Accounts,
    token: Annotated[str | None, Form(max_length=256)] = None,
) -> HTMLResponse:
    if not token or not _TOKEN.match(token):
        return _invalid(request)
    kind = await accounts.undo_kind(token)
    if not await csrf.verify(request):
        return render_page(
            templates,
            request,
            "this_wasnt_me.html",
            403,
            token=token,
            kind=kind,
            error=templates.gettext(request).gettext(FORM_EXPIRED),
        )
    done = await accounts.this_wasnt_me(token)
    if done is None:
        return _invalid(request)
    return render_page(
        templates,
        request,
        "this_wasnt_me_done.html",
        # None: the reset service could not start one; the page offers to ask for a reset.
        code=done.verification_code,
        kind=done.kind,
        forgot_password_url=_forgot_password_url(request),
    )
