"""The pages a person sees: "Reset password" (ask), the verification code, "Set new password".

Landing on ``/reset-password?token=…`` swaps the token for a short-lived HttpOnly cookie and
redirects to a URL without it, so the token cannot leak through history or Referer. Neither GET
nor HEAD consumes the link (mail scanners prefetch links). Every form carries a CSRF token
(servicekit.web.csrf). The verification code is rendered in the POST's own response, never put in a
URL: reloading asks the browser to resend the form, which issues a new code and link.

Every message is in the page's language (servicekit.web.i18n): the constants below are marked
for extraction with ``N_`` and translated where a page is rendered; the page's language also
goes with the reset (the email's language) and with the new password (stored on the account,
for the emails identity sends later).
"""

from gettext import NullTranslations
from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from servicekit.i18n import N_
from servicekit.web import cookies, csrf
from servicekit.web.i18n import carry_choice
from servicekit.web.pages import page_templates, render_page

from reset_service.api.deps import ClientIp, Resets
from reset_service.api.messages import password_problem
from reset_service.api.schemas import ResetRequest
from reset_service.core.config import Settings
from reset_service.domain.secrets_issued import LINK_PATH, is_link_token
from reset_service.service_layer.errors import (
    ConfirmFailure,
    ConfirmRejected,
    IdentityUnavailable,
    PasswordRejected,
    RateLimited,
)

router = APIRouter(include_in_schema=False)
templates = page_templates(Path(__file__).parent.parent / "templates")

COOKIE = "reset_link"  # __Secure-reset_link on an https origin (its path is not /)
FORGOT_PATH = "/forgot-password"
PATH = LINK_PATH  # where the emailed link lands
COOKIE_SECONDS = 15 * 60

FORM_EXPIRED = N_("This form had expired, so nothing was sent. Please submit it again.")
UNAVAILABLE = N_("Something went wrong on our side. Please try again in a moment.")
EMAIL_INVALID = N_("Enter your email address, like name@example.com.")
NO_NEW_PASSWORD = N_("Enter a new password.")
TOTP_THROTTLED = N_("Too many wrong authenticator codes. Wait a few minutes, then try again.")
PASSWORDS_DIFFER = N_("The passwords do not match. Type the same new password in both fields.")
LINKS_LIMITED = N_(
    "Too many reset links that do not work were opened from your network. Wait a few minutes, "
    "then open the newest link you received."
)
LINK_MESSAGES = {
    ConfirmFailure.LINK_INVALID: N_(
        "This reset link has expired or has already been used. A link works once, for a limited "
        "time, and only the newest one you asked for."
    ),
    # The count carries over to new requests of the account within the rate-limit window.
    ConfirmFailure.TOO_MANY_ATTEMPTS: N_(
        "Too many wrong codes were entered, so this reset link no longer works. "
        "Wait %(minutes)s minutes, then ask for a new one."
    ),
    ConfirmFailure.RESET_OUTDATED: N_(
        "Two-factor authentication was turned off for your account after you asked for this "
        "reset, so this link no longer works."
    ),
}
# Not an unusable link: the account changed since (409), the page still says to ask again.
LINK_STATUS = {ConfirmFailure.RESET_OUTDATED: 409}
CODE_REQUIRED = N_("Enter the verification code shown when you asked for the reset.")
TOTP_OR_RECOVERY_REQUIRED = N_(
    "Enter the 6-digit code from your authenticator app, or a recovery code."
)


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _identity_origin(request: Request) -> str:
    url = urlsplit(str(_settings(request).identity_public_url))
    return f"{url.scheme}://{url.netloc}"


def _login_url(request: Request, query: str = "") -> str:
    # The language the person picked goes along: the cookie stays on this service's host.
    url = f"{str(_settings(request).identity_public_url).rstrip('/')}/login{query}"
    return carry_choice(url, request)


def _set_new_password_page(request: Request, status: int = 200, **context: object) -> HTMLResponse:
    # The form's success answer redirects to identity's login page: allow that origin.
    return render_page(
        templates,
        request,
        "set_new_password.html",
        status,
        form_redirects_to=_identity_origin(request),
        support_url=_settings(request).branding.support_url,
        **context,
    )


def _link_invalid(request: Request, failure: ConfirmFailure) -> HTMLResponse:
    minutes = -(-_settings(request).rate_limit_window_seconds // 60)
    message = _t(request).gettext(LINK_MESSAGES[failure]) % {"minutes": minutes}
    status = LINK_STATUS.get(failure, 410)
    return render_page(templates, request, "link_invalid.html", status, message=message)


def _too_many_links(request: Request, exc: RateLimited) -> HTMLResponse:
    # Only this network tried too many links that match nothing.
    message = _t(request).gettext(LINKS_LIMITED)
    response = render_page(templates, request, "link_invalid.html", 429, message=message)
    response.headers["Retry-After"] = str(exc.retry_after_seconds)
    return response


def _code_field(requires_totp: bool) -> str:
    return "totp_code" if requires_totp else "verification_code"


def _t(request: Request) -> NullTranslations:
    return templates.gettext(request)


def _code_problem(
    t: NullTranslations, exc: ConfirmRejected, *, requires_totp: bool, used_recovery: bool
) -> tuple[int, str, str]:
    """Status, message and field to correct for a rejected code."""
    field = _code_field(requires_totp)
    if exc.failure is ConfirmFailure.TOTP_THROTTLED:
        return 429, t.gettext(TOTP_THROTTLED), field
    if exc.failure is ConfirmFailure.WRONG_CODE:
        # Whole sentences per kind of code: word order and gender differ between languages.
        if not requires_totp:
            wrong = t.gettext("That verification code is not right.")
        elif used_recovery:
            wrong = t.gettext("That recovery code is not right.")
            field = "recovery_code"
        else:
            wrong = t.gettext("That authenticator code is not right.")
        return 400, _with_attempts_left(t, wrong, exc.attempts_left), field
    if requires_totp:
        return 400, t.gettext(TOTP_OR_RECOVERY_REQUIRED), field
    return 400, t.gettext(CODE_REQUIRED), field


def _with_attempts_left(t: NullTranslations, wrong: str, attempts_left: int | None) -> str:
    if attempts_left is None:
        return wrong
    left = t.ngettext("%(count)d attempt left.", "%(count)d attempts left.", attempts_left)
    return f"{wrong} {left % {'count': attempts_left}}"


@router.get(FORGOT_PATH)
async def forgot_password_form(request: Request) -> HTMLResponse:
    return render_page(templates, request, "forgot_password.html", login_url=_login_url(request))


@router.post(FORGOT_PATH)
async def forgot_password(
    request: Request,
    resets: Resets,
    ip: ClientIp,
    email: Annotated[str | None, Form(max_length=320)] = None,
) -> HTMLResponse:
    def again(status: int, error: str) -> HTMLResponse:
        return render_page(
            templates,
            request,
            "forgot_password.html",
            status,
            email=email,
            error=error,
            error_field="email",
            login_url=_login_url(request),
        )

    t = _t(request)
    if not await csrf.verify(request):
        return again(403, t.gettext(FORM_EXPIRED))
    try:
        address = str(ResetRequest(email=(email or "").strip()).email)
    except ValidationError:
        return again(400, t.gettext(EMAIL_INVALID))
    try:
        # The email is written in the language of this page.
        issued = await resets.request(address, ip, language=templates.language(request))
    except RateLimited as exc:
        # Only this network asked too often; it says nothing about the address.
        minutes = -(-exc.retry_after_seconds // 60)
        too_many = t.gettext("Too many requests from your network. Try again in %(minutes)s min.")
        return again(429, too_many % {"minutes": minutes})
    except IdentityUnavailable:
        return again(503, t.gettext(UNAVAILABLE))
    # The same page for every address, known or not (docs/security.md).
    return render_page(
        templates,
        request,
        "code_sent.html",
        code=issued.verification_code,
        email=address,
        minutes_valid=issued.expires_in_seconds // 60,
    )


@router.api_route(PATH, methods=["GET", "HEAD"])
async def landing(
    request: Request,
    resets: Resets,
    ip: ClientIp,
    token: str | None = None,
) -> Response:
    if token and not is_link_token(token):
        # A crafted link: no token of ours, so nothing to keep (a header cannot even carry
        # some of them). The answer every unusable link gets.
        return _link_invalid(request, ConfirmFailure.LINK_INVALID)
    if token:
        response = RedirectResponse(PATH, status_code=303)
        cookies.set_cookie(response, request, COOKIE, token, path=PATH, max_age=COOKIE_SECONDS)
        return response
    reset_link = cookies.read_cookie(request, COOKIE, PATH)
    if not reset_link:
        return _link_invalid(request, ConfirmFailure.LINK_INVALID)
    try:
        info = await resets.inspect_link(reset_link, ip)
    except ConfirmRejected as exc:
        return _link_invalid(request, exc.failure)
    except RateLimited as exc:
        return _too_many_links(request, exc)
    return _set_new_password_page(request, requires_totp=info.requires_totp)


@router.post(PATH)
async def submit(
    request: Request,
    resets: Resets,
    ip: ClientIp,
    new_password: Annotated[str | None, Form(max_length=1024)] = None,
    confirm_password: Annotated[str | None, Form(max_length=1024)] = None,
    verification_code: Annotated[str | None, Form(max_length=32)] = None,
    totp_code: Annotated[str | None, Form(max_length=32)] = None,
    recovery_code: Annotated[str | None, Form(max_length=32)] = None,
) -> Response:
    reset_link = cookies.read_cookie(request, COOKIE, PATH)
    if not reset_link:
        return _link_invalid(request, ConfirmFailure.LINK_INVALID)
    # Which code the form asks for comes from the request itself, never from the submitted form.
    try:
        requires_totp = (await resets.inspect_link(reset_link, ip)).requires_totp
    except ConfirmRejected as exc:
        return _link_invalid(request, exc.failure)
    except RateLimited as exc:
        return _too_many_links(request, exc)

    def again(status: int, error: str, field: str | None) -> HTMLResponse:
        return _set_new_password_page(
            request,
            status,
            requires_totp=requires_totp,
            error=error,
            error_field=field,
        )

    t = _t(request)
    if not await csrf.verify(request):
        return again(403, t.gettext(FORM_EXPIRED), None)
    if not new_password:
        return again(400, t.gettext(NO_NEW_PASSWORD), "new_password")
    if new_password != confirm_password:
        return again(400, t.gettext(PASSWORDS_DIFFER), "confirm_password")
    try:
        await resets.confirm(
            token=reset_link,
            new_password=new_password,
            code=verification_code,
            totp_code=(totp_code or "").replace(" ", "") or None,
            recovery_code=(recovery_code or "").strip() or None,
            client_ip=ip,
            # Stored on the account: identity's later emails are written in it.
            language=templates.language(request),
        )
    except ConfirmRejected as exc:
        if exc.failure in LINK_MESSAGES:
            return _link_invalid(request, exc.failure)
        used_recovery = bool(recovery_code and not totp_code)
        problem = _code_problem(t, exc, requires_totp=requires_totp, used_recovery=used_recovery)
        return again(*problem)
    except PasswordRejected as exc:
        return again(422, password_problem(t, exc), "new_password")
    except IdentityUnavailable:
        return again(503, t.gettext(UNAVAILABLE), None)
    # No automatic login (docs/security.md): the person logs in with the new password.
    response = RedirectResponse(_login_url(request, "?reset=done"), status_code=303)
    cookies.delete_cookie(response, request, COOKIE, PATH)
    return response
