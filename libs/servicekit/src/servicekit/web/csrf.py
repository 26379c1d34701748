"""CSRF protection for HTML forms: a double-submit cookie (docs/security.md, Web).

A random token lives in a cookie and in a hidden field of every form the service renders; a POST
is accepted only when both are present and equal (compared in constant time). Another site can
make a browser send our cookie (SameSite=Lax already stops that for POSTs in current browsers),
but it can neither read the cookie nor set it for our origin, so it cannot put the matching value
in the form. On an https origin the cookie is named ``__Host-csrf`` (servicekit.web.cookies): the
browser then refuses it unless it is Secure, host-only and for path ``/``, so a sibling subdomain
cannot plant a value of its own. And a form sent from another site is refused before it gets
here, by its Origin (servicekit.web.security_headers).

No server-side state and no key: the token is only ever compared with itself. It is reused for
as long as the browser keeps the cookie, so several open tabs keep working.
"""

import hmac
import re
import secrets

from starlette.requests import Request
from starlette.responses import Response

from servicekit.web import cookies

FIELD = "csrf_token"
TOKEN_BYTES = 32
_WELL_FORMED = re.compile(r"^[A-Za-z0-9_-]{43}$")  # token_urlsafe(32)


COOKIE = "csrf"


def _cookie_token(request: Request) -> str | None:
    value = cookies.read_cookie(request, COOKIE)
    return value if value and _WELL_FORMED.match(value) else None


def issue(request: Request) -> str:
    """The token to embed in a form: the browser's current one, or a new one."""
    token = getattr(request.state, "csrf_token", None) or _cookie_token(request)
    if token is None:
        token = secrets.token_urlsafe(TOKEN_BYTES)
    request.state.csrf_token = token
    return token


def set_cookie(response: Response, request: Request, token: str) -> None:
    # HttpOnly: the server writes the form field; no script needs to read it.
    cookies.set_cookie(response, request, COOKIE, token)


async def verify(request: Request) -> bool:
    """Whether the submitted form carries the token of the browser's cookie."""
    cookie = _cookie_token(request)
    form = await request.form()  # parsed once; Starlette caches it for the route's Form fields
    presented = form.get(FIELD)
    if cookie is None or not isinstance(presented, str):
        return False
    return hmac.compare_digest(presented.encode(), cookie.encode())
