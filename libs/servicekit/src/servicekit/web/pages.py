"""Server-rendered pages, the same way in every service: one layout and stylesheet (here), each
service's own templates and static files beside them, and a CSRF token in every form.

The security headers (CSP ``script-src 'self'; style-src 'self'``) refuse inline script and
style, so pages only link external files served from ``/static``.
"""

from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import FileSystemLoader

from servicekit.web import csrf
from servicekit.web.branding import Branding
from servicekit.web.security_headers import content_security_policy
from servicekit.web.templating import TemplateSet

SHARED_TEMPLATES = Path(__file__).parent / "templates"
STATIC_PATH = "/static"
BRAND_CSS_PATH = "/brand.css"


@dataclass
class PageTemplates:
    """A service's page templates (its own, then the shared layout): one ``TemplateSet`` per
    branding the app runs with (its override directory and the ``brand`` values), built on the
    first page and kept."""

    directory: Path
    _sets: dict[Branding, TemplateSet] = field(default_factory=dict)

    def bound(self, branding: Branding) -> TemplateSet:
        if branding not in self._sets:
            self._sets[branding] = TemplateSet(
                FileSystemLoader([self.directory, SHARED_TEMPLATES]),
                branding.template_override_dir,
                globals={"brand": branding},
            )
        return self._sets[branding]


def page_templates(service_templates: Path) -> PageTemplates:
    """The service's templates first, then the shared layout (``base.html``, ``forms.html``);
    ``TEMPLATE_OVERRIDE_DIR`` before both (``install_branding``)."""
    return PageTemplates(service_templates)


def install_branding(app: FastAPI, branding: Branding) -> None:
    """The app's pages show ``branding``; ``/brand.css`` sets the primary colour (the CSP
    refuses inline styles, and the colour is ``#rgb``/``#rrggbb`` only, so it cannot leave
    the declaration)."""
    app.state.branding = branding
    stylesheet = f":root {{\n  --accent: {branding.primary_colour};\n}}\n"

    async def brand_css() -> Response:
        return Response(stylesheet, media_type="text/css")

    app.add_api_route(BRAND_CSS_PATH, brand_css, methods=["GET"], include_in_schema=False)


def branding_of(request: Request) -> Branding:
    branding = getattr(request.app.state, "branding", None)
    return branding if isinstance(branding, Branding) else Branding()


def mount_static(app: FastAPI, service_static: Path | None = None) -> None:
    """``/static``: the service's own files, then the shared ones (``pages.css``)."""
    app.mount(
        STATIC_PATH,
        StaticFiles(directory=service_static, packages=[("servicekit.web", "static")]),
        name="static",
    )


def render_page(
    templates: PageTemplates,
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
    branding = branding_of(request)
    html = templates.bound(branding).render(template, {**context, "csrf_token": token})
    response = HTMLResponse(html, status_code=status)
    csrf.set_cookie(response, request, token)
    response.headers["Content-Security-Policy"] = content_security_policy(
        image_origin=branding.logo_origin, form_action_origin=form_redirects_to
    )
    return response
