"""The lost-device hint on the pages that ask for an authenticator code (identity's login,
reset's Set new password) is in the page's language, with and without SUPPORT_URL: it was
left as English text outside the catalogs when SUPPORT_URL became optional."""

import pytest
from identity_service.api.pages import templates as identity_pages
from reset_service.api.pages import templates as reset_pages
from servicekit.web.branding import Branding
from servicekit.web.pages import PageTemplates

PAGES = [
    (identity_pages, "login.html", {"second_step": True}),
    (reset_pages, "set_new_password.html", {"requires_totp": True}),
]
SUPPORT = "https://help.example.com/lost-device"
EXPECTED = {"de": "Auch keinen Wiederherstellungscode?", "es": "¿Tampoco tienes un código"}


@pytest.mark.parametrize("language", sorted(EXPECTED))
@pytest.mark.parametrize("support_url", [SUPPORT, None])
@pytest.mark.parametrize(("pages", "name", "context"), PAGES)
def test_the_lost_device_hint_is_translated(
    pages: PageTemplates,
    name: str,
    context: dict[str, object],
    language: str,
    support_url: str | None,
) -> None:
    html = pages.bound(Branding(), language).render(
        name, {**context, "support_url": support_url, "csrf_token": "x"}
    )
    assert EXPECTED[language] in html
    assert "No recovery code either?" not in html
    assert (f'href="{SUPPORT}"' in html) == (support_url is not None)
