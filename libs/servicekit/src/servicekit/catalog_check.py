"""Is every message a service shows translated? The check behind ``make test`` and the command a
translator runs (docs/operations.md, "Translating"):

    uv run python -m servicekit.catalog_check services/reset src/reset_service/locales

It extracts the messages from the code and templates as ``pybabel extract`` does (the
project's ``babel.cfg``), and compares them with each shipped catalog. A problem is a message
the catalog lacks, one marked fuzzy (gettext leaves it out: the reader would see English), one
with an empty translation (or an empty plural form), and a translation whose placeholders
(``%(name)s``) differ from the message's: the page would fail to render or show the wrong value.
"""

import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from babel.messages.catalog import Catalog
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from servicekit.i18n import DEFAULT_LANGUAGE, SUPPORTED_LANGUAGES, catalog_path

MessageId = str | tuple[str, ...] | list[str]


@dataclass(frozen=True)
class Problem:
    language: str
    message: MessageId
    what: str

    def __str__(self) -> str:
        shown = self.message if isinstance(self.message, str) else self.message[0]
        return f"[{self.language}] {self.what}: {shown!r}"


def extract(project: Path) -> Catalog:
    """The messages of ``project`` (a directory with a ``babel.cfg``), as a template catalog."""
    with (project / "babel.cfg").open(encoding="utf-8") as cfg:
        method_map, options_map = parse_mapping_cfg(  # type: ignore[no-untyped-call]
            cfg, str(project / "babel.cfg")
        )
    template = Catalog()
    for _file, lineno, message, comments, context in extract_from_dir(
        str(project), method_map, options_map
    ):
        template.add(message, None, [(_file, lineno)], auto_comments=comments, context=context)
    return template


def problems(project: Path, locales: Path, language: str) -> Iterator[Problem]:
    """What keeps ``language``'s catalog under ``locales`` from covering ``project``."""
    path = catalog_path(locales, language)
    if not path.is_file():
        yield Problem(language, str(path), "no catalog")
        return
    with path.open("rb") as source:
        catalog = read_po(source, locale=language)
    for wanted in extract(project):
        if not wanted.id:
            continue
        found = catalog.get(wanted.id, wanted.context)
        if found is None:
            yield Problem(language, wanted.id, "not in the catalog")
        elif found.fuzzy:
            yield Problem(language, wanted.id, "marked fuzzy (left out at run time)")
        elif isinstance(found.string, tuple | list):
            if len(found.string) < catalog.num_plurals or not all(found.string):
                yield Problem(language, wanted.id, "a plural form is not translated")
        elif not found.string:
            yield Problem(language, wanted.id, "not translated (empty)")
    for message, errors in catalog.check():
        if message.id and errors:
            yield Problem(language, message.id, "; ".join(str(e) for e in errors))


def all_problems(project: Path, locales: Path) -> list[Problem]:
    return [
        problem
        for language in SUPPORTED_LANGUAGES
        if language != DEFAULT_LANGUAGE  # the source language: its text is the message ids
        for problem in problems(project, locales, language)
    ]


def main(argv: list[str]) -> int:
    if len(argv) != 2:
        print("usage: python -m servicekit.catalog_check <project dir> <locales dir>")
        return 2
    project = Path(argv[0])
    found = all_problems(project, project / argv[1])
    for problem in found:
        print(problem)
    print(f"{len(found)} problem(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
