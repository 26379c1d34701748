"""Languages, the same way in every service: which ones ship, how a language tag is checked and
matched, how a service's gettext catalogs are loaded, and dates in the reader's language.

No I/O beyond reading the catalogs once, and no web framework: the notifier's domain renders
its emails with it (the request side, Accept-Language and the ``lang`` cookie, is
``servicekit.web.i18n``).

Catalogs: each service keeps its own, ``<package>/locales/<language>/LC_MESSAGES/messages.po``
(docs/operations.md, "Translating"). The ``.po`` sources are compiled in memory when a service
loads them, so there is no ``.mo`` build step to forget and no compiled copy to go stale; fuzzy
entries are left out, as ``pybabel compile`` leaves them out. English is the source language:
its text is the message ids, so it needs no catalog.
"""

import gettext
import io
import re
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import Annotated

from babel import Locale
from babel.dates import format_datetime
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.support import Translations
from pydantic import StringConstraints

DEFAULT_LANGUAGE = "en"
# Every service ships these, complete (a test compares each catalog with the templates).
SUPPORTED_LANGUAGES: tuple[str, ...] = ("en", "de", "es")
# A BCP 47 language tag as far as we use one: a 2-3 letter language, then subtags
# (script, region, variants) of 1-8 letters or digits. Longer than 35 characters is refused, as
# the events' ``locale`` field allows no more.
LANGUAGE_TAG = re.compile(r"^[A-Za-z]{2,3}(?:-[A-Za-z0-9]{1,8})*$")
MAX_TAG_LENGTH = 35
MESSAGES_DOMAIN = "messages"
# The same rule for a request body's or an event's language field (pydantic).
LanguageTag = Annotated[
    str, StringConstraints(max_length=MAX_TAG_LENGTH, pattern=LANGUAGE_TAG.pattern)
]


def N_(message: str) -> str:
    """Marks a message for extraction (``pybabel extract`` looks for ``N_``) and returns it as
    it is: code that builds a message before it knows the reader's language translates it
    later, with the reader's catalog."""
    return message


def is_language_tag(value: str) -> bool:
    # fullmatch: "$" alone would let a trailing newline through.
    return len(value) <= MAX_TAG_LENGTH and LANGUAGE_TAG.fullmatch(value) is not None


def supported_language(
    tag: str | None, supported: Sequence[str] = SUPPORTED_LANGUAGES
) -> str | None:
    """The supported language ``tag`` asks for (``de-AT`` -> ``de``), or None. Matching is
    case-insensitive, first on the whole tag, then on its language subtag."""
    if not tag or not is_language_tag(tag):
        return None
    wanted = tag.lower()
    by_lower = {language.lower(): language for language in supported}
    if wanted in by_lower:
        return by_lower[wanted]
    return by_lower.get(wanted.split("-", 1)[0])


def parse_accept_language(header: str | None) -> list[str]:
    """The tags of an ``Accept-Language`` header, most wanted first (RFC 9110 12.5.4).

    A missing ``q`` is 1; equal weights keep their order; ``q=0`` means "not this one" and is
    dropped; an entry that is malformed (a bad tag, a ``q`` that is no number in 0..1) is
    skipped, never an error. ``*`` is dropped: it asks for nothing in particular, and the
    default language is the answer to that anyway. Reads at most 50 entries."""
    if not header:
        return []
    weighted: list[tuple[float, int, str]] = []
    for position, entry in enumerate(header.split(",")[:50]):
        tag, _, params = entry.strip().partition(";")
        tag = tag.strip()
        quality = 1.0
        for param in params.split(";"):
            name, _, value = param.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    quality = float(value.strip())
                except ValueError:
                    quality = -1.0
        if not 0 < quality <= 1 or not is_language_tag(tag):
            continue
        weighted.append((-quality, position, tag))
    return [tag for _, _, tag in sorted(weighted)]


def negotiate(wanted: Iterable[str | None], supported: Sequence[str] = SUPPORTED_LANGUAGES) -> str:
    """The first supported language among ``wanted`` (in order of preference), else the
    default. ``wanted`` may hold None and junk: both are passed over."""
    for tag in wanted:
        match = supported_language(tag, supported)
        if match is not None:
            return match
    return DEFAULT_LANGUAGE


def catalog_path(locales: Path, language: str, domain: str = MESSAGES_DOMAIN) -> Path:
    return locales / language / "LC_MESSAGES" / f"{domain}.po"


def load_translations(
    locales: Path | None,
    language: str,
    *,
    domain: str = MESSAGES_DOMAIN,
    fallback: gettext.NullTranslations | None = None,
) -> gettext.NullTranslations:
    """The translations of ``language`` from ``locales`` (compiled in memory from its ``.po``).

    English, or a directory without that catalog: no translations (the message ids are the
    English text). ``fallback`` answers the messages this catalog lacks (a service's catalog
    falls back to the shared kit's, for the layout's own few words)."""
    path = catalog_path(locales, language, domain) if locales is not None else None
    if language == DEFAULT_LANGUAGE or path is None or not path.is_file():
        translations: gettext.NullTranslations = gettext.NullTranslations()
    else:
        with path.open("rb") as source:
            catalog = read_po(source, locale=language, domain=domain)
        compiled = io.BytesIO()
        write_mo(compiled, catalog, use_fuzzy=False)
        compiled.seek(0)
        translations = Translations(compiled, domain=domain)
    if fallback is not None:
        translations.add_fallback(fallback)
    return translations


def language_name(language: str) -> str:
    """The language's name in itself (Deutsch, español), as a language menu shows it."""
    name = Locale.parse(language).get_display_name(language) or language
    return name[:1].upper() + name[1:]


def format_moment(moment: datetime, language: str, zone: tzinfo = UTC) -> str:
    """A date and time in ``language``'s own way, in ``zone``, with the zone shown:
    "November 29, 2026 at 1:06:59 AM UTC", "29. November 2026 um 01:06:59 UTC"."""
    return format_datetime(moment, format="long", tzinfo=zone, locale=language)
