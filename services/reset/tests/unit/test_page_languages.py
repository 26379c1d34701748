"""The reset pages in the person's language, and that language going with the reset (the
email's) and with the new password (kept on the account by identity)."""

import re
from collections.abc import AsyncIterator

import httpx
import pytest
from pwreset_contracts import ResetRequestedV1, cloudevents_kafka
from reset_service.api.main import create_app
from reset_service.core.config import DEV_INTERNAL_TOKEN, Settings
from reset_service.service_layer.password_resets import PasswordResets

from .fakes import FakeDatabase, FakeIdentity, emailed_token

ORIGIN = "http://127.0.0.1:8002"


@pytest.fixture
async def client(resets: PasswordResets) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(Settings())
    app.state.resets = resets
    transport = httpx.ASGITransport(app=app, client=("198.51.100.7", 50000))
    async with httpx.AsyncClient(
        transport=transport, base_url=ORIGIN, headers={"Origin": ORIGIN}
    ) as client:
        yield client


def _locales(db: FakeDatabase) -> list[str]:
    found = []
    for _, record in db.tables.outbox:
        event = cloudevents_kafka.decode(record.headers, record.value).data
        assert isinstance(event, ResetRequestedV1)
        found.append(event.locale)
    return found


def _csrf(html: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', html)
    assert match, html
    return match.group(1)


async def _ask(client: httpx.AsyncClient, email: str, **headers: str) -> httpx.Response:
    form = await client.get("/forgot-password", headers=headers)
    return await client.post(
        "/forgot-password",
        data={"email": email, "csrf_token": _csrf(form.text)},
        headers=headers,
    )


async def test_the_pages_follow_the_browser_and_the_email_follows_the_page(
    client: httpx.AsyncClient, identity: FakeIdentity, db: FakeDatabase
) -> None:
    identity.add("ada@example.com")
    form = await client.get("/forgot-password", headers={"Accept-Language": "es-MX, en;q=0.5"})
    assert "<h1>Restablecer contraseña</h1>" in form.text
    assert form.headers["content-language"] == "es"
    sent = await _ask(client, "ada@example.com", **{"Accept-Language": "es-MX, en;q=0.5"})
    assert "<h1>Tu código de verificación</h1>" in sent.text
    assert "Restablece tu contraseña" in sent.text  # the subject of the email it announces
    assert _locales(db) == ["es"]


async def test_a_language_picked_on_the_page_wins_over_the_browsers(
    client: httpx.AsyncClient, identity: FakeIdentity, db: FakeDatabase
) -> None:
    identity.add("ada@example.com")
    picked = await client.get("/forgot-password?lang=de", headers={"Accept-Language": "es"})
    assert "<h1>Passwort zurücksetzen</h1>" in picked.text
    # The choice goes along to identity's pages (its cookie is this host's alone).
    assert 'href="http://127.0.0.1:8001/login?lang=de">Zurück zur Anmeldung</a>' in picked.text
    # The form posts without ?lang=: the cookie carries the choice.
    sent = await client.post(
        "/forgot-password",
        data={"email": "ada@example.com", "csrf_token": _csrf(picked.text)},
        headers={"Accept-Language": "es"},
    )
    assert "Ihr Bestätigungscode" in sent.text
    assert _locales(db) == ["de"]


async def test_form_errors_are_in_the_pages_language(client: httpx.AsyncClient) -> None:
    answer = await _ask(client, "not an address", **{"Accept-Language": "de"})
    assert answer.status_code == 400
    assert "Geben Sie Ihre E-Mail-Adresse ein, zum Beispiel name@example.com." in answer.text
    assert "<title>Fehler: Passwort zurücksetzen \N{EN DASH} pwreset</title>" in answer.text


async def test_set_new_password_in_german_and_the_language_goes_to_identity(
    client: httpx.AsyncClient, identity: FakeIdentity, db: FakeDatabase
) -> None:
    account = identity.add("ada@example.com")
    await _ask(client, "ada@example.com", **{"Accept-Language": "de"})
    await client.get(f"/reset-password?token={emailed_token(db, account)}")
    page = await client.get("/reset-password", headers={"Accept-Language": "de"})
    assert "<h1>Neues Passwort festlegen</h1>" in page.text

    async def submit(code: str) -> httpx.Response:
        password = "a long enough new password"
        return await client.post(
            "/reset-password",
            data={
                "new_password": password,
                "confirm_password": password,
                "verification_code": code,
                "csrf_token": _csrf(page.text),
            },
            headers={"Accept-Language": "de"},
        )

    wrong = await submit("ZZZZZZZZ")
    assert "Dieser Bestätigungscode ist nicht richtig. Noch 4 Versuche." in wrong.text
    differ = await client.post(
        "/reset-password",
        data={"new_password": "one", "confirm_password": "two", "csrf_token": _csrf(page.text)},
        headers={"Accept-Language": "de"},
    )
    assert "Die Passwörter stimmen nicht überein." in differ.text
    assert identity.languages_set == []  # nothing reached identity


async def test_the_new_passwords_language_reaches_identity(
    client: httpx.AsyncClient, identity: FakeIdentity, db: FakeDatabase
) -> None:
    account = identity.add("ada@example.com")
    sent = await _ask(client, "ada@example.com", **{"Accept-Language": "es"})
    code = re.search(r'id="verification-code"[^>]*>([^<]+)<', sent.text)
    assert code
    await client.get(f"/reset-password?token={emailed_token(db, account)}")
    page = await client.get("/reset-password?lang=es")
    identity.rejects_password = "too_short"
    data = {
        "new_password": "short",
        "confirm_password": "short",
        "verification_code": code.group(1),
        "csrf_token": _csrf(page.text),
    }
    rejected = await client.post("/reset-password", data=data)
    assert "No se puede usar esta contraseña: usa al menos 15 caracteres." in rejected.text
    identity.rejects_password = None
    data["new_password"] = data["confirm_password"] = "a long enough new password"
    done = await client.post("/reset-password", data=data)
    assert done.status_code == 303
    assert done.headers["location"].endswith("/login?reset=done&lang=es")
    assert identity.languages_set == ["es", "es"]


@pytest.mark.parametrize(
    ("body", "headers", "expected"),
    [
        ({"locale": "de"}, {}, "de"),
        ({"locale": "es-419"}, {"Accept-Language": "de"}, "es"),  # the body wins
        ({}, {"Accept-Language": "fr, de;q=0.8"}, "de"),
        ({"locale": "fr"}, {}, "en"),  # one we ship no catalog for
        ({}, {}, "en"),
    ],
)
async def test_the_json_api_takes_the_language_from_the_body_or_accept_language(
    client: httpx.AsyncClient,
    identity: FakeIdentity,
    db: FakeDatabase,
    body: dict[str, str],
    headers: dict[str, str],
    expected: str,
) -> None:
    identity.add("ada@example.com")
    answer = await client.post(
        "/v1/password-resets", json={"email": "ada@example.com", **body}, headers=headers
    )
    assert answer.status_code == 202
    assert _locales(db) == [expected]


@pytest.mark.parametrize("locale", ["de_DE", "de-DE\n", "x" * 36, "<script>", ""])
async def test_a_malformed_language_is_a_422_not_a_500(
    client: httpx.AsyncClient, db: FakeDatabase, locale: str
) -> None:
    answer = await client.post(
        "/v1/password-resets", json={"email": "ada@example.com", "locale": locale}
    )
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request"
    assert db.tables.outbox == []


async def test_this_wasnt_me_starts_the_reset_in_the_language_identity_sends(
    client: httpx.AsyncClient, identity: FakeIdentity, db: FakeDatabase
) -> None:
    identity.add("ada@example.com")
    answer = await client.post(
        "/internal/v1/password-resets",
        json={"email": "ada@example.com", "locale": "es"},
        headers={"Authorization": f"Bearer {DEV_INTERNAL_TOKEN}"},
    )
    assert answer.status_code == 202
    assert _locales(db) == ["es"]


@pytest.mark.parametrize(
    ("language", "says"),
    [
        ("en", "Two-factor authentication was turned off for your account after you asked"),
        ("de", "Die Zwei-Faktor-Authentifizierung wurde für Ihr Konto ausgeschaltet"),
        ("es", "Se desactivó la verificación en dos pasos de tu cuenta"),
    ],
)
async def test_a_reset_outdated_by_removed_two_factor_says_so_and_to_ask_again(
    client: httpx.AsyncClient, identity: FakeIdentity, db: FakeDatabase, language: str, says: str
) -> None:
    """Not "that authenticator code is not right": the code may well be right; the reset was
    asked for while two-factor was on, and support has removed it since."""
    account = identity.add("ada@example.com", totp=True)
    await _ask(client, "ada@example.com")
    headers = {"Accept-Language": language}
    await client.get(f"/reset-password?token={emailed_token(db, account)}")
    page = await client.get("/reset-password", headers=headers)
    identity.remove_two_factor(account)
    password = "a long enough new password"
    data = {
        "new_password": password,
        "confirm_password": password,
        "totp_code": "123456",
        "csrf_token": _csrf(page.text),
    }
    for _ in range(2):
        answer = await client.post("/reset-password", data=data, headers=headers)
        assert answer.status_code == 409
        assert says in answer.text
        assert 'href="/forgot-password"' in answer.text
    assert identity.changes == []
