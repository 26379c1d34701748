"""Profile a service under load with py-spy, before changing any of its code.

    uv run python -m bench.profile --load reset --seconds 15
    uv run python -m bench.profile --load notifier
    uv run python -m bench.profile --load confirm
    uv run python -m bench.profile --load login
    uv run python -m bench.profile --load whole    # 100 resets/s open loop, each to its email

Brings the system up as the bench does, drives one kind of load, samples the services with
`py-spy record` (100 Hz, idle frames left out) and prints, per service, the functions holding
the most samples: inclusive (the function or anything it calls) and self. The raw collapsed
stacks stay in bench/results/profiles/ (ignored by git) for a flame graph.
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path

from bench import delivery, passwords, whole_reset
from bench.load import reset_request_script, wrk
from bench.system import System, running_system
from bench.waiting import eventually

OUT = Path(__file__).parent / "results" / "profiles"


def summarise(collapsed: Path, top: int = 25) -> str:
    inclusive: Counter[str] = Counter()
    own: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack:
            continue
        samples = int(count)
        total += samples
        frames = stack.split(";")
        for frame in set(frames):
            inclusive[frame] += samples
        own[frames[-1]] += samples
    if not total:
        return "(no samples)"
    lines = [f"{total} samples", "inclusive:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in inclusive.most_common(top)]
    lines += ["self:"]
    lines += [f"  {100 * n / total:5.1f}%  {f}" for f, n in own.most_common(top)]
    return "\n".join(lines)


def record(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    return subprocess.Popen(
        [
            spy,
            "record",
            "-p",
            str(pid),
            "-d",
            str(int(seconds)),
            "-r",
            "100",
            "-f",
            "raw",
            "-o",
            str(out),
            "--nonblocking",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


async def prepare(system: System, load: str, run_dir: Path, seconds: float) -> Path | None:
    """Accounts first (argon2id), so that the profile sees only the load."""
    if load == "reset":
        emails = await system.create_accounts("profile", 200)
        return reset_request_script(run_dir / "profile.lua", emails)
    if load == "notifier":
        system.bench_accounts["notify"] = await system.create_accounts("notify", 100)
        await delivery.queue_backlog(system, count=int(150 * seconds))
    if load == "confirm":
        system.bench_accounts["link-confirm"] = await system.create_accounts("link-confirm", 200)
    if load == "login":
        system.bench_accounts["login"] = await system.create_accounts("login", 50)
    if load == "whole":
        system.bench_accounts["e2e"] = await system.create_accounts("e2e", 200)
    return None


async def drive(system: System, load: str, seconds: float, script: Path | None) -> None:
    if load == "reset":
        await asyncio.to_thread(wrk, system.platform.url("reset") + "/", seconds, script)
    elif load == "notifier":
        await delivery.drain_backlog(
            system, system.bench_accounts["notify"], count=int(150 * seconds)
        )
    elif load == "confirm":
        await passwords.confirm_throughput(system, run=0)
    elif load == "login":
        # Enough logins to outlast the profile at the rate of the bench's quiet runs.
        await passwords.login_throughput(system, count=int(100 * seconds))
    elif load == "whole":
        await whole_reset.whole_reset_cpu(system, count=int(100 * seconds), rate=100)


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument(
        "--load", choices=("reset", "notifier", "confirm", "login", "whole"), default="reset"
    )
    parser.add_argument("--seconds", type=float, default=15)
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="pwreset-profile-") as tmp:
        with running_system(Path(tmp)) as system:

            async def go() -> None:
                script = await prepare(system, args.load, Path(tmp), args.seconds)
                spies = {}
                task = asyncio.create_task(drive(system, args.load, args.seconds, script))
                if args.load == "notifier":  # a new notifier process: wait until it runs
                    await eventually(
                        lambda: "notifier" in system.platform.running, within=60, what="notifier"
                    )
                for service in ("reset", "identity", "notifier"):
                    out = OUT / f"{args.load}-{service}.txt"
                    spies[service] = (record(system.pid(service), args.seconds, out), out)
                await task
                for service, (spy, out) in spies.items():
                    spy.wait(timeout=args.seconds + 30)
                    print(f"\n=== {service} ({args.load} load) ===")
                    print(summarise(out) if out.exists() else "(no profile)")

            asyncio.run(go())
    return 0


if __name__ == "__main__":
    sys.exit(main())
