"""Server-rendered pages, the same way in every service: one layout and stylesheet (here), each
service's own templates and static files beside them, and a CSRF token in every form.

The security headers (CSP ``script-src 'self'; style-src 'self'``) refuse inline script and
style, so pages only link external files served from ``/static``.
"""

import gettext
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from jinja2 import Environment, FileSystemLoader

from servicekit.i18n import SUPPORTED_LANGUAGES, load_translations
from servicekit.web import csrf
from servicekit.web.i18n import language_links, remember_choice, request_language
from servicekit.web.security_headers import HEADERS

SHARED_TEMPLATES = Path(__file__).parent / "templates"
# The layout's own words (the language menu's label): the services' catalogs fall back to these.
SHARED_LOCALES = Path(__file__).parent / "locales"
STATIC_PATH = "/static"


@dataclass(frozen=True)
class PageTemplates:
    """A service's pages in each language: one Jinja environment per language, with that
    language's catalog installed (``jinja2.ext.i18n``, new-style gettext, autoescaping on), so a
    page is rendered without any per-request state in the environment."""

    by_language: Mapping[str, Jinja2Templates]
    translations: Mapping[str, gettext.NullTranslations]

    @property
    def languages(self) -> tuple[str, ...]:
        return tuple(self.by_language)

    def language(self, request: Request) -> str:
        return request_language(request, self.languages)

    def gettext(self, request: Request) -> gettext.NullTranslations:
        """The catalog of the request's language, for the messages routes put on a page."""
        return self.translations[self.language(request)]


def page_templates(service_templates: Path, locales: Path | None = None) -> PageTemplates:
    """The service's templates first, then the shared layout (``base.html``, ``forms.html``);
    translated with the service's catalogs (``locales``, by default ``locales/`` beside the
    templates), which fall back to the shared kit's."""
    locales = locales if locales is not None else service_templates.parent / "locales"
    by_language: dict[str, Jinja2Templates] = {}
    translations: dict[str, gettext.NullTranslations] = {}
    for language in SUPPORTED_LANGUAGES:
        shared = load_translations(SHARED_LOCALES, language)
        translations[language] = load_translations(locales, language, fallback=shared)
        environment = Environment(
            loader=FileSystemLoader([service_templates, SHARED_TEMPLATES]),
            autoescape=True,
            extensions=["jinja2.ext.i18n"],
        )
        # Whitespace inside {% trans %} is folded, as the extraction folds it (babel.cfg).
        environment.policies["ext.i18n.trimmed"] = True
        environment.install_gettext_translations(  # type: ignore[attr-defined]
            translations[language], newstyle=True
        )
        by_language[language] = Jinja2Templates(env=environment)
    return PageTemplates(by_language, translations)


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
    language = templates.language(request)
    response = templates.by_language[language].TemplateResponse(
        request,
        template,
        {
            **context,
            "csrf_token": token,
            "language": language,
            "language_links": language_links(request, language, templates.languages),
        },
        status_code=status,
    )
    response.headers["Content-Language"] = language
    csrf.set_cookie(response, request, token)
    remember_choice(response, request, templates.languages)
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
