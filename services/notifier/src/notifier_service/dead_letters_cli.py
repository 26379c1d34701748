"""`notifier-service dead-letters list|show|replay`: what is on the dead-letter topic, and putting
it back where it came from.

    notifier-service dead-letters list [--reason TEXT] [--since T] [--until T]
                                       [--show-addresses] [--json]
    notifier-service dead-letters show PARTITION:OFFSET [--show-addresses]
    notifier-service dead-letters replay (PARTITION:OFFSET ... | --since T | --until T
                                         | --reason TEXT | --all) [--dry-run]

Addresses are masked unless --show-addresses is given. A replay sends a record back to its origin
topic only when that can still lead to an email: never for an event the delivery ledger has as
sent, nor for one whose link has expired, nor for a record that is not an event at all; each of
those is reported instead. Reads the same settings as the service (KAFKA_*, DATABASE_URL); its
Kafka user needs to read the dead-letter topic and write the origin topics (the notifier's own
user may not write them: run it with an operator's user, docs/operations.md).
"""

import argparse
import asyncio
import json
import sys
from collections.abc import Sequence
from datetime import UTC, datetime

from pwreset_contracts.dead_letters import DEAD_LETTER_TOPIC
from servicekit.runtime.database import create_pool
from servicekit.runtime.logging import mask_email

from notifier_service.adapters.dead_letter_topic import read_all, republish
from notifier_service.adapters.deliveries_ledger import DeliveriesLedger
from notifier_service.core.config import Settings, get_settings
from notifier_service.domain.dead_letter_replay import DeadLetter, Selection, summary
from notifier_service.service_layer.dead_letter_replays import replay

COLUMNS = ("position", "time", "origin", "type", "event_id", "to", "reason")


def _time(text: str) -> datetime:
    parsed = datetime.fromisoformat(text)
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="notifier-service dead-letters")
    sub = parser.add_subparsers(dest="action", required=True)
    listing = sub.add_parser("list", help="every dead letter, oldest first")
    show = sub.add_parser("show", help="one dead letter in full")
    show.add_argument("position", help="PARTITION:OFFSET on the dead-letter topic")
    again = sub.add_parser("replay", help="send dead letters back to their origin topic")
    again.add_argument("positions", nargs="*", help="PARTITION:OFFSET ...")
    again.add_argument("--all", action="store_true", help="every dead letter")
    again.add_argument("--dry-run", action="store_true", help="report only, send nothing")
    for each in (listing, again):
        each.add_argument("--since", type=_time, help="dead-lettered at or after (ISO 8601)")
        each.add_argument("--until", type=_time, help="dead-lettered at or before (ISO 8601)")
        each.add_argument("--reason", help="reason contains this text")
        each.add_argument("--json", action="store_true", help="one JSON object per line")
    for each in (listing, show, again):
        each.add_argument("--show-addresses", action="store_true", help="do not mask addresses")
        each.add_argument("--topic", default=DEAD_LETTER_TOPIC)
    return parser


def _table(rows: list[dict[str, str]]) -> str:
    widths = {c: max([len(c), *(len(r[c]) for r in rows)]) for c in COLUMNS}
    lines = ["  ".join(c.ljust(widths[c]) for c in COLUMNS)]
    lines += ["  ".join(r[c].ljust(widths[c]) for c in COLUMNS) for r in rows]
    return "\n".join(lines)


def _detail(letter: DeadLetter, reveal: bool) -> str:
    out = [f"{k}: {v}" for k, v in summary(letter, reveal_addresses=reveal).items()]
    out.append("headers:")
    out += [f"  {k}: {v.decode(errors='replace')}" for k, v in letter.headers]
    value = (letter.value or b"").decode(errors="replace")
    email = getattr(letter.event.data, "email", None) if letter.event is not None else None
    if not reveal and isinstance(email, str) and email:
        value = value.replace(email, mask_email(email))
    out.append(f"value: {value}")
    return "\n".join(out)


async def run(argv: Sequence[str], settings: Settings, now: datetime | None = None) -> int:
    args = _parser().parse_args(argv)
    kafka = settings.kafka.security_options()
    letters = await read_all(settings.kafka_bootstrap_servers, args.topic, **kafka)
    if args.action == "list":
        selection = Selection(
            since=args.since, until=args.until, reason=args.reason, everything=True
        )
        rows = [summary(x, reveal_addresses=args.show_addresses) for x in letters]
        rows = [r for r, x in zip(rows, letters, strict=True) if selection.matches(x)]
        print("\n".join(json.dumps(r) for r in rows) if args.json else _table(rows))
        return 0
    if args.action == "show":
        found = [x for x in letters if x.position == args.position]
        if not found:
            print(f"no dead letter at {args.position}", file=sys.stderr)
            return 1
        print(_detail(found[0], args.show_addresses))
        return 0
    selection = Selection(
        positions=frozenset(args.positions),
        since=args.since,
        until=args.until,
        reason=args.reason,
        everything=args.all,
    )
    if not (args.positions or args.since or args.until or args.reason or args.all):
        print(
            "say which: PARTITION:OFFSET ..., --since/--until, --reason or --all", file=sys.stderr
        )
        return 2
    pool = await create_pool(settings.database_url, max_size=2)
    try:
        ledger = DeliveriesLedger(pool)
        decided = await replay(
            letters,
            selection,
            delivered=ledger.already_sent,
            reopen=ledger.reopen,
            publish=lambda chosen: republish(settings.kafka_bootstrap_servers, chosen, **kafka),
            now=now or datetime.now(UTC),
            dry_run=args.dry_run,
        )
    finally:
        await pool.close()
    for letter, decision in decided:
        row = {**summary(letter, reveal_addresses=args.show_addresses), "verdict": decision.value}
        print(json.dumps(row) if args.json else f"{row['position']}  {decision.value:17}  "
              f"{row['type']}  {row['to']}")  # fmt: skip
    replayed = sum(d.value == "replay" for _, d in decided)
    print(
        f"{'would replay' if args.dry_run else 'replayed'} {replayed} of {len(decided)} selected",
        file=sys.stderr,
    )
    return 0


def main(argv: Sequence[str]) -> None:
    sys.exit(asyncio.run(run(argv, get_settings())))
