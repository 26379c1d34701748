"""What an operator watches (docs/operations.md): after a reset flow every service's
/metrics has the named metrics with real values, and one trace id follows the reset through all
three logs."""

import asyncio
import json
import secrets
from pathlib import Path

import httpx
import pytest
from devinfra.platform import Platform
from prometheus_client.parser import text_string_to_metric_families

from .conftest import Register
from .test_reset_flow import EMAIL_WAIT, link_in, new_email, reset_email_for
from .test_security import NEW_PASSWORD, token_of

pytestmark = pytest.mark.e2e

# metric -> labels that must match (empty: any sample), per service; values must be > 0.
NON_ZERO = {
    "identity": {
        "http_requests_total": {},
        "http_request_duration_seconds_count": {},
        "identity_logins_total": {"outcome": "success"},
        "identity_password_changes_total": {},
        "outbox_events_published_total": {},
    },
    "reset": {
        "http_requests_total": {"route": "/v1/password-resets", "status": "202"},
        "http_request_duration_seconds_count": {"route": "/v1/password-resets"},
        "reset_requests_total": {"outcome": "accepted"},
        "reset_confirmations_total": {"outcome": "success"},
        "outbox_events_published_total": {},
    },
    "notifier": {
        "notifier_emails_sent_total": {},
        "notifier_smtp_send_seconds_count": {},
    },
}
# Present (a gauge may rightly be 0 once everything is delivered).
PRESENT = {
    "reset": ["outbox_backlog_rows", "outbox_oldest_unpublished_age_seconds"],
    "identity": ["outbox_backlog_rows"],
    "notifier": ["notifier_consumer_lag_records", "notifier_deliveries_paused"],
}


def samples(text: str) -> list[tuple[str, dict[str, str], float]]:
    return [
        (s.name, s.labels, s.value)
        for family in text_string_to_metric_families(text)
        for s in family.samples
    ]


async def run_a_reset(infra, platform: Platform, traceparent: str, register: Register) -> None:
    async with (
        httpx.AsyncClient(base_url=platform.url("identity"), timeout=10) as identity,
        httpx.AsyncClient(base_url=platform.url("reset"), timeout=10) as reset,
    ):
        email = new_email()
        await register(email)
        requested = await reset.post(
            "/v1/password-resets", json={"email": email}, headers={"traceparent": traceparent}
        )
        code = requested.json()["verification_code"]
        message = await reset_email_for(infra, email)
        confirmed = await reset.post(
            "/v1/password-resets/confirm",
            json={
                "token": token_of(link_in(message)),
                "verification_code": code,
                "new_password": NEW_PASSWORD,
            },
        )
        assert confirmed.status_code == 200
        await infra.mailbox.wait_for(
            lambda m: m["To"] == email and m["Subject"] == "Your password was changed",
            timeout=EMAIL_WAIT,
        )
        login = await identity.post("/v1/login", json={"email": email, "password": NEW_PASSWORD})
        assert login.status_code == 200


async def test_metrics_after_a_reset_flow_and_one_trace_through_all_services(
    infra, platform: Platform, register: Register
) -> None:
    trace_id = secrets.token_hex(16)
    await run_a_reset(infra, platform, f"00-{trace_id}-{secrets.token_hex(8)}-01", register)
    await asyncio.sleep(1.5)  # gauges refresh on the relay's and consumer's own cadence

    async with httpx.AsyncClient(timeout=10) as client:
        scraped = {
            name: samples((await client.get(platform.metrics_url(name))).text) for name in NON_ZERO
        }
        # Never on a public port (where the ingress would serve them to anyone).
        for name in NON_ZERO:
            public = await client.get(f"{platform.url(name)}/metrics")
            assert public.status_code == 404 and "reset_requests_total" not in public.text
        identity_internal = await client.get(f"{platform.url('identity-internal')}/metrics")
        assert identity_internal.status_code == 404
    for service, wanted in NON_ZERO.items():
        for metric, labels in wanted.items():
            values = [
                v
                for n, lab, v in scraped[service]
                if n == metric and all(lab.get(k) == val for k, val in labels.items())
            ]
            assert values and sum(values) > 0, (service, metric, labels)
    for service, names in PRESENT.items():
        present = {n for n, _, _ in scraped[service]}
        assert set(names) <= present, (service, set(names) - present)

    logs = await asyncio.to_thread(read_json_logs, Path(platform.log_dir))
    followed = {service for service, entry in logs if entry.get("trace_id") == trace_id}
    assert followed == {"identity", "reset", "notifier"}, followed


def read_json_logs(log_dir: Path) -> list[tuple[str, dict]]:
    entries = []
    for path in log_dir.glob("*.log"):
        service = path.stem
        for line in path.read_text(errors="replace").splitlines():
            try:
                entries.append((service, json.loads(line)))
            except ValueError:
                continue
    return entries


async def test_no_metric_label_tells_a_known_email_from_an_unknown_one(
    platform: Platform, register: Register
) -> None:
    """An attacker who could read /metrics asks for a known and an unknown email: the counters
    that move, and their labels, must be the same."""
    watched = {"reset_requests_total", "http_requests_total"}

    async def counters(client: httpx.AsyncClient) -> dict[tuple, float]:
        return {
            (service, name, tuple(sorted(labels.items()))): value
            for service in ("identity", "reset")
            for name, labels, value in samples(
                (await client.get(platform.metrics_url(service))).text
            )
            if name in watched
        }

    def moved(before: dict[tuple, float], after: dict[tuple, float]) -> set[tuple]:
        return {key for key, value in after.items() if value != before.get(key, 0.0)}

    async with (
        httpx.AsyncClient(base_url=platform.url("reset"), timeout=10) as reset,
        httpx.AsyncClient(timeout=10) as scraper,
    ):
        known = new_email()
        await register(known)
        start = await counters(scraper)
        assert (await reset.post("/v1/password-resets", json={"email": known})).status_code == 202
        middle = await counters(scraper)
        unknown = new_email()
        assert (await reset.post("/v1/password-resets", json={"email": unknown})).status_code == 202
        end = await counters(scraper)
    for_known, for_unknown = moved(start, middle), moved(middle, end)
    assert for_known == for_unknown, for_known ^ for_unknown
    assert any(key[1] == "reset_requests_total" for key in for_known)  # the counters did move
