"""Does the reset request's timing tell known emails from unknown ones? (docs/security.md)

Starts the platform as `make run` does (private run dir, free ports), creates N accounts, then
sends N requests for known emails (one each, so no per-account limit applies) and N for unknown
emails, interleaved in random order, and prints the latency medians side by side.

    uv run python bench/timing_known_vs_unknown.py [--n 200]
"""

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
import uuid
from pathlib import Path

import httpx
from devinfra.platform import SERVICES, TOPICS, Endpoints, Platform
from devinfra.providers import start_infrastructure


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def measure(platform: Platform, n: int) -> dict[str, list[float]]:
    known = [f"timing-{uuid.uuid4().hex[:12]}@example.com" for _ in range(n)]
    platform.seed_accounts([(email, "timing benchmark password") for email in known])
    unknown = [f"nobody-{uuid.uuid4().hex[:12]}@example.com" for _ in range(n)]
    plan = [("known", e) for e in known] + [("unknown", e) for e in unknown]
    random.shuffle(plan)
    timings: dict[str, list[float]] = {"known": [], "unknown": []}
    async with httpx.AsyncClient(base_url=platform.url("reset"), timeout=30) as reset:
        for _ in range(20):  # warm-up: connections, caches, JIT-less but still
            await reset.post("/v1/password-resets", json={"email": f"w-{uuid.uuid4().hex}@x.org"})
        for kind, email in plan:
            started = time.perf_counter()
            response = await reset.post("/v1/password-resets", json={"email": email})
            elapsed = time.perf_counter() - started
            assert response.status_code == 202, response.text
            timings[kind].append(elapsed * 1000)
    return timings


def report(timings: dict[str, list[float]]) -> None:
    print(f"{'emails':<10}{'n':>6}{'median ms':>12}{'p10 ms':>10}{'p90 ms':>10}")
    for kind, values in timings.items():
        print(
            f"{kind:<10}{len(values):>6}{statistics.median(values):>12.2f}"
            f"{percentile(values, 0.1):>10.2f}{percentile(values, 0.9):>10.2f}"
        )
    known, unknown = (statistics.median(timings[k]) for k in ("known", "unknown"))
    print(
        f"median difference (known - unknown): {known - unknown:+.2f} ms "
        f"({(known / unknown - 1) * 100:+.1f}%)"
    )


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("--n", type=int, default=200)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="pwreset-timing-") as tmp:
        run_dir = Path(tmp)
        with start_infrastructure(run_dir) as infra:
            infra.create_topics(list(TOPICS))
            platform = Platform(
                Endpoints(
                    database_url={name: infra.dsn_for(name) for name in SERVICES},
                    kafka_bootstrap=infra.kafka_bootstrap,
                    smtp_host=infra.smtp_host,
                    smtp_port=infra.smtp_port,
                    kafka_env={name: infra.kafka_env(name) for name in SERVICES},
                ),
                run_dir,
            )
            platform.migrate()
            platform.start()
            try:
                report(asyncio.run(measure(platform, args.n)))
            finally:
                platform.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
