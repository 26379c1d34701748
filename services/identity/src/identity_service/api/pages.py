"""The login page: the end of the reset flow, and where "Forgot your password?" starts it.

Two-factor: when the password is right and the account has TOTP, the page comes back asking for
the authenticator code *and the password again*. Nothing of the first step is kept (no pending
login on the server, no signed cookie holding a half-finished login), so there is nothing to steal
or replay in between; the cost is typing the password twice. The email is kept in the form.
"""

from gettext import NullTranslations
from pathlib import Path
from typing import Annotated

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from servicekit.i18n import N_
from servicekit.web import cookies, csrf
from servicekit.web.client_ip import ClientIp
from servicekit.web.i18n import carry_choice
from servicekit.web.pages import page_templates, render_page

from identity_service.api.deps import Accounts, RegistrationRequests
from identity_service.api.schemas import Login, VerifyRegistration
from identity_service.core.config import Settings
from identity_service.domain.second_factor import SecondFactor
from identity_service.service_layer.errors import (
    AuthFailed,
    HashingBusy,
    LoginThrottled,
    RegistrationLinkInvalid,
)

router = APIRouter(include_in_schema=False)
templates = page_templates(Path(__file__).parent.parent / "templates")

LOGIN_PATH = "/login"
LOGGED_IN_PATH = "/logged-in"
LOGOUT_PATH = "/logout"
SESSION_COOKIE = "session"  # __Host-session on an https origin

# Marked with N_ for extraction, translated into the page's language where they are shown.
RESET_DONE = N_("Your password was changed. Log in with your new password.")
VERIFIED = N_("Your email address is confirmed and your account is ready. Log in.")
SIGNED_OUT = N_("You are signed out.")
VERIFY_PATH = "/verify-email"
FORM_EXPIRED_CONFIRM = N_("This form had expired. Select the button again.")
LINK_INVALID = N_(
    "This link is invalid, used or expired. If you still want an account, register again."
)
FORM_EXPIRED = N_("This form had expired. Please log in again.")
BUSY = N_("We are very busy right now. Please try again in a moment.")
# (message, field to correct, whether the second factor is asked for)
_FAILURES = {
    "invalid_credentials": (N_("The email or password is wrong."), "password", False),
    "totp_invalid": (
        N_("That authenticator code is not right. Enter your password again with a new code."),
        "totp_code",
        True,
    ),
    "totp_throttled": (
        N_("Too many wrong codes. Wait a few minutes, then try again."),
        "totp_code",
        True,
    ),
    "account_locked": (
        N_(
            "Too many wrong codes in a row. Log in with one of your recovery codes, "
            "or contact support."
        ),
        "recovery_code",
        True,
    ),
}
_INPUT_PROBLEMS = {
    "email": N_("Enter your email address, like name@example.com."),
    "password": N_("Enter your password."),
    "totp_code": N_("Enter the 6-digit code from your authenticator app."),
    "recovery_code": N_("Enter a recovery code exactly as you saved it."),
}
CHECK_INPUT = N_("Check what you entered.")


def _t(request: Request) -> NullTranslations:
    return templates.gettext(request)


def _too_many_failures(t: NullTranslations, seconds: int) -> str:
    # Whole sentences: the unit and its plural belong to the translation.
    if seconds < 60:
        message = t.ngettext(
            "Too many failed attempts. Wait %(count)d second, then try again.",
            "Too many failed attempts. Wait %(count)d seconds, then try again.",
            seconds,
        )
        return message % {"count": seconds}
    minutes = -(-seconds // 60)
    message = t.ngettext(
        "Too many failed attempts. Wait %(count)d minute, then try again.",
        "Too many failed attempts. Wait %(count)d minutes, then try again.",
        minutes,
    )
    return message % {"count": minutes}


def _login_page(
    request: Request,
    status: int = 200,
    *,
    email: str | None = None,
    second_step: bool = False,
    error: str | None = None,
    error_field: str | None = None,
    notice: str | None = None,
) -> HTMLResponse:
    settings: Settings = request.app.state.settings
    return render_page(
        templates,
        request,
        "login.html",
        status,
        email=email,
        second_step=second_step,
        error=error,
        error_field=error_field,
        # The first field to fill in: on the second step that is the password again.
        focus_field="email" if not email or error_field == "email" else "password",
        notice=notice,
        # The language the person picked goes along: the cookie stays on this service's host.
        forgot_password_url=carry_choice(
            f"{str(settings.reset_public_url).rstrip('/')}/forgot-password", request
        ),
        support_url=settings.branding.support_url,
    )


@router.get(LOGIN_PATH)
async def login_form(
    request: Request,
    reset: str | None = None,
    verified: str | None = None,
    signed_out: str | None = None,
) -> HTMLResponse:
    notice = (
        RESET_DONE
        if reset == "done"
        else VERIFIED
        if verified == "1"
        else SIGNED_OUT
        if signed_out == "1"
        else None
    )
    return _login_page(request, notice=_t(request).gettext(notice) if notice else None)


def _verify_page(
    request: Request, status: int = 200, *, token: str | None = None, error: str | None = None
) -> HTMLResponse:
    error = error or (None if token else _t(request).gettext(LINK_INVALID))
    return render_page(templates, request, "verify_email.html", status, token=token, error=error)


@router.get(VERIFY_PATH)
async def verify_email_form(request: Request, token: str | None = None) -> HTMLResponse:
    """Only shows a button: mail scanners open links, and must not create accounts."""
    try:
        checked = VerifyRegistration(token=token or "").token
    except ValidationError:
        return _verify_page(request, 410)
    return _verify_page(request, token=checked)


@router.post(VERIFY_PATH)
async def verify_email(
    request: Request,
    registrations: RegistrationRequests,
    token: Annotated[str | None, Form(max_length=128)] = None,
) -> Response:
    if not await csrf.verify(request):
        # Shown again with a fresh form: pressing the button once more is all it takes.
        return _verify_page(
            request, 403, token=token, error=_t(request).gettext(FORM_EXPIRED_CONFIRM)
        )
    try:
        await registrations.complete(VerifyRegistration(token=token or "").token)
    except (ValidationError, RegistrationLinkInvalid):
        return _verify_page(request, 410)
    return RedirectResponse(f"{LOGIN_PATH}?verified=1", status_code=303)


@router.post(LOGIN_PATH)
async def login(
    request: Request,
    accounts: Accounts,
    ip: ClientIp,
    email: Annotated[str | None, Form(max_length=320)] = None,
    password: Annotated[str | None, Form(max_length=1024)] = None,
    totp_code: Annotated[str | None, Form(max_length=32)] = None,
    recovery_code: Annotated[str | None, Form(max_length=32)] = None,
) -> Response:
    second_step = totp_code is not None or recovery_code is not None
    t = _t(request)
    if not await csrf.verify(request):
        return _login_page(request, 403, email=email, error=t.gettext(FORM_EXPIRED))
    try:
        # The JSON API's schema, so both normalise the email the same way.
        form = Login(
            email=(email or "").strip(),
            password=password or "",
            totp_code=(totp_code or "").replace(" ", "") or None,
            recovery_code=(recovery_code or "").strip() or None,
        )
    except ValidationError as exc:
        field = str(exc.errors()[0]["loc"][0])
        return _login_page(
            request,
            400,
            email=email,
            second_step=second_step,
            error=t.gettext(_INPUT_PROBLEMS.get(field, CHECK_INPUT)),
            error_field=field,
        )
    try:
        token = await accounts.login(
            str(form.email), form.password, SecondFactor(form.totp_code, form.recovery_code), ip
        )
    except LoginThrottled as exc:
        page = _login_page(
            request,
            429,
            email=str(form.email),
            second_step=second_step,
            error=_too_many_failures(t, exc.retry_after_seconds),
            error_field="password",
        )
        page.headers["Retry-After"] = str(exc.retry_after_seconds)
        return page
    except HashingBusy as exc:
        page = _login_page(
            request, 503, email=str(form.email), error=t.gettext(BUSY), error_field="password"
        )
        page.headers["Retry-After"] = str(exc.retry_after_seconds)
        return page
    except AuthFailed as exc:
        if exc.reason == "totp_required":
            return _login_page(request, 401, email=str(form.email), second_step=True)
        message, field, second = _FAILURES[exc.reason]
        return _login_page(
            request,
            401,
            email=str(form.email),
            second_step=second,
            error=t.gettext(message),
            error_field=field,
        )
    response = RedirectResponse(LOGGED_IN_PATH, status_code=303)
    cookies.set_cookie(
        response,
        request,
        SESSION_COOKIE,
        token,
        max_age=request.app.state.settings.session_ttl_seconds,
    )
    return response


@router.get(LOGGED_IN_PATH)
async def logged_in(request: Request, accounts: Accounts) -> Response:
    token = cookies.read_cookie(request, SESSION_COOKIE)
    if not token or await accounts.account_of_session(token) is None:
        return RedirectResponse(LOGIN_PATH, status_code=303)
    return render_page(templates, request, "logged_in.html")


@router.post(LOGOUT_PATH)
async def logout(request: Request, accounts: Accounts) -> Response:
    """Ends the session on the server (a copied cookie dies with it), then in the browser.
    CSRF-checked: another site must not sign the person out."""
    if not await csrf.verify(request):
        return RedirectResponse(LOGGED_IN_PATH, status_code=303)
    token = cookies.read_cookie(request, SESSION_COOKIE)
    if token:
        await accounts.end_session(token)
    response = RedirectResponse(f"{LOGIN_PATH}?signed_out=1", status_code=303)
    cookies.delete_cookie(response, request, SESSION_COOKIE)
    return response
