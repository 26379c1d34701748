"""Server-rendered pages, the same way in every service: one layout and stylesheet (here), each
service's own templates and static files beside them, and a CSRF token in every form.

The security headers (CSP ``script-src 'self'; style-src 'self'``) refuse inline script and
style, so pages only link external files served from ``/static``.
"""

import gettext
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, Response
from fastapi.staticfiles import StaticFiles
from jinja2 import FileSystemLoader

from servicekit.i18n import SUPPORTED_LANGUAGES, load_translations
from servicekit.web import csrf
from servicekit.web.branding import Branding
from servicekit.web.i18n import language_links, remember_choice, request_language
from servicekit.web.security_headers import content_security_policy
from servicekit.web.templating import TemplateSet

SHARED_TEMPLATES = Path(__file__).parent / "templates"
# The layout's own words (the language menu's label): the services' catalogs fall back to these.
SHARED_LOCALES = Path(__file__).parent / "locales"
STATIC_PATH = "/static"
BRAND_CSS_PATH = "/brand.css"


@dataclass
class PageTemplates:
    """A service's page templates (its own, then the shared layout), in each language: one
    ``TemplateSet`` per branding the app runs with (its override directory and the ``brand``
    values) and language (that language's catalog installed: ``jinja2.ext.i18n``, new-style
    gettext, autoescaping kept), built on the first page and kept."""

    directory: Path
    translations: Mapping[str, gettext.NullTranslations] = field(default_factory=dict)
    _sets: dict[tuple[Branding, str], TemplateSet] = field(default_factory=dict)

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.translations) or ("en",)

    def language(self, request: Request) -> str:
        return request_language(request, self.languages)

    def gettext(self, request: Request) -> gettext.NullTranslations:
        """The catalog of the request's language, for the messages routes put on a page."""
        return self.translations.get(self.language(request)) or gettext.NullTranslations()

    def bound(self, branding: Branding, language: str = "en") -> TemplateSet:
        key = (branding, language)
        if key not in self._sets:
            self._sets[key] = TemplateSet(
                FileSystemLoader([self.directory, SHARED_TEMPLATES]),
                branding.template_override_dir,
                globals={"brand": branding},
                translations=self.translations.get(language) or gettext.NullTranslations(),
            )
        return self._sets[key]


def page_templates(service_templates: Path, locales: Path | None = None) -> PageTemplates:
    """The service's templates first, then the shared layout (``base.html``, ``forms.html``);
    ``TEMPLATE_OVERRIDE_DIR`` before both (``install_branding``); translated with the service's
    catalogs (``locales``, by default ``locales/`` beside the templates), which fall back to the
    shared kit's."""
    locales = locales if locales is not None else service_templates.parent / "locales"
    translations: dict[str, gettext.NullTranslations] = {}
    for language in SUPPORTED_LANGUAGES:
        shared = load_translations(SHARED_LOCALES, language)
        translations[language] = load_translations(locales, language, fallback=shared)
    return PageTemplates(service_templates, translations)


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

    In the request's language (``servicekit.web.i18n``), with the language menu's links; a
    language picked on the page just now is remembered in its cookie.
    """
    token = csrf.issue(request)
    branding = branding_of(request)
    language = templates.language(request)
    html = templates.bound(branding, language).render(
        template,
        {
            **context,
            "csrf_token": token,
            "language": language,
            "language_links": language_links(request, language, templates.languages),
        },
    )
    response = HTMLResponse(html, status_code=status)
    response.headers["Content-Language"] = language
    csrf.set_cookie(response, request, token)
    remember_choice(response, request, templates.languages)
    response.headers["Content-Security-Policy"] = content_security_policy(
        image_origin=branding.logo_origin, form_action_origin=form_redirects_to
    )
    return response
