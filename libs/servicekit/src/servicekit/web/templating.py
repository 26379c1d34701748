"""Shipped templates that a deployment may replace one by one (``TEMPLATE_OVERRIDE_DIR``), for
the pages of reset and identity and the notifier's emails alike.

A ``TemplateSet`` looks a name up in the override directory first and in the shipped templates
second (Jinja2 ``ChoiceLoader``), so an override can be a whole page or just ``base.html``, and
may ``extends`` or ``include`` the shipped ones. Templates are compiled once and kept.

An override is the deployment's own file, but what it renders is a person's email or page, with
values in it that came from requests (an address, a link). So:

- it cannot turn off autoescaping: an override (or anything it includes) using
  ``{% autoescape %}`` or the ``safe`` filter is refused when it is loaded;
- it runs in Jinja2's immutable sandbox: no ``__class__`` walks, no mutating the values it gets;
- names outside the directory (``../``) are not found (Jinja2's ``FileSystemLoader``);
- when an override cannot be loaded, fails while rendering, or its output lacks what the caller
  requires (an email's link), the shipped template is rendered instead: one warning log line
  and ``template_override_fallbacks_total{template,reason}``. A person always gets the page,
  and an email always its link.

The log line names the template and the kind of failure, never the values rendered (a link
carries a token).
"""

import gettext
import logging
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from jinja2 import (
    BaseLoader,
    ChoiceLoader,
    Environment,
    FileSystemLoader,
    Template,
    TemplateError,
    TemplateSyntaxError,
    nodes,
    select_autoescape,
)
from jinja2.sandbox import ImmutableSandboxedEnvironment
from prometheus_client import Counter

log = logging.getLogger("servicekit.templates")

OVERRIDE_FALLBACKS = Counter(
    "template_override_fallbacks_total",
    "Renders where an overridden template failed and the shipped one was used instead",
    ["template", "reason"],
)
# Filters that mark a value as safe HTML, i.e. switch escaping off for it.
UNESCAPING_FILTERS = frozenset({"safe"})


class OverrideRefused(TemplateError):
    """An override that could switch autoescaping off."""


class _OverrideLoader(FileSystemLoader):
    """The override directory, each file checked before it is compiled. Follows symlinks: a
    Kubernetes ConfigMap volume is a tree of them."""

    def get_source(self, environment: Environment, template: str) -> Any:
        source, filename, uptodate = super().get_source(environment, template)
        refuse_unescaping(environment, source, template)
        return source, filename, uptodate


def refuse_unescaping(environment: Environment, source: str, name: str) -> None:
    """Raises ``OverrideRefused`` when ``source`` uses ``{% autoescape %}`` or a filter that
    marks a value safe (``{{ x|safe }}``, ``{% filter safe %}``)."""
    tree = environment.parse(source, name)
    if any(True for _ in tree.find_all(nodes.EvalContextModifier)):
        raise OverrideRefused(f"{name}: an override may not use {{% autoescape %}}")
    for node in tree.find_all(nodes.Filter):
        if node.name in UNESCAPING_FILTERS:
            raise OverrideRefused(f"{name}: an override may not use the {node.name!r} filter")


def _environment(
    cls: type[Environment],
    loader: BaseLoader,
    translations: gettext.NullTranslations | None = None,
) -> Environment:
    environment = cls(
        loader=loader,
        autoescape=select_autoescape(["html"]),
        keep_trailing_newline=True,
        # Templates never change while the service runs: no stat per lookup, and a plain dict
        # as the cache (the few templates stay; no LRU bookkeeping on every include).
        auto_reload=False,
        cache_size=-1,
        extensions=["jinja2.ext.i18n"] if translations is not None else (),
    )
    if translations is not None:
        # Whitespace inside {% trans %} is folded, as the extraction folds it (babel.cfg); with
        # new-style gettext a translated text is escaped like any other value.
        environment.policies["ext.i18n.trimmed"] = True
        environment.install_gettext_translations(  # type: ignore[attr-defined]
            translations, newstyle=True
        )
    return environment


def _reason(exc: BaseException) -> str:
    if isinstance(exc, OverrideRefused):
        return "refused"
    if isinstance(exc, TemplateSyntaxError):
        return "syntax"
    return "render_error"


class TemplateSet:
    """The templates of one service: ``render(name, context)`` with overrides and fallback."""

    def __init__(
        self,
        shipped: BaseLoader,
        override_dir: Path | None = None,
        *,
        globals: Mapping[str, object] | None = None,
        preload: Iterable[str] = (),
        translations: gettext.NullTranslations | None = None,
    ) -> None:
        """``translations``: a language's catalog, installed for ``{% trans %}`` and ``_()``
        (``jinja2.ext.i18n``) in the shipped templates and the overrides alike."""
        self._shipped = _environment(Environment, shipped, translations)
        self._shipped.globals.update(globals or {})
        self._overridden: Environment | None = None
        # name -> the template the override chain gives, or why it cannot (compiled once).
        self._chain: dict[str, Template | BaseException] = {}
        self._compiled: dict[str, Template] = {}  # the shipped ones, looked up once
        if override_dir is not None:
            chain = ChoiceLoader([_OverrideLoader(override_dir, followlinks=True), shipped])
            self._overridden = _environment(ImmutableSandboxedEnvironment, chain, translations)
            self._overridden.globals.update(globals or {})
            self._warn_about_unknown(override_dir)
        for name in preload:
            self._shipped_template(name)
            self._from_chain(name)

    def _warn_about_unknown(self, override_dir: Path) -> None:
        shipped = set(self._shipped.list_templates())
        overrides = FileSystemLoader(override_dir, followlinks=True).list_templates()
        # A ConfigMap volume holds "..data" and timestamped folders beside the files.
        unknown = sorted(n for n in overrides if n not in shipped and not n.startswith(".."))
        if unknown:
            log.warning(
                "template overrides replace no shipped template (misspelt?): %s",
                ", ".join(unknown),
            )

    def _from_chain(self, name: str) -> Template | BaseException | None:
        if self._overridden is None:
            return None
        if name not in self._chain:
            try:
                self._chain[name] = self._overridden.get_template(name)
            except TemplateError as exc:  # refused, broken or includes a missing name
                self._chain[name] = exc
                self._fell_back(name, _reason(exc), exc)
        return self._chain[name]

    def render(self, name: str, context: Mapping[str, Any], *, requires: Iterable[str] = ()) -> str:
        """``name`` rendered, through its override when there is one that works; ``requires``:
        strings the output must contain (an email's link), or the shipped template is used."""
        template = self._from_chain(name)
        if isinstance(template, Template):
            try:
                rendered = template.render(context)
            except Exception as exc:
                self._fell_back(name, _reason(exc), exc)
            else:
                if all(text in rendered for text in requires):
                    return rendered
                self._fell_back(name, "missing_required", None)
        return self._shipped_template(name).render(context)

    def _shipped_template(self, name: str) -> Template:
        if name not in self._compiled:
            self._compiled[name] = self._shipped.get_template(name)
        return self._compiled[name]

    @staticmethod
    def _fell_back(name: str, reason: str, exc: BaseException | None) -> None:
        OVERRIDE_FALLBACKS.labels(template=name, reason=reason).inc()
        # Load-time errors (syntax, refused, not found) name files and lines only; a render
        # error's message could quote a value, so only its type is logged.
        detail = (
            str(exc)
            if isinstance(exc, TemplateError) and reason in ("refused", "syntax")
            else type(exc).__name__
            if exc is not None
            else "the output lacks what it must contain"
        )
        log.warning(
            "template override %s is not used, the shipped template is rendered instead "
            "(reason: %s; %s)",
            name,
            reason,
            detail,
            extra={"template": name, "reason": reason},
        )
