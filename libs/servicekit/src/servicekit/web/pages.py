"""Server-rendered pages, the same way in every service: one layout and stylesheet (here), each
service's own templates and static files beside them, and a CSRF token in every form.

The security headers (CSP ``script-src 'self'; style-src 'self'``) refuse inline script and
style, so pages only link external files served from ``/static``.
"""

from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates

from servicekit.web import csrf
from servicekit.web.security_headers import HEADERS

SHARED_TEMPLATES = Path(__file__).parent / "templates"
STATIC_PATH = "/static"


def page_templates(service_templates: Path) -> Jinja2Templates:
    """The service's templates first, then the shared layout (``base.html``, ``forms.html``)."""
    return Jinja2Templates(directory=[service_templates, SHARED_TEMPLATES])


def mount_static(app: FastAPI, service_static: Path | None = None) -> None:
    """``/static``: the service's own files, then the shared ones (``pages.css``)."""
    app.mount(
        STATIC_PATH,
        StaticFiles(directory=service_static, packages=[("servicekit.web", "static")]),
        name="static",
    )


def render_page(
    templates: Jinja2Templates,
    request: Request,
    template: str,
    status: int = 200,
    *,
    form_redirects_to: str | None = None,
    **context: object,
) -> HTMLResponse:
    """Render ``template`` with a CSRF token for its forms, and the cookie that token matches.

    ``form_redirects_to``: an origin the page's form may be redirected to after it is posted.
    Browsers apply CSP ``form-action`` to the redirects that follow a submission too, so without
    it a POST answered with a redirect to another service is blocked.
    """
    token = csrf.issue(request)
    response = templates.TemplateResponse(
        request, template, {**context, "csrf_token": token}, status_code=status
    )
    csrf.set_cookie(response, request, token)
    if form_redirects_to:
        response.headers["Content-Security-Policy"] = _csp_with_form_action(form_redirects_to)
    return response


def _csp_with_form_action(origin: str) -> str:
    policy = HEADERS["Content-Security-Policy"]
    if "form-action 'self'" not in policy:
        raise RuntimeError("the default CSP no longer has form-action 'self' to widen")
    if not origin.startswith(("http://", "https://")) or any(c in origin for c in " ;,'"):
        raise ValueError(f"not an origin: {origin!r}")
    return policy.replace("form-action 'self'", f"form-action 'self' {origin.rstrip('/')}")
