"""The pages a person sees: "Reset password" (ask), the verification code, "Set new password".

Landing on ``/reset-password?token=…`` swaps the token for a short-lived HttpOnly cookie and
redirects to a URL without it, so the token cannot leak through history or Referer. Neither GET
nor HEAD consumes the link (mail scanners prefetch links). Every form carries a CSRF token
(servicekit.web.csrf). The verification code is rendered in the POST's own response, never put in a
URL: reloading asks the browser to resend the form, which issues a new code and link.
"""

from pathlib import Path
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import APIRouter, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from pydantic import ValidationError
from servicekit.web import cookies, csrf
from servicekit.web.pages import page_templates, render_page

from reset_service.api.deps import ClientIp, Resets
from reset_service.api.schemas import ResetRequest
from reset_service.core.config import Settings
from reset_service.domain.secrets_issued import LINK_PATH
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

FORM_EXPIRED = "This form had expired, so nothing was sent. Please submit it again."
UNAVAILABLE = "Something went wrong on our side. Please try again in a moment."
EMAIL_INVALID = "Enter your email address, like name@example.com."
NO_NEW_PASSWORD = "Enter a new password."  # noqa: S105 - a message, not a password
TOTP_THROTTLED = "Too many wrong authenticator codes. Wait a few minutes, then try again."
PASSWORDS_DIFFER = "The passwords do not match. Type the same new password in both fields."
LINKS_LIMITED = (
    "Too many reset links that do not work were opened from your network. Wait a few minutes, "
    "then open the newest link you received."
)
LINK_MESSAGES = {
    ConfirmFailure.LINK_INVALID: (
        "This reset link has expired or has already been used. A link works once, for a limited "
        "time, and only the newest one you asked for."
    ),
    # The count carries over to new requests of the account within the rate-limit window.
    ConfirmFailure.TOO_MANY_ATTEMPTS: (
        "Too many wrong codes were entered, so this reset link no longer works. "
        "Wait {minutes} minutes, then ask for a new one."
    ),
}


def _settings(request: Request) -> Settings:
    settings: Settings = request.app.state.settings
    return settings


def _identity_origin(request: Request) -> str:
    url = urlsplit(str(_settings(request).identity_public_url))
    return f"{url.scheme}://{url.netloc}"


def _login_url(request: Request) -> str:
    return f"{str(_settings(request).identity_public_url).rstrip('/')}/login"


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
    message = LINK_MESSAGES[failure].format(minutes=minutes)
    return render_page(templates, request, "link_invalid.html", 410, message=message)


def _too_many_links(request: Request, exc: RateLimited) -> HTMLResponse:
    # Only this network tried too many links that match nothing.
    response = render_page(templates, request, "link_invalid.html", 429, message=LINKS_LIMITED)
    response.headers["Retry-After"] = str(exc.retry_after_seconds)
    return response


def _code_field(requires_totp: bool) -> str:
    return "totp_code" if requires_totp else "verification_code"


def _code_problem(
    exc: ConfirmRejected, *, requires_totp: bool, used_recovery: bool
) -> tuple[int, str, str]:
    """Status, message and field to correct for a rejected code."""
    field = _code_field(requires_totp)
    if exc.failure is ConfirmFailure.TOTP_THROTTLED:
        return 429, TOTP_THROTTLED, field
    if exc.failure is ConfirmFailure.WRONG_CODE:
        if not requires_totp:
            return 400, _wrong_code("verification code", exc.attempts_left), field
        if used_recovery:
            return 400, _wrong_code("recovery code", exc.attempts_left), "recovery_code"
        return 400, _wrong_code("authenticator code", exc.attempts_left), field
    if requires_totp:
        return 400, "Enter the 6-digit code from your authenticator app, or a recovery code.", field
    return 400, "Enter the verification code shown when you asked for the reset.", field


def _wrong_code(what: str, attempts_left: int | None) -> str:
    if attempts_left is None:
        return f"That {what} is not right."
    plural = "attempt" if attempts_left == 1 else "attempts"
    return f"That {what} is not right. {attempts_left} {plural} left."


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

    if not await csrf.verify(request):
        return again(403, FORM_EXPIRED)
    try:
        address = str(ResetRequest(email=(email or "").strip()).email)
    except ValidationError:
        return again(400, EMAIL_INVALID)
    try:
        issued = await resets.request(address, ip)
    except RateLimited as exc:
        # Only this network asked too often; it says nothing about the address.
        minutes = -(-exc.retry_after_seconds // 60)
        return again(429, f"Too many requests from your network. Try again in {minutes} min.")
    except IdentityUnavailable:
        return again(503, UNAVAILABLE)
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

    if not await csrf.verify(request):
        return again(403, FORM_EXPIRED, None)
    if not new_password:
        return again(400, NO_NEW_PASSWORD, "new_password")
    if new_password != confirm_password:
        return again(400, PASSWORDS_DIFFER, "confirm_password")
    try:
        await resets.confirm(
            token=reset_link,
            new_password=new_password,
            code=verification_code,
            totp_code=(totp_code or "").replace(" ", "") or None,
            recovery_code=(recovery_code or "").strip() or None,
            client_ip=ip,
        )
    except ConfirmRejected as exc:
        if exc.failure in LINK_MESSAGES:
            return _link_invalid(request, exc.failure)
        used_recovery = bool(recovery_code and not totp_code)
        return again(*_code_problem(exc, requires_totp=requires_totp, used_recovery=used_recovery))
    except PasswordRejected as exc:
        return again(422, f"This password can't be used: {exc}.", "new_password")
    except IdentityUnavailable:
        return again(503, UNAVAILABLE, None)
    # No automatic login (docs/security.md): the person logs in with the new password.
    response = RedirectResponse(f"{_login_url(request)}?reset=done", status_code=303)
    cookies.delete_cookie(response, request, COOKIE, PATH)
    return response
