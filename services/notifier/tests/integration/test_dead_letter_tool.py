"""`notifier-service dead-letters` over the real broker, ledger and SMTP capture: an operator
lists what was dead-lettered (addresses masked), replays it, and gets exactly the emails that can
still help: none twice, none with an expired link, no poison sent round again."""

import asyncio
import json
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from notifier_service import dead_letters_cli
from notifier_service.core.config import Settings
from pwreset_contracts import ResetRequestedV1, cloudevents_kafka
from pwreset_contracts.binding import reset_link_binding
from pwreset_contracts.dead_letters import dead_letter_headers
from pwreset_contracts.sealed import seal

from .test_consumer_faults import KEY, Stack, mails_to, produce, topics, until

pytestmark = pytest.mark.integration


def reset_record(email: str, expires_in: timedelta) -> tuple[str, list, bytes, bytes]:
    now = datetime.now(UTC)
    request_id = uuid.uuid4()
    account_id = uuid.uuid4()
    event = ResetRequestedV1(
        request_id=request_id,
        account_id=account_id,
        email=email,
        requested_at=now,
        expires_at=now + expires_in,
        sealed_link=seal(
            f"http://127.0.0.1/reset-password?token={uuid.uuid4().hex}",
            key=KEY,
            kid="k1",
            associated_data=reset_link_binding(
                request_id=request_id, account_id=account_id, recipient=email
            ),
        ),
    )
    event_id = str(uuid.uuid4())
    record = cloudevents_kafka.encode(event, source="/it", event_id=event_id)
    return event_id, record.headers, record.key, record.value


async def tool(
    capsys: pytest.CaptureFixture[str], settings: Settings, *argv: str
) -> tuple[int, str]:
    capsys.readouterr()
    code = await dead_letters_cli.run(list(argv), settings)
    return code, capsys.readouterr().out


async def test_replay_sends_what_can_still_help_and_reports_the_rest(
    infra, pool, dsn, smtp_mode, capsys: pytest.CaptureFixture[str]
) -> None:
    topic, dlq = topics(infra)
    prefix = f"replay-{uuid.uuid4().hex[:6]}-"
    fresh = reset_record(f"{prefix}fresh@example.com", timedelta(minutes=30))
    expiring = reset_record(f"{prefix}expiring@example.com", timedelta(seconds=4))
    delivered = reset_record(f"{prefix}delivered@example.com", timedelta(minutes=30))
    poison = ([("ce_id", b"p"), ("ce_source", b"/it")], b"k", b"\xff not an event")
    # An operator's Kafka user: reads the dead letters, writes them back to their origin.
    kafka = {k.lower(): v for k, v in infra.kafka_env("admin").items()}
    settings = Settings(database_url=dsn, **kafka)

    async with Stack(infra, pool, topic, dlq) as stack:
        smtp_mode("reject")  # the provider refuses for good: both resets are dead-lettered
        await produce(infra, topic, [fresh[1:], expiring[1:], poison])
        await until(lambda: stack.records.dead_lettered_total >= 3, within=30)
        smtp_mode("accept")
        await produce(infra, topic, [delivered[1:]])
        await until(lambda: len(mails_to(infra, prefix)) >= 1, within=30)
        # A copy of an event that was delivered after all (a duplicate dead letter).
        await produce(
            infra,
            dlq,
            [
                (
                    dead_letter_headers(
                        delivered[1],
                        reason="PermanentSmtpError: 550 mailbox full",
                        origin_topic=topic,
                        origin_partition=0,
                        origin_offset=99,
                    ),
                    delivered[2],
                    delivered[3],
                )
            ],
        )

        code, listed = await tool(capsys, settings, "list", "--topic", dlq, "--json")
        rows = [json.loads(line) for line in listed.splitlines()]
        assert code == 0 and len(rows) == 4
        assert prefix not in listed  # masked: r***@example.com
        _, revealed = await tool(capsys, settings, "list", "--topic", dlq, "--show-addresses")
        assert f"{prefix}fresh@example.com" in revealed
        one = next(r for r in rows if r["event_id"] == fresh[0])
        _, shown = await tool(capsys, settings, "show", one["position"], "--topic", dlq)
        assert "deadletter_reason" in shown and prefix not in shown

        await asyncio.sleep(4)  # the short-lived link has expired by now
        code, report = await tool(capsys, settings, "replay", "--all", "--topic", dlq, "--json")
        decided = [json.loads(line) for line in report.splitlines()]
        verdicts = {row["event_id"]: row["verdict"] for row in decided}
        assert code == 0
        assert verdicts == {
            fresh[0]: "replay",
            expiring[0]: "expired",
            delivered[0]: "already delivered",
            "-": "not an event",
        }
        await until(lambda: f"{prefix}fresh@example.com" in mails_to(infra, prefix), within=30)

        # Replaying everything again sends nothing more: the ledger has the fresh one now.
        _, again = await tool(capsys, settings, "replay", "--all", "--topic", dlq, "--json")
        assert '"verdict": "replay"' not in again
        await asyncio.sleep(2)

    assert sorted(mails_to(infra, prefix)) == [
        f"{prefix}delivered@example.com",
        f"{prefix}fresh@example.com",
    ]
