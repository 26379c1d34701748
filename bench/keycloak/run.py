"""`make bench-keycloak`: the platform beside Keycloak, same machine, same run, same load.

    uv run python -m bench.keycloak            # the full run (10-15 minutes on 2 cores)
    uv run python -m bench.keycloak --quick    # one short run of each, to try changes

The platform comes up as in `make bench` (bench/system.py); Keycloak runs on the same PostgreSQL
server (a database of its own) and sends through the same SMTP sink. Phase 1: Keycloak at its
defaults; forgot-password flows and logins of both systems, interleaved run by run. Phase 2:
Keycloak restarted with its argon2 provider at identity's parameters; logins of both again.
Prints one table and writes it to bench/results/<time>-keycloak.json. Method: docs/benchmarks.md.
"""

from __future__ import annotations

import argparse
import asyncio
import dataclasses
import os
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from identity_service.core.config import Settings as IdentitySettings

from bench.keycloak import config, dist
from bench.keycloak.flows import (
    Flow,
    Outcome,
    drive,
    keycloak_forgot_password,
    keycloak_login,
    our_forgot_password,
    our_login,
)
from bench.keycloak.report import KEYCLOAK, OURS, Measured, rows
from bench.keycloak.server import KeycloakServer
from bench.machine import describe
from bench.procstat import cpu_seconds, rss_mib, tree_cpu_seconds
from bench.report import table, write_json
from bench.system import PASSWORD, System, running_system

RESULTS = Path(__file__).parent.parent / "results"
SERVICES = ("identity", "reset", "notifier")


@dataclass(frozen=True)
class Plan:
    runs: int = 3
    forgot_flows: int = 800
    logins: int = 150
    forgot_accounts: int = 200
    login_accounts: int = 50
    # Keycloak's JIT keeps compiling for hundreds of logins and thousands of page requests:
    # it is warmed in rounds until a round's CPU per operation stops falling (Anchor.warm).
    warm_keycloak_flows: int = 500  # per round
    warm_keycloak_logins: int = 200  # per round
    warm_min_rounds: int = 4  # noise can stop a shorter warm-up early (800 logins needed)
    warm_rounds: int = 10  # at most
    warm_our_flows: int = 200
    warm_our_logins: int = 40


QUICK = Plan(
    runs=1,
    forgot_flows=300,
    logins=60,
    forgot_accounts=100,
    login_accounts=20,
    warm_keycloak_flows=300,
    warm_keycloak_logins=100,
    warm_min_rounds=2,
    warm_rounds=3,
    warm_our_flows=60,
    warm_our_logins=20,
)


def say(text: str) -> None:
    print(f"[bench-keycloak {time.strftime('%H:%M:%S')}] {text}", file=sys.stderr, flush=True)


def identity_argon2() -> config.Argon2:
    settings = IdentitySettings()
    return config.Argon2(
        settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
    )


def keycloak_users(tag: str, count: int) -> tuple[list[str], list[dict[str, Any]]]:
    emails = [f"kc-{tag}-{n}-{uuid.uuid4().hex[:8]}@example.com" for n in range(count)]
    return emails, [config.user(email, email, PASSWORD) for email in emails]


class Anchor:
    """The running pieces of one bench-keycloak run and the measurements taken so far."""

    def __init__(self, system: System, prepared: dist.Prepared, run_dir: Path, plan: Plan):
        self.system = system
        self.prepared = prepared
        self.run_dir = run_dir
        self.plan = plan
        self.dsn = system.infra.dsn_for("keycloak")
        self.keycloak: KeycloakServer | None = None
        self.admin_password = secrets.token_urlsafe(16)
        self.measured = Measured()
        self.warm_up: dict[str, list[float]] = {}
        self.timings: dict[str, float] = {
            "fetch_seconds": round(prepared.fetch_seconds, 1),
            "build_seconds": round(prepared.build_seconds, 1),
        }

    # -- Keycloak ------------------------------------------------------------------------------
    async def start_keycloak(self, name: str, extra: list[str]) -> KeycloakServer:
        self.stop_keycloak()
        server = KeycloakServer(self.prepared, self.run_dir, self.dsn, extra, self.admin_password)
        self.keycloak = server
        self.timings[f"{name}_start_seconds"] = round(await asyncio.to_thread(server.start), 1)
        say(f"Keycloak ({name}) ready in {self.timings[f'{name}_start_seconds']:.0f} s")
        return server

    def stop_keycloak(self) -> None:
        if self.keycloak is not None:
            self.keycloak.stop()
            self.keycloak = None

    async def create_realm(
        self, name: str, users: list[dict[str, Any]], expected: config.Argon2 | None
    ) -> config.Argon2 | None:
        assert self.keycloak is not None
        started = time.monotonic()
        await self.keycloak.create_realm(
            config.realm(
                name, smtp_host=self.system.sink.host, smtp_port=self.system.sink.port, users=users
            )
        )
        self.timings[f"{name}_import_seconds"] = round(time.monotonic() - started, 1)
        stored = await self.keycloak.stored_argon2(name, users[0]["username"])
        if expected is not None and stored != expected:
            raise RuntimeError(f"Keycloak hashed {name}'s users with {stored}, not {expected}")
        say(f"realm {name}: {len(users)} users, argon2 {stored}")
        return stored

    # -- CPU -----------------------------------------------------------------------------------
    def our_cpu(self) -> dict[str, float]:
        return self.system.cpu()

    def keycloak_cpu(self) -> dict[str, float]:
        assert self.keycloak is not None
        return {
            "keycloak": self.keycloak.cpu_seconds(),
            "postgres": tree_cpu_seconds(self.system.postgres_pid),
            "smtp sink": cpu_seconds(self.system.sink.pid),
            "load generator": cpu_seconds(os.getpid()),
        }

    def memory(self) -> None:
        assert self.keycloak is not None
        ours = {name: rss_mib(self.system.pid(name)) for name in SERVICES}
        ours["kafka"] = rss_mib(self.system.kafka_pid)
        self.measured.keep_memory(ours, self.keycloak.rss_mib())

    # -- load ----------------------------------------------------------------------------------
    async def measure(self, kind: str, loads: dict[str, Load], count: int, runs: int) -> None:
        """`runs` runs of each system's load, interleaved; who goes first alternates, so that a
        drift of the machine favours neither."""
        for run in range(runs):
            order = list(loads) if run % 2 == 0 else list(reversed(loads))
            for who in order:
                outcome = await self.drive(loads[who], count)
                self.measured.add(kind, who, outcome)
                say(
                    f"run {run + 1} {kind} {who}: {outcome.per_second:.1f}/s, "
                    f"p50 {outcome.p50:.1f} ms, CPU {outcome.cpu_of(loads[who].processes):.2f} ms"
                )

    async def warm(self, name: str, load: Load, count: int) -> None:
        """Rounds of `count` until CPU per operation falls by less than 5% from one round to the
        next (at least plan.warm_min_rounds, at most plan.warm_rounds); every round's figure
        goes to the JSON."""
        rounds: list[float] = []
        for _ in range(self.plan.warm_rounds):
            outcome = await self.drive(load, count)
            rounds.append(round(outcome.cpu_of(load.processes), 2))
            if len(rounds) >= self.plan.warm_min_rounds and rounds[-1] > 0.95 * rounds[-2]:
                break
        self.warm_up[name] = rounds
        say(f"warm-up {name}: CPU ms per operation by round {rounds}")

    async def drive(self, load: Load, count: int) -> Outcome:
        outcome = await drive(
            load.flow,
            load.accounts,
            count,
            cpu=load.cpu,
            sink=self.system.sink if load.emails else None,
            pipelined=load.pipelined,
        )
        if outcome.failed:
            say(f"  {outcome.failed} of {count} failed")
        return outcome


@dataclass(frozen=True)
class Load:
    """One kind of work on one system: the flow, whose accounts, whose CPU."""

    flow: Flow
    accounts: list[str]
    cpu: Callable[[], dict[str, float]]
    processes: tuple[str, ...]
    emails: bool  # done when the sink accepted the flow's email
    pipelined: bool = False  # the next flow once the pages answered (flows.drive)


async def anchor(anchor: Anchor) -> None:
    plan, system = anchor.plan, anchor.system
    reset_url = system.platform.url("reset")
    identity_url = system.platform.url("identity")

    say("creating our accounts")
    our_forgot = await system.create_accounts("kcf", plan.forgot_accounts)
    our_logins = await system.create_accounts("kcl", plan.login_accounts)

    # Phase 1: Keycloak at its defaults.
    keycloak = await anchor.start_keycloak("default", [])
    kc_forgot, forgot_users = keycloak_users("forgot", plan.forgot_accounts)
    kc_logins, login_users = keycloak_users("login", plan.login_accounts)
    anchor.measured.keycloak_default_argon2 = await anchor.create_realm(
        "bench-default", forgot_users + login_users, config.KEYCLOAK_DEFAULT_ARGON2
    )
    forgot = {
        "ours": Load(our_forgot_password(reset_url), our_forgot, anchor.our_cpu, OURS, True),
        "keycloak": Load(
            keycloak_forgot_password(keycloak.url, "bench-default"),
            kc_forgot,
            anchor.keycloak_cpu,
            KEYCLOAK,
            True,
        ),
    }
    # Ours once more with the loop closed at the page's answer instead of at the email: the
    # platform sends after answering, so this shows what it sustains when users do not wait.
    forgot["ours-pipelined"] = dataclasses.replace(forgot["ours"], pipelined=True)
    logins = {
        "ours": Load(our_login(identity_url), our_logins, anchor.our_cpu, OURS, False),
        "keycloak": Load(
            keycloak_login(keycloak.url, "bench-default"),
            kc_logins,
            anchor.keycloak_cpu,
            KEYCLOAK,
            False,
        ),
    }
    say("warming up (Keycloak's JIT, our caches)")
    started = time.monotonic()
    await anchor.warm("keycloak forgot", forgot["keycloak"], plan.warm_keycloak_flows)
    await anchor.warm("keycloak login (default)", logins["keycloak"], plan.warm_keycloak_logins)
    await anchor.drive(forgot["ours"], plan.warm_our_flows)
    await anchor.drive(logins["ours"], plan.warm_our_logins)
    anchor.timings["warm_up_default_seconds"] = round(time.monotonic() - started, 1)
    await anchor.measure("forgot", forgot, plan.forgot_flows, plan.runs)
    await anchor.measure("login-default", logins, plan.logins, plan.runs)
    anchor.memory()

    # Phase 2: Keycloak's argon2 at identity's parameters (a server option: a second start,
    # so the JIT is cold again and is warmed again).
    equal = identity_argon2()
    anchor.measured.equal_argon2 = equal
    keycloak = await anchor.start_keycloak("equal", equal.provider_options())
    kc_logins, login_users = keycloak_users("equal", plan.login_accounts)
    await anchor.create_realm("bench-equal", login_users, equal)
    logins["keycloak"] = Load(
        keycloak_login(keycloak.url, "bench-equal"), kc_logins, anchor.keycloak_cpu, KEYCLOAK, False
    )
    started = time.monotonic()
    await anchor.warm("keycloak login (equal)", logins["keycloak"], plan.warm_keycloak_logins)
    anchor.timings["warm_up_equal_seconds"] = round(time.monotonic() - started, 1)
    await anchor.measure("login-equal", logins, plan.logins, plan.runs)
    anchor.memory()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="one short run of each")
    parser.add_argument("--out", type=Path, default=RESULTS, help="where the JSON goes")
    args = parser.parse_args()
    plan = QUICK if args.quick else Plan()
    machine = describe()
    started = datetime.now(UTC)
    say(f"machine: {machine}")
    with tempfile.TemporaryDirectory(prefix="pwreset-bench-keycloak-") as tmp:
        run_dir = Path(tmp)
        say("Keycloak distribution: fetching and building if not in the cache")
        prepared = dist.prepare(run_dir / "keycloak-build.log")
        say(
            f"Keycloak {dist.keycloak_version()} at {prepared.home}, Java {prepared.java_major} "
            f"({prepared.java_home}); fetched in {prepared.fetch_seconds:.0f} s, "
            f"built in {prepared.build_seconds:.0f} s (0: cached)"
        )
        with running_system(run_dir) as system:
            bench = Anchor(system, prepared, run_dir, plan)
            try:
                asyncio.run(anchor(bench))
            finally:
                bench.stop_keycloak()
    elapsed = (datetime.now(UTC) - started).total_seconds()
    result = rows(bench.measured)
    print(table(result))
    out = args.out / f"{started.strftime('%Y%m%dT%H%M%SZ')}-keycloak.json"
    write_json(
        out,
        result,
        {
            "started": started.isoformat(),
            "seconds": round(elapsed),
            "plan": asdict(plan),
            "machine": machine,
            "keycloak": {
                "version": dist.keycloak_version(),
                "java": prepared.java_major,
                "java_home": str(prepared.java_home),
                "build_options": list(dist.BUILD_OPTIONS),
            },
            "timings": bench.timings,
            "warm_up_cpu_ms_per_operation": bench.warm_up,
            "runs": bench.measured.raw(),
        },
    )
    print(f"\n{len(result)} rows in {elapsed / 60:.1f} min; written to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
