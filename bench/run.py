"""`make bench`: the performance targets, each beside its reference measured in the same run.

    uv run python -m bench.run            # the full run (about 7 minutes on 2 cores)
    uv run python -m bench.run --quick    # one short run of each, to try changes
    uv run python -m bench.run --only relay,e2e
    uv run python -m bench.run --quick --only whole   # CPU per whole reset, per process

Prints one table and writes it, with the machine's description, to bench/results/<time>.json.
What each row measures and how: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx

from bench import delivery, outage, passwords, relay_lag, throughput, whole_reset
from bench.machine import describe
from bench.procstat import rss_mib
from bench.report import Row, at_least, table, write_json
from bench.stats import median, percentile
from bench.system import System, running_system
from bench.timing_known_vs_unknown import measure as timing_measure

RESULTS = Path(__file__).parent / "results"
PHASES = (
    "memory",
    "timing",
    "throughput",
    "relay",
    "notifier",
    "e2e",
    "whole",
    "passwords",
    "outage",
)
ACCOUNTS = {
    "throughput": 200,
    "e2e": 200,
    "notify": 100,
    "outage": 100,
    "login": 50,
    "link-confirm": 100,
}


@dataclass(frozen=True)
class Plan:
    runs: int = 3
    throughput_seconds: float = 10
    relay_rows: int = 1000
    relay_rate: float = 100
    notifier_emails: int = 1000
    raw_smtp_messages: int = 2000
    raw_smtp_connections: int = 4
    e2e_rate: float = 100
    e2e_seconds: float = 15
    logins: int = 150
    timing_n: int = 100
    outage_rate: float = 20
    whole_resets: int = 1000
    whole_rate: float = 100


QUICK = Plan(
    runs=1,
    throughput_seconds=5,
    relay_rows=300,
    notifier_emails=300,
    raw_smtp_messages=600,
    e2e_seconds=5,
    logins=60,
    timing_n=30,
    whole_resets=400,
)


def say(text: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


async def warm_up(system: System) -> None:
    async with httpx.AsyncClient(timeout=30) as http:
        for email in system.bench_accounts["e2e"][:20]:
            await http.post(
                system.platform.url("reset") + "/v1/password-resets", json={"email": email}
            )
        await http.post(
            system.platform.url("identity") + "/v1/login",
            json={"email": system.bench_accounts["login"][0], "password": "wrong password x"},
        )


def memory_rows(system: System, at_start: dict[str, float]) -> list[Row]:
    rows = []
    for service in ("identity", "reset", "notifier"):
        now = rss_mib(system.pid(service))
        worst = max(now, at_start.get(service, 0.0))
        rows.append(
            Row(
                f"idle RSS, {service}",
                f"{worst:.0f} MiB",
                f"after start {at_start.get(service, float('nan')):.0f}, after the run {now:.0f}",
                None,
                "< 120 MiB",
                worst < 120,
            )
        )
    return rows


async def timing_rows(system: System, plan: Plan) -> list[Row]:
    timings = await timing_measure(system.platform, plan.timing_n)
    known, unknown = median(timings["known"]), median(timings["unknown"])
    return [
        Row(
            "reset request, known email (median)",
            f"{known:.2f} ms",
            f"unknown email {unknown:.2f} ms",
            known / unknown,
            "same timing (docs/security.md)",
            None,
            {"n": plan.timing_n},
        )
    ]


async def relay_rows(system: System, plan: Plan) -> tuple[list[Row], dict[str, float]]:
    dsn = system.infra.dsn_for("bench_outbox")
    system.infra.create_topics([relay_lag.TOPIC])
    lags, sends = [], []
    for _ in range(plan.runs):
        lags.append(
            relay_lag.summary(
                await relay_lag.relay_lag(
                    dsn,
                    system.infra.kafka_bootstrap,
                    rate=plan.relay_rate,
                    count=plan.relay_rows,
                    kafka_options=system.infra.kafka_security_options(),
                )
            )
        )
        sends.append(
            relay_lag.summary(
                await relay_lag.acked_send(
                    system.infra.kafka_bootstrap,
                    count=300,
                    kafka_options=system.infra.kafka_security_options(),
                )
            )
        )
    p50, p99 = median([x["p50"] for x in lags]), median([x["p99"] for x in lags])
    ref50, ref99 = median([x["p50"] for x in sends]), median([x["p99"] for x in sends])
    details = {"relay": lags, "acked_send": sends, "rows_per_run": plan.relay_rows}
    rows = [
        Row(
            f"outbox relay lag p50 (commit -> ack, {plan.relay_rate:.0f} rows/s)",
            f"{p50:.2f} ms",
            f"one acked send {ref50:.2f} ms",
            p50 / ref50,
            "<= 5 ms",
            p50 <= 5,
            details,
        ),
        Row(
            "outbox relay lag p99",
            f"{p99:.2f} ms",
            f"one acked send {ref99:.2f} ms",
            p99 / ref99,
            "<= 25 ms",
            p99 <= 25,
        ),
    ]
    return rows, {"relay_p50": p50, "relay_p99": p99}


async def notifier_rows(system: System, plan: Plan) -> tuple[list[Row], dict[str, float]]:
    ours, cpu, raw, raw_one, smtp_ms = [], [], [], [], []
    for _ in range(plan.runs):
        drain, smtp = await delivery.notifier_throughput(system, count=plan.notifier_emails)
        ours.append(drain.per_second)
        cpu.append(drain.cpu_ms_per_email)
        smtp_ms.append(smtp)
        raw.append(
            await delivery.raw_smtp(
                system, count=plan.raw_smtp_messages, connections=plan.raw_smtp_connections
            )
        )
        # Also over a single connection (for the explanation, not the row).
        raw_one.append(
            await delivery.raw_smtp(system, count=plan.raw_smtp_messages // 2, connections=1)
        )
    rate, reference = median(ours), median(raw)
    ratio = rate / reference
    notifier_cpu = median([c["notifier"] for c in cpu])
    others = {name: median([c[name] for c in cpu]) for name in ("postgres", "kafka", "smtp sink")}
    rows = [
        Row(
            "notifier throughput to an SMTP sink",
            f"{rate:.0f} emails/s",
            f"raw aiosmtplib, {plan.raw_smtp_connections} pooled connections {reference:.0f}/s",
            ratio,
            ">= 0.5x",
            at_least(ratio, 0.5),
            {
                "notifier_per_second": ours,
                "notifier_smtp_send_ms": smtp_ms,
                "cpu_ms_per_email": cpu,
                "raw_per_second": raw,
                "raw_one_connection_per_second": raw_one,
                "emails": plan.notifier_emails,
            },
        ),
        Row(
            "  notifier CPU per email (while draining)",
            f"{notifier_cpu:.2f} ms",
            ", ".join(f"{name} {ms:.2f}" for name, ms in others.items()),
            None,
            "<= 1.5 ms",
            notifier_cpu <= 1.5,
        ),
    ]
    return rows, {"notifier_ms_per_email": 1000 / rate}


async def e2e_rows(system: System, plan: Plan, stages: dict[str, float]) -> list[Row]:
    runs = []
    refused = 0
    for _ in range(plan.runs):
        latencies, failed = await delivery.end_to_end(
            system, rate=plan.e2e_rate, seconds=plan.e2e_seconds
        )
        refused += failed
        runs.append({"p50": percentile(latencies, 0.5), "p99": percentile(latencies, 0.99)})
    p50, p99 = median([r["p50"] for r in runs]), median([r["p99"] for r in runs])
    per_email = stages.get("notifier_ms_per_email", float("nan"))
    ref50 = stages.get("relay_p50", float("nan")) + per_email
    ref99 = stages.get("relay_p99", float("nan")) + per_email
    details = {"runs": runs, "refused": refused, "rate": plan.e2e_rate}
    return [
        Row(
            f"request accepted -> email accepted p50 ({plan.e2e_rate:.0f} req/s open loop)",
            f"{p50:.1f} ms",
            f"stages: relay p50 + notifier per email = {ref50:.1f} ms",
            p50 / ref50,
            "<= 15 ms",
            p50 <= 15 and refused == 0,
            details,
        ),
        Row(
            "request accepted -> email accepted p99",
            f"{p99:.1f} ms",
            f"stages: relay p99 + notifier per email = {ref99:.1f} ms",
            p99 / ref99,
            "<= 60 ms",
            p99 <= 60 and refused == 0,
        ),
    ]


async def whole_reset_rows(system: System, plan: Plan) -> list[Row]:
    runs = [
        await whole_reset.whole_reset_cpu(system, count=plan.whole_resets, rate=plan.whole_rate)
        for _ in range(plan.runs)
    ]
    total = median([r.total_ms for r in runs])
    split = {
        name: median([r.per_process_ms[name] for r in runs])
        for name in (*whole_reset.SYSTEM, *whole_reset.OUTSIDE)
    }
    refused = sum(r.refused for r in runs)
    shown = ", ".join(f"{name} {split[name]:.2f}" for name in whole_reset.SYSTEM)
    outside = ", ".join(f"{name} {split[name]:.2f}" for name in whole_reset.OUTSIDE)
    return [
        Row(
            f"CPU per whole reset (request -> email accepted, {plan.whole_rate:.0f} req/s)",
            f"{total:.2f} ms",
            f"{shown} (not counted: {outside})",
            None,
            "<= 4 ms",
            total <= 4 and refused == 0,
            {
                "runs": [asdict(r) for r in runs],
                "resets_per_run": plan.whole_resets,
                "rate": plan.whole_rate,
            },
        )
    ]


async def password_rows(system: System, plan: Plan) -> list[Row]:
    bounds, logins, confirms = [], [], []
    cpu: dict[str, list[dict[str, float]]] = {"login": [], "confirm": []}
    for run in range(plan.runs):
        # The bound just before and just after, the higher one kept: a neighbour's burst of CPU
        # during one measurement must not make the ratio look better than it is.
        before = await passwords.argon2_bound()
        login, login_cpu = await passwords.login_throughput(system, count=plan.logins)
        confirm, confirm_cpu = await passwords.confirm_throughput(system, run=run)
        bounds.append(max(before, await passwords.argon2_bound()))
        logins.append(login)
        confirms.append(confirm)
        cpu["login"].append(login_cpu)
        cpu["confirm"].append(confirm_cpu)
    bound = median(bounds)
    login, confirm = median(logins), median(confirms)
    details = {
        "argon2_per_second": bounds,
        "login_per_second": logins,
        "confirm_per_second": confirms,
        "cpu_ms_per_operation": cpu,
    }
    beside = {op: [passwords.beside_argon2(c) for c in cpu[op]] for op in ("login", "confirm")}

    def beside_row(op: str, target: float | None) -> Row:
        runs = beside[op]
        total = median([t for t, _ in runs])
        split = {n: median([s[n] for _, s in runs]) for n in passwords.SYSTEM_PROCESSES}
        argon2 = median([c[passwords.ARGON2_THREADS] for c in cpu[op]])
        return Row(
            f"{op}: CPU beside argon2id (all processes)",
            f"{total:.1f} ms ({', '.join(f'{n} {v:.1f}' for n, v in split.items())})",
            f"argon2id {argon2:.1f} ms in identity's threads",
            None,
            f"<= {target:g} ms" if target is not None else "",
            None if target is None else total <= target,
            {"runs": [{"total": t, **s} for t, s in runs]},
        )

    return [
        Row(
            "confirm throughput",
            f"{confirm:.1f} /s",
            f"argon2id bound {bound:.1f} hashes/s",
            confirm / bound,
            ">= 0.75x",
            at_least(confirm / bound, 0.75),
            details,
        ),
        beside_row("confirm", 8),
        Row(
            "login throughput",
            f"{login:.1f} /s",
            f"argon2id bound {bound:.1f} hashes/s",
            login / bound,
            ">= 0.9x",
            at_least(login / bound, 0.9),
        ),
        beside_row("login", None),
    ]


async def bench(system: System, plan: Plan, phases: set[str]) -> list[Row]:
    rows: list[Row] = []
    stages: dict[str, float] = {}

    async def phase(name: str, work: Callable[[], Coroutine[Any, Any, Any]]) -> Any:
        if name not in phases:
            return None
        say(f"{name} ...")
        started = time.monotonic()
        result = await work()
        say(f"{name} done in {time.monotonic() - started:.0f} s")
        shown = result[0] if isinstance(result, tuple) else result
        say("\n" + table(shown if isinstance(shown, list) else [shown]))
        return result

    say("creating accounts")
    for tag, count in ACCOUNTS.items():
        system.bench_accounts[tag] = await system.create_accounts(tag, count)
    await warm_up(system)
    await asyncio.sleep(3)
    rss_at_start = {s: rss_mib(system.pid(s)) for s in ("identity", "reset", "notifier")}
    rows += await phase("timing", lambda: timing_rows(system, plan)) or []
    rows += (
        await phase(
            "throughput",
            lambda: throughput.reset_vs_hello(
                system, system.platform.run_dir, runs=plan.runs, seconds=plan.throughput_seconds
            ),
        )
        or []
    )
    for name, work in (
        ("relay", lambda: relay_rows(system, plan)),
        ("notifier", lambda: notifier_rows(system, plan)),
    ):
        result = await phase(name, work)
        if result:
            rows += result[0]
            stages.update(result[1])
    rows += await phase("e2e", lambda: e2e_rows(system, plan, stages)) or []
    rows += await phase("whole", lambda: whole_reset_rows(system, plan)) or []
    rows += await phase("passwords", lambda: password_rows(system, plan)) or []
    outage_row = await phase("outage", lambda: outage.kafka_outage(system, rate=plan.outage_rate))
    if outage_row:
        rows.append(outage_row)
    if "memory" in phases:
        await asyncio.sleep(5)
        rows += memory_rows(system, rss_at_start)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short run of each")
    parser.add_argument("--only", default=",".join(PHASES), help=f"some of {','.join(PHASES)}")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args()
    phases = set(args.only.split(","))
    unknown = phases - set(PHASES)
    if unknown:
        parser.error(f"unknown phases: {', '.join(sorted(unknown))}")
    plan = QUICK if args.quick else Plan()
    machine = describe()
    started = datetime.now(UTC)
    say(f"machine: {machine}")
    with tempfile.TemporaryDirectory(prefix="pwreset-bench-") as tmp:
        with running_system(Path(tmp)) as system:
            rows = asyncio.run(bench(system, plan, phases))
    elapsed = (datetime.now(UTC) - started).total_seconds()
    print(table(rows))
    out = args.out / f"{started.strftime('%Y%m%dT%H%M%SZ')}.json"
    write_json(
        out,
        rows,
        {
            "started": started.isoformat(),
            "seconds": round(elapsed),
            "plan": plan.__dict__,
            "phases": sorted(phases),
            "machine": machine,
            # SASL_SSL, as every service connects; PLAINTEXT only to measure what that costs.
            "kafka": "PLAINTEXT"
            if os.environ.get("PWRESET_BENCH_KAFKA_PLAINTEXT") == "1"
            else "SASL_SSL",
        },
    )
    print(f"\n{len(rows)} rows in {elapsed / 60:.1f} min; written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
