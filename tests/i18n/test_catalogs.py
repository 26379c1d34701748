"""Every message the pages and emails show is translated in every language we ship.

Extracted from the code and templates as ``pybabel extract`` does (each project's babel.cfg)
and compared with each shipped catalog (servicekit.catalog_check): a message missing, fuzzy,
untranslated, with an untranslated plural form, or whose placeholders differ fails here. The
second half shows the check catching each of those on a copy of a real catalog.
"""

import shutil
from pathlib import Path

import pytest
from babel.messages.pofile import read_po, write_po
from servicekit.catalog_check import all_problems, problems
from servicekit.i18n import SUPPORTED_LANGUAGES

ROOT = Path(__file__).resolve().parents[2]
# (project with its babel.cfg, its catalogs)
PROJECTS = {
    "shared layout": (ROOT / "libs/servicekit", "src/servicekit/web/locales"),
    "reset": (ROOT / "services/reset", "src/reset_service/locales"),
    "identity": (ROOT / "services/identity", "src/identity_service/locales"),
    "notifier": (ROOT / "services/notifier", "src/notifier_service/locales"),
}
RESET, RESET_LOCALES = PROJECTS["reset"]


@pytest.mark.parametrize("name", PROJECTS)
def test_every_shown_message_is_translated_in_every_language(name: str) -> None:
    project, locales = PROJECTS[name]
    found = all_problems(project, project / locales)
    assert not found, "\n".join(str(p) for p in found)


def test_more_than_english_is_shipped() -> None:
    assert {"de", "es"} <= set(SUPPORTED_LANGUAGES)


@pytest.fixture
def german_copy(tmp_path: Path) -> Path:
    """A copy of reset's catalogs, to break."""
    shutil.copytree(RESET / RESET_LOCALES, tmp_path / "locales")
    return tmp_path / "locales"


def _edit(locales: Path, change: object) -> None:
    path = locales / "de" / "LC_MESSAGES" / "messages.po"
    with path.open("rb") as source:
        catalog = read_po(source, locale="de")
    change(catalog)  # type: ignore[operator]
    with path.open("wb") as out:
        write_po(out, catalog)


def _problems(locales: Path) -> list[str]:
    return [str(p) for p in problems(RESET, locales, "de")]


def test_the_check_passes_the_copy_before_it_is_broken(german_copy: Path) -> None:
    assert _problems(german_copy) == []


def test_a_missing_message_fails(german_copy: Path) -> None:
    _edit(german_copy, lambda catalog: catalog.delete("Set new password"))
    assert _problems(german_copy) == ["[de] not in the catalog: 'Set new password'"]


def test_a_fuzzy_message_fails(german_copy: Path) -> None:
    _edit(german_copy, lambda catalog: catalog["Copy code"].flags.add("fuzzy"))
    assert _problems(german_copy) == ["[de] marked fuzzy (left out at run time): 'Copy code'"]


def test_an_empty_translation_fails(german_copy: Path) -> None:
    def empty(catalog: object) -> None:
        catalog["Start again"].string = ""  # type: ignore[index]

    _edit(german_copy, empty)
    assert _problems(german_copy) == ["[de] not translated (empty): 'Start again'"]


def test_an_untranslated_plural_form_fails(german_copy: Path) -> None:
    def half(catalog: object) -> None:
        message = catalog["%(count)d attempt left."]  # type: ignore[index]
        message.string = (message.string[0], "")

    _edit(german_copy, half)
    assert _problems(german_copy) == [
        "[de] a plural form is not translated: '%(count)d attempt left.'"
    ]


def test_a_translation_with_other_placeholders_fails(german_copy: Path) -> None:
    key = "Too many requests from your network. Try again in %(minutes)s min."

    def renamed(catalog: object) -> None:
        catalog[key].string = "Zu viele Anfragen. Warten Sie %(minuten)s Min."  # type: ignore[index]

    _edit(german_copy, renamed)
    found = _problems(german_copy)
    assert len(found) == 1 and "placeholder" in found[0] and "Too many requests" in found[0]


def test_a_new_message_in_a_template_fails_until_it_is_translated(tmp_path: Path) -> None:
    project = tmp_path / "service"
    shutil.copytree(RESET / "src", project / "src")
    shutil.copy(RESET / "babel.cfg", project / "babel.cfg")
    page = project / "src/reset_service/templates/forgot_password.html"
    page.write_text(page.read_text().replace("</h1>", "</h1><p>{{ _('A brand new line') }}</p>"))
    found = [str(p) for p in problems(project, project / RESET_LOCALES, "es")]
    assert found == ["[es] not in the catalog: 'A brand new line'"]
