"""Reset-request throughput and CPU per request, beside a hello-world endpoint.

Both servers are single uvicorn processes with the same settings, driven by the same wrk
(1 thread, 32 connections, closed loop) for the same time. A reset request is counted when its
202 came back, i.e. after the request row and the outbox row were committed. CPU is utime +
stime from /proc, read before and after each run: the reset process alone is compared with the
hello-world process; identity, PostgreSQL (all backends) and Kafka are reported beside it.

The notifier is stopped meanwhile and its backlog skipped afterwards: it is a separate
deployment whose throughput has a row of its own, and on two cores it would take CPU from the
process under test. The outbox relay runs, as it does in the reset process in production.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

from bench.load import WrkResult, reset_request_script, wrk
from bench.procstat import cpu_seconds, tree_cpu_seconds
from bench.report import Row, at_least
from bench.stats import median
from bench.system import System


def _cpu(system: System) -> dict[str, float]:
    return {
        "reset": cpu_seconds(system.pid("reset")),
        "identity": cpu_seconds(system.pid("identity")),
        "postgres": tree_cpu_seconds(system.postgres_pid),
        "kafka": cpu_seconds(system.kafka_pid),
        "hello": cpu_seconds(system.hello_pid),
    }


async def _measured(system: System, url: str, seconds: float, script: Path | None):
    before = _cpu(system)
    result: WrkResult = await asyncio.to_thread(wrk, url, seconds, script)
    after = _cpu(system)
    per_request_ms = {k: (after[k] - before[k]) * 1000 / result.requests for k in before}
    return result, per_request_ms


async def reset_vs_hello(system: System, run_dir: Path, *, runs: int, seconds: float) -> list[Row]:
    emails = system.bench_accounts["throughput"]
    script = reset_request_script(run_dir / "reset-requests.lua", emails)
    reset_url = system.platform.url("reset") + "/v1/password-resets"
    hello_url = system.hello_url + "/hello"
    system.platform.stop_service("notifier")
    try:
        await asyncio.to_thread(wrk, hello_url, 3)  # warm-up
        await asyncio.to_thread(wrk, reset_url, 3, script)
        hello_runs, reset_runs = [], []
        for _ in range(runs):
            hello_runs.append(await _measured(system, hello_url, seconds, None))
            reset_runs.append(await _measured(system, reset_url, seconds, script))
            await asyncio.sleep(1)  # let the relay catch up before the next hello run
    finally:
        await system.skip_notifier_backlog()
        system.platform.start_service("notifier")

    failed = sum(r.failed for r, _ in hello_runs + reset_runs)
    hello_rps = median([r.per_second for r, _ in hello_runs])
    reset_rps = median([r.per_second for r, _ in reset_runs])
    hello_cpu = median([cpu["hello"] for _, cpu in hello_runs])
    reset_cpu = {k: median([cpu[k] for _, cpu in reset_runs]) for k in reset_runs[0][1]}
    throughput_ratio = reset_rps / hello_rps
    cpu_ratio = reset_cpu["reset"] / hello_cpu
    whole = reset_cpu["reset"] + reset_cpu["identity"] + reset_cpu["postgres"]
    details = {
        "runs": runs,
        "seconds_per_run": seconds,
        "failed_requests": failed,
        "hello_per_second": [r.per_second for r, _ in hello_runs],
        "reset_per_second": [r.per_second for r, _ in reset_runs],
        "hello_p50_p99_ms": [(r.p50_ms, r.p99_ms) for r, _ in hello_runs],
        "reset_p50_p99_ms": [(r.p50_ms, r.p99_ms) for r, _ in reset_runs],
        "cpu_ms_per_reset_request": reset_cpu,
        "cpu_ms_per_hello_request": hello_cpu,
    }
    return [
        Row(
            "reset-request throughput (202, rows committed)",
            f"{reset_rps:.0f} req/s",
            f"hello world {hello_rps:.0f} req/s",
            throughput_ratio,
            ">= 0.5x",
            at_least(throughput_ratio, 0.5) and failed == 0,
            details,
        ),
        Row(
            "CPU per reset request (reset process)",
            f"{reset_cpu['reset']:.2f} ms",
            f"hello world {hello_cpu:.2f} ms",
            cpu_ratio,
            "<= 3x",
            cpu_ratio <= 3,
        ),
        Row(
            "  + identity + PostgreSQL (all backends)",
            f"{whole:.2f} ms (identity {reset_cpu['identity']:.2f}, "
            f"PostgreSQL {reset_cpu['postgres']:.2f}; Kafka {reset_cpu['kafka']:.2f})",
            f"hello world {hello_cpu:.2f} ms",
            whole / hello_cpu,
        ),
    ]
