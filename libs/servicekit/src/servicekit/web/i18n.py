"""The language of a page: the person's choice first, then their browser's.

Order: a ``lang`` choice in the query (the language menu's links, ``?lang=de``), then the
``lang`` cookie that choice set, then ``Accept-Language`` (with its q-values), then English.
A choice is remembered in the cookie (flagged like every cookie of ours: HttpOnly, SameSite=Lax,
Secure and ``__Host-`` on https), so the next pages, and the forms posted from them, keep it.
Anything unsupported or malformed is passed over, never an error.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from starlette.requests import Request
from starlette.responses import Response

from servicekit.i18n import (
    SUPPORTED_LANGUAGES,
    language_name,
    negotiate,
    parse_accept_language,
    supported_language,
)
from servicekit.web import cookies

LANG_PARAM = "lang"
COOKIE = "lang"  # __Host-lang on an https origin
COOKIE_SECONDS = 365 * 24 * 3600


def chosen_language(request: Request, supported: Sequence[str] = SUPPORTED_LANGUAGES) -> str | None:
    """The language picked on the page just now (``?lang=``), if it is one we ship."""
    return supported_language(request.query_params.get(LANG_PARAM), supported)


def request_language(request: Request, supported: Sequence[str] = SUPPORTED_LANGUAGES) -> str:
    """The language to answer ``request`` in (kept on the request: asked once per request)."""
    known: str | None = getattr(request.state, "language", None)
    if known is not None:
        return known
    language = negotiate(
        [
            chosen_language(request, supported),
            cookies.read_cookie(request, COOKIE),
            *parse_accept_language(request.headers.get("accept-language")),
        ],
        supported,
    )
    request.state.language = language
    return language


def remember_choice(
    response: Response, request: Request, supported: Sequence[str] = SUPPORTED_LANGUAGES
) -> None:
    """Set the cookie when the page was asked for in a language picked just now."""
    chosen = chosen_language(request, supported)
    if chosen is not None and chosen != cookies.read_cookie(request, COOKIE):
        cookies.set_cookie(response, request, COOKIE, chosen, max_age=COOKIE_SECONDS)


def explicit_choice(request: Request, supported: Sequence[str] = SUPPORTED_LANGUAGES) -> str | None:
    """The language the person picked (just now, or earlier: the cookie), if any."""
    return chosen_language(request, supported) or supported_language(
        cookies.read_cookie(request, COOKIE), supported
    )


def carry_choice(url: str, request: Request, supported: Sequence[str] = SUPPORTED_LANGUAGES) -> str:
    """``url`` (a page of another service) with the language the person picked, if they did.
    Cookies are per host: without this, reset and identity on hosts of their own would each
    fall back to the browser's language after the person chose another."""
    choice = explicit_choice(request, supported)
    if choice is None:
        return url
    separator = "&" if "?" in url else "?"
    return f"{url}{separator}{LANG_PARAM}={choice}"


@dataclass(frozen=True)
class LanguageLink:
    """One entry of the language menu: the same page in ``code``."""

    code: str
    name: str  # in the language itself: a reader who can't read this page still finds theirs
    href: str  # path and query only, so the link stays on this origin
    current: bool


def language_links(
    request: Request, current: str, supported: Sequence[str] = SUPPORTED_LANGUAGES
) -> list[LanguageLink]:
    links = []
    for code in supported:
        url = request.url.include_query_params(**{LANG_PARAM: code})
        links.append(
            LanguageLink(
                code=code,
                name=language_name(code),
                href=f"{url.path}?{url.query}",
                current=code == current,
            )
        )
    return links
