"""Every security event leaves one structured log line and one counter increment, and neither
holds a secret: no email, password, code or token."""

import logging
from collections.abc import Callable

import pytest
from identity_service.domain.second_factor import SecondFactor
from identity_service.security_events import SECURITY_EVENTS, SecurityEvent
from identity_service.service_layer.accounts import AccountService
from identity_service.service_layer.errors import AuthFailed, LoginThrottled

from .conftest import NEW_PASSWORD, PASSWORD, Clock, MakeTotpAccount

pytestmark = pytest.mark.integration
IP = "192.0.2.44"


def counts() -> dict[str, float]:
    return {e.value: SECURITY_EVENTS.labels(e.value)._value.get() for e in SecurityEvent}


def events_logged(caplog: pytest.LogCaptureFixture) -> list[dict[str, object]]:
    return [r.fields for r in caplog.records if r.name == "identity.security"]  # type: ignore[attr-defined]


async def test_each_security_event_is_logged_and_counted_without_secrets(
    make_service: Callable[..., AccountService],
    clock: Clock,
    make_totp_account: MakeTotpAccount,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="identity.security")
    accounts = make_service()
    account_id, email, totp, recovery = await make_totp_account(accounts)
    caplog.clear()
    before = counts()
    secrets_seen: list[str] = [email, PASSWORD, NEW_PASSWORD, *recovery]

    clock.now += 30
    used = totp.at(clock.now)
    secrets_seen.append(used)
    await accounts.login(email, PASSWORD, SecondFactor(totp_code=used), IP)
    with pytest.raises(AuthFailed):  # the same code again: a replay
        await accounts.login(email, PASSWORD, SecondFactor(totp_code=used), IP)
    wrong = f"{(int(used) + 1) % 1_000_000:06d}"
    with pytest.raises(AuthFailed):
        await accounts.login(email, PASSWORD, SecondFactor(totp_code=wrong), IP)
    clock.now += 30
    fresh = totp.at(clock.now)
    secrets_seen.append(fresh)
    await accounts.set_password(account_id, NEW_PASSWORD, SecondFactor(totp_code=fresh), IP)
    for _ in range(7):  # past the free failures of (account, address)
        try:
            await accounts.login(email, "wrong password, guessing away", SecondFactor(), IP)
        except (AuthFailed, LoginThrottled):
            pass

    after = counts()
    delta = {k: after[k] - before[k] for k in after}
    assert delta["totp_replayed"] == 1
    assert delta["second_factor_wrong"] == 2  # the replay and the wrong code
    assert delta["password_changed"] == 1
    assert delta["login_throttled"] >= 1
    logged = events_logged(caplog)
    assert {e["event"] for e in logged} >= {
        "totp_replayed",
        "second_factor_wrong",
        "password_changed",
        "login_throttled",
    }
    assert sum(e["event"] == "password_changed" for e in logged) == 1
    assert all(e.get("client_ip") == IP for e in logged)
    text = " ".join(str(r.__dict__) for r in caplog.records)
    for secret in secrets_seen:
        assert secret not in text


async def test_the_hundredth_wrong_code_in_a_row_logs_the_account_locked_once(
    make_service: Callable[..., AccountService],
    clock: Clock,
    make_totp_account: MakeTotpAccount,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="identity.security")
    accounts = make_service()
    account_id, _, totp, _ = await make_totp_account(accounts)
    before = counts()["account_locked"]
    for _ in range(21):
        clock.now += 15 * 60 + 31
        wrong = f"{(int(totp.at(clock.now)) + 1) % 1_000_000:06d}"
        for _ in range(5):
            await accounts.verify_totp(account_id, wrong)
    assert counts()["account_locked"] - before == 1
    locked = [e for e in events_logged(caplog) if e["event"] == "account_locked"]
    assert [e["account_id"] for e in locked] == [str(account_id)]
