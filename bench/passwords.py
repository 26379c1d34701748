"""Confirm and login throughput beside the argon2id bound.

The bound is what this machine can hash at all: argon2id at the identity service's parameters
(its Settings defaults, which the bench does not override), one process per core, hashing
back to back, measured in the same run. A login verifies one hash, a confirm computes one (the
new password), so each is compared with the bound directly. Both are driven closed-loop by 8
concurrent clients, enough to keep the identity service's hashing threads busy.
"""

from __future__ import annotations

import asyncio
import os
import time
from concurrent.futures import ProcessPoolExecutor
from urllib.parse import parse_qs, urlsplit

import httpx
from argon2 import PasswordHasher
from identity_service.core.config import Settings as IdentitySettings

from bench.delivery import Mail
from bench.load import closed_loop
from bench.procstat import cpu_seconds, main_thread_cpu_seconds
from bench.system import PASSWORD, System
from bench.waiting import eventually

CLIENTS = 8
ARGON2_THREADS = "identity: argon2id threads"
# What "beside the hash" sums: the system's processes, not the bench's load generator or sink.
SYSTEM_PROCESSES = ("reset", "identity", "notifier", "postgres", "kafka")


def _hash_for(seconds: float, memory_kib: int, time_cost: int, parallelism: int) -> float:
    hasher = PasswordHasher(memory_cost=memory_kib, time_cost=time_cost, parallelism=parallelism)
    hasher.hash("warm-up")
    done, started = 0, time.perf_counter()
    while time.perf_counter() - started < seconds:
        hasher.hash("a password of ordinary length")
        done += 1
    return done / (time.perf_counter() - started)


async def argon2_bound(seconds: float = 4.0) -> float:
    """argon2id hashes per second on all cores at identity's parameters."""
    settings = IdentitySettings()
    parameters = (
        settings.argon2_memory_kib,
        settings.argon2_time_cost,
        settings.argon2_parallelism,
    )
    cores = os.cpu_count() or 1
    loop = asyncio.get_running_loop()
    with ProcessPoolExecutor(cores) as pool:
        rates = await asyncio.gather(
            *(loop.run_in_executor(pool, _hash_for, seconds, *parameters) for _ in range(cores))
        )
    return sum(rates)


def cpu_now(system: System) -> dict[str, float]:
    """CPU seconds so far of every process, and of identity's threads besides its main one:
    its argon2id lanes (nothing else of identity runs off the event loop's thread)."""
    identity = system.pid("identity")
    hashing = cpu_seconds(identity) - main_thread_cpu_seconds(identity)
    return {**system.cpu(), ARGON2_THREADS: hashing}


def cpu_per_operation(before: dict[str, float], after: dict[str, float], count: int) -> dict:
    """ms of CPU per operation, per process (argon2id runs in identity's threads)."""
    return {name: round((after[name] - before[name]) * 1000 / count, 2) for name in before}


def beside_argon2(cpu: dict[str, float]) -> tuple[float, dict[str, float]]:
    """ms per operation of everything but the hash: the system's processes, identity's hashing
    threads left out; and that split by process."""
    split = {name: cpu[name] for name in SYSTEM_PROCESSES}
    split["identity"] = round(cpu["identity"] - cpu[ARGON2_THREADS], 2)
    return sum(split.values()), split


async def login_throughput(system: System, *, count: int) -> tuple[float, dict]:
    emails = system.bench_accounts["login"]
    async with httpx.AsyncClient(base_url=system.platform.url("identity"), timeout=60) as http:
        refusals: list[str] = []

        async def login(email: object) -> int:
            answer = await http.post("/v1/login", json={"email": email, "password": PASSWORD})
            if answer.status_code != 200 and len(refusals) < 3:
                refusals.append(f"{answer.status_code} {answer.text[:200]}")
            return answer.status_code

        before = cpu_now(system)
        elapsed, statuses = await closed_loop(
            CLIENTS, [emails[i % len(emails)] for i in range(count)], login
        )
        cpu = cpu_per_operation(before, cpu_now(system), count)
    if any(s != 200 for s in statuses):
        raise RuntimeError(f"logins failed: {sorted(set(statuses))}, first: {refusals}")
    return count / elapsed, cpu


async def confirm_throughput(system: System, *, run: int) -> tuple[float, dict]:
    """Confirms per second: one fresh request per account (token from its email, code from the
    answer), then every account confirms a new password."""
    emails = system.bench_accounts["link-confirm"]
    mail = Mail(system, emails)
    codes: dict[str, str] = {}
    async with httpx.AsyncClient(base_url=system.platform.url("reset"), timeout=60) as http:

        async def request(email: object) -> int:
            answer = await http.post("/v1/password-resets", json={"email": email})
            codes[str(email)] = answer.json()["verification_code"]
            return answer.status_code

        await closed_loop(CLIENTS, emails, request)

        def tokens() -> dict[str, str]:
            mail.collect()
            found = {}
            for accepted in sorted(mail.accepted, key=lambda a: a.at):
                if accepted.link and "/reset-password?" in accepted.link:
                    found[accepted.recipient] = parse_qs(urlsplit(accepted.link).query)["token"][0]
            return found

        await eventually(lambda: len(tokens()) == len(emails), within=60, what="reset links")
        links = tokens()

        async def confirm(email: object) -> int:
            answer = await http.post(
                "/v1/password-resets/confirm",
                json={
                    "token": links[str(email)],
                    "verification_code": codes[str(email)],
                    "new_password": f"{PASSWORD} {run}",
                },
            )
            return answer.status_code

        before = cpu_now(system)
        elapsed, statuses = await closed_loop(CLIENTS, emails, confirm)

        # The "password changed" emails the confirms cause are part of their cost.
        def change_notices() -> int:
            mail.collect()
            return sum(1 for a in mail.accepted if a.link is None)

        await eventually(
            lambda: change_notices() >= len(emails), within=60, what="password-changed emails"
        )
        cpu = cpu_per_operation(before, cpu_now(system), len(emails))
    if any(s != 200 for s in statuses):
        raise RuntimeError(f"confirms failed: {sorted(set(statuses))}")
    return len(emails) / elapsed, cpu
