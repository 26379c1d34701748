"""The product's name and look on every page and email, from settings: one model for all three
services (reset and identity draw the pages, the notifier writes the emails).

Each service's ``Settings`` inherits ``BrandingSettings`` (the variables below) and hands
``settings.branding`` to the pages (``servicekit.web.pages.install_pages``) or the emails. The
values end up in HTML, CSS, a CSP header and an email header, so each is checked for what it
*is*, not escaped later:

- ``PRIMARY_COLOUR`` is ``#rgb`` or ``#rrggbb`` and nothing else: it is written into a stylesheet
  and into the emails' inline styles, where ``;}</style>`` would otherwise break out;
- ``LOGO_URL`` and ``SUPPORT_URL`` are http(s) URLs (never ``javascript:`` or ``data:``), without
  user info; production refuses http (``check_production``). The logo's origin, and no other, is
  added to the pages' CSP ``img-src``;
- ``PRODUCT_NAME`` (1-60 characters), ``LEGAL_FOOTER`` (plain text, up to 500) and
  ``MAIL_FROM_NAME`` (the From header's display name, up to 64) hold no control characters
  (``MAIL_FROM_NAME``: no line break can add a header); the templates escape them like any value;
- ``TEMPLATE_OVERRIDE_DIR``: files there replace shipped templates of the same name
  (``servicekit.web.templating``).
"""

import re
import unicodedata
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

from pydantic import AnyHttpUrl, Field, field_validator, model_validator
from pydantic_settings import BaseSettings

from servicekit.runtime.production import ProductionChecks

DEFAULT_PRODUCT_NAME = "pwreset"
DEFAULT_PRIMARY_COLOUR = "#1f5fd6"
_COLOUR = re.compile(r"#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})")
# What may stand in a CSP source list: a scheme, a host name or bracketed IPv6, a port.
_ORIGIN_SAFE = re.compile(r"https?://(?:[A-Za-z0-9.-]+|\[[0-9A-Fa-f:.]+\])(?::[0-9]{1,5})?")


@dataclass(frozen=True)
class Branding:
    """What the templates get as ``brand`` (docs/templates.md lists it)."""

    product_name: str = DEFAULT_PRODUCT_NAME
    logo_url: str | None = None
    primary_colour: str = DEFAULT_PRIMARY_COLOUR
    support_url: str | None = None
    legal_footer: str = ""
    mail_from_name: str | None = None
    template_override_dir: Path | None = None

    @property
    def logo_origin(self) -> str | None:
        """``scheme://host[:port]`` of the logo: what the CSP admits for ``img-src``."""
        return origin_of_url(self.logo_url) if self.logo_url else None


def origin_of_url(url: str) -> str:
    """The origin of an http(s) URL, refused unless it is plainly one (it goes into a CSP)."""
    parsed = AnyHttpUrl(url)
    host = parsed.host or ""
    if ":" in host and not host.startswith("["):
        host = f"[{host}]"
    port = (
        "" if parsed.port in (None, 80 if parsed.scheme == "http" else 443) else f":{parsed.port}"
    )
    origin = f"{parsed.scheme}://{host}{port}"
    if not _ORIGIN_SAFE.fullmatch(origin):
        raise ValueError(f"not an origin a CSP can name: {origin!r}")
    return origin


def _no_control_characters(name: str, value: str, *, allow_newlines: bool = False) -> str:
    for character in value:
        if allow_newlines and character == "\n":
            continue
        # Cc: C0/C1 controls (CR, LF, NUL, ESC...); Cf: format characters such as the
        # right-to-left override, which would let a name read differently from what it is.
        if unicodedata.category(character) in ("Cc", "Cf", "Zl", "Zp"):
            raise ValueError(f"{name} must not contain control or format characters")
    return value


class BrandingSettings(BaseSettings):
    """The branding variables; the services' Settings inherit them (README, Configuration)."""

    product_name: str = Field(default=DEFAULT_PRODUCT_NAME, min_length=1, max_length=60)
    logo_url: AnyHttpUrl | None = None
    primary_colour: str = DEFAULT_PRIMARY_COLOUR
    support_url: AnyHttpUrl | None = None
    legal_footer: str = Field(default="", max_length=500)
    mail_from_name: str | None = Field(default=None, min_length=1, max_length=64)
    template_override_dir: Path | None = None

    @field_validator(
        "logo_url", "support_url", "mail_from_name", "template_override_dir", mode="before"
    )
    @classmethod
    def _empty_is_unset(cls, value: object) -> object:
        # `LOGO_URL=` (as compose or a template writes an unset variable) means no logo.
        return None if isinstance(value, str) and not value.strip() else value

    @field_validator("primary_colour")
    @classmethod
    def _colour(cls, value: str) -> str:
        if not _COLOUR.fullmatch(value):
            raise ValueError("PRIMARY_COLOUR must be #rgb or #rrggbb (hex digits)")
        return value.lower()

    @field_validator("product_name")
    @classmethod
    def _product_name(cls, value: str) -> str:
        value = _no_control_characters("PRODUCT_NAME", value).strip()
        if not value:
            raise ValueError("PRODUCT_NAME must not be blank")
        return value

    @field_validator("mail_from_name")
    @classmethod
    def _mail_from_name(cls, value: str | None) -> str | None:
        return None if value is None else _no_control_characters("MAIL_FROM_NAME", value).strip()

    @field_validator("legal_footer")
    @classmethod
    def _legal_footer(cls, value: str) -> str:
        value = value.replace("\r\n", "\n")
        return _no_control_characters("LEGAL_FOOTER", value, allow_newlines=True).strip()

    @field_validator("logo_url", "support_url")
    @classmethod
    def _plain_url(cls, value: AnyHttpUrl | None) -> AnyHttpUrl | None:
        if value is not None and (value.username or value.password):
            raise ValueError("a branding URL must not carry a user name or password")
        return value

    @field_validator("template_override_dir")
    @classmethod
    def _directory(cls, value: Path | None) -> Path | None:
        if value is not None and not value.is_dir():
            raise ValueError(f"TEMPLATE_OVERRIDE_DIR {value} is not a directory")
        return value

    @model_validator(mode="after")
    def _check_branding(self) -> "BrandingSettings":
        if self.logo_url is not None:
            origin_of_url(str(self.logo_url))  # refused at start, not on the first page
        if getattr(self, "environment", None) == "production":
            check = ProductionChecks()
            self.check_production(check)
            check.raise_if_any()
        return self

    def check_production(self, check: ProductionChecks) -> None:
        if self.logo_url is not None:
            check.https("LOGO_URL", self.logo_url)
        if self.support_url is not None:
            check.https("SUPPORT_URL", self.support_url)

    @cached_property
    def branding(self) -> Branding:
        return Branding(
            product_name=self.product_name,
            logo_url=str(self.logo_url) if self.logo_url else None,
            primary_colour=self.primary_colour,
            support_url=str(self.support_url) if self.support_url else None,
            legal_footer=self.legal_footer,
            mail_from_name=self.mail_from_name,
            template_override_dir=self.template_override_dir,
        )
