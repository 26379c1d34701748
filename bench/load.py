"""Load generators: wrk for closed-loop throughput, an asyncio one for open-loop latency.

Latency is measured open-loop: request i is due at start + i/rate whatever happened to the
earlier ones, and its latency counts from when it was due, so a slow server cannot hide its
queue by slowing the generator down (coordinated omission).
"""

from __future__ import annotations

import asyncio
import re
import shutil
import subprocess
import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx

WRK_THREADS = 1  # the server gets the other core
WRK_CONNECTIONS = 32


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    per_second: float
    failed: int  # non-2xx/3xx answers plus socket errors
    p50_ms: float
    p99_ms: float


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(text: str) -> float:
    number, unit = re.fullmatch(r"([\d.]+)(us|ms|s|m)", text).groups()  # type: ignore[union-attr]
    return float(number) * _UNITS[unit]


def parse_wrk(output: str) -> WrkResult:
    done = re.search(r"(\d+) requests in ([\d.]+)(ms|s|m)", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    if not done or not rate:
        raise RuntimeError(f"unexpected wrk output:\n{output}")
    seconds = _ms(done.group(2) + done.group(3)) / 1000
    non_2xx = re.search(r"Non-2xx or 3xx responses: (\d+)", output)
    socket = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    failed = (int(non_2xx.group(1)) if non_2xx else 0) + (
        sum(int(g) for g in socket.groups()) if socket else 0
    )
    latency = dict(re.findall(r"^\s+(50|99)%\s+(\S+)$", output, re.MULTILINE))
    return WrkResult(
        requests=int(done.group(1)),
        seconds=seconds,
        per_second=float(rate.group(1)),
        failed=failed,
        p50_ms=_ms(latency["50"]) if "50" in latency else float("nan"),
        p99_ms=_ms(latency["99"]) if "99" in latency else float("nan"),
    )


def wrk(url: str, seconds: float, script: Path | None = None) -> WrkResult:
    binary = shutil.which("wrk")
    if binary is None:
        raise RuntimeError("wrk is not installed (make bench installs it: apt-get install wrk)")
    command = [
        binary,
        f"-t{WRK_THREADS}",
        f"-c{WRK_CONNECTIONS}",
        f"-d{seconds:.0f}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    if script is not None:
        command += ["-s", str(script)]
    result = subprocess.run(
        [*command, url], capture_output=True, text=True, timeout=seconds + 60, check=True
    )
    return parse_wrk(result.stdout)


def reset_request_script(path: Path, emails: Sequence[str], distinct_ips: int = 4096) -> Path:
    """A wrk script posting reset requests for `emails` in turn, each from one of
    `distinct_ips` client addresses (X-Forwarded-For from a trusted loopback proxy): production
    traffic comes from many addresses, and one address would serialise every request on its
    rate-limit lock and make its counting query scan a hit per earlier request."""
    listed = ",\n".join(f'  "{email}"' for email in emails)
    path.write_text(
        f"""local emails = {{
{listed}
}}
local n = 0
request = function()
  n = n + 1
  local email = emails[(n % #emails) + 1]
  local ip = n % {distinct_ips}
  local forwarded = "10.77." .. math.floor(ip / 256) .. "." .. (ip % 256)
  local headers = {{["Content-Type"] = "application/json", ["X-Forwarded-For"] = forwarded}}
  return wrk.format("POST", "/v1/password-resets", headers,
    '{{"email":"' .. email .. '"}}')
end
"""
    )
    return path


@dataclass(frozen=True)
class Sample:
    due: float  # wall-clock time the request was due (time.time())
    answered: float  # wall-clock time the answer arrived
    status: int  # 0 when the request failed without an answer
    payload: object = None  # what `send` chose to keep (an email, say)

    @property
    def latency_ms(self) -> float:
        return (self.answered - self.due) * 1000


async def open_loop(
    rate: float,
    count: int,
    send: Callable[[int], Awaitable[tuple[int, object]]],
) -> list[Sample]:
    """Fire `send(i)` for i < count at `rate` per second on a fixed schedule."""
    samples: list[Sample] = []
    start_wall, start = time.time(), time.perf_counter()

    async def one(i: int, due: float) -> None:
        try:
            status, payload = await send(i)
        except httpx.HTTPError:
            status, payload = 0, None
        samples.append(Sample(due, time.time(), status, payload))

    tasks = []
    for i in range(count):
        offset = i / rate
        delay = start + offset - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one(i, start_wall + offset)))
    await asyncio.gather(*tasks)
    return samples


async def closed_loop(
    workers: int, jobs: Sequence[object], send: Callable[[object], Awaitable[int]]
) -> tuple[float, list[int]]:
    """Run every job through `workers` concurrent senders; (seconds taken, statuses)."""
    queue: asyncio.Queue[object] = asyncio.Queue()
    for job in jobs:
        queue.put_nowait(job)
    statuses: list[int] = []

    async def worker() -> None:
        while not queue.empty():
            statuses.append(await send(queue.get_nowait()))

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    return time.perf_counter() - started, statuses
