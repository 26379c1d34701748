"""What every answer of a web-facing service does the same way (docs/security.md, Web):

- decides the request's public origin (``servicekit.web.public_origin``) and sets the ASGI scheme
  from it, so cookies get ``Secure`` and the ``__Host-`` prefix behind a TLS proxy;
- refuses a state-changing request whose ``Origin`` (or ``Sec-Fetch-Site``) is another site, on
  top of the CSRF token: a token the attacker chose, planted as a cookie from a sibling
  subdomain, does not get a cross-site form through;
- adds the security headers, HSTS too on an https origin, to every answer, error pages
  included: it wraps everything but telemetry, so add it after the other middleware.
"""

import re

from starlette.datastructures import Headers, MutableHeaders
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from servicekit.web.client_ip import Network
from servicekit.web.http_errors import error_response
from servicekit.web.public_origin import origin_of, public_origin, same_origin


def content_security_policy(
    *, image_origin: str | None = None, form_action_origin: str | None = None
) -> str:
    """The policy of every answer: only our own files, plus the logo's origin for images
    (``LOGO_URL``, servicekit.web.branding) and the origin a page's form may be redirected to."""
    images = " ".join(["'self'", *_origins(image_origin)])
    forms = " ".join(["'self'", *_origins(form_action_origin)])
    return (
        f"default-src 'self'; script-src 'self'; style-src 'self'; img-src {images}; "
        f"form-action {forms}; base-uri 'none'; object-src 'none'; frame-ancestors 'none'"
    )


def _origins(origin: str | None) -> list[str]:
    if not origin:
        return []
    origin = origin.rstrip("/")
    # An origin only: a space, ";" or "," would add a source or a whole directive.
    if not _ORIGIN.fullmatch(origin):
        raise ValueError(f"not an origin: {origin!r}")
    return [origin]


_ORIGIN = re.compile(r"https?://(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")
HEADERS = {
    "Cache-Control": "no-store",
    "Referrer-Policy": "no-referrer",
    "X-Content-Type-Options": "nosniff",
    "Content-Security-Policy": content_security_policy(),
    "X-Frame-Options": "DENY",
}
HSTS = "max-age=31536000"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


class SecurityHeaders:
    def __init__(
        self,
        app: ASGIApp,
        public_base_url: str = "http://127.0.0.1",
        trusted_proxies: tuple[Network, ...] = (),
        image_origin: str | None = None,
    ) -> None:
        self.app = app
        self.configured = origin_of(public_base_url)
        self.trusted = trusted_proxies
        self.headers = {
            **HEADERS,
            "Content-Security-Policy": content_security_policy(image_origin=image_origin),
        }

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        client = scope.get("client")
        origin = public_origin(
            self.configured,
            peer=client[0] if client else None,
            forwarded_proto=headers.get("x-forwarded-proto"),
            forwarded_host=headers.get("x-forwarded-host"),
            trusted=self.trusted,
        )
        https = origin.startswith("https://")
        scope["scheme"] = "https" if https else "http"
        scope.setdefault("state", {})["public_origin"] = origin

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                out = MutableHeaders(scope=message)
                for name, value in self.headers.items():
                    out.setdefault(name, value)
                if https:
                    out.setdefault("Strict-Transport-Security", HSTS)
            await send(message)

        if scope["method"] not in SAFE_METHODS and not same_origin(
            origin,
            origin_header=headers.get("origin"),
            fetch_site=headers.get("sec-fetch-site"),
        ):
            refused = error_response(
                403, "cross_origin", "this form was sent from another site; nothing was done"
            )
            await refused(scope, receive, send_with_headers)
            return
        await self.app(scope, receive, send_with_headers)
