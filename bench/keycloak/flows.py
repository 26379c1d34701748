"""One load generator for both systems: closed loop, 8 workers, each a fresh browser per flow.

A flow is what one person does, as a browser does it: its own cookies (sent over plain http on
loopback whether marked Secure or not, as browsers treat 127.0.0.1 as a secure context; Keycloak
marks its session cookies Secure), an `Origin` on form posts, and one client address of many
(`X-Forwarded-For`: reset trusts loopback as a proxy in the bench and spreads its per-IP
rate-limit locks; Keycloak, started without proxy headers, ignores it). The eight browsers share
one pool of keep-alive connections.

- Forgot password, Keycloak: the login page (an authorization request of the bench client) →
  its "Forgot Password?" link → the form posted with the username. Keycloak sends the email
  inside that request.
- Forgot password, ours: reset's forgot-password page → the form posted with the email. The
  email goes out afterwards (outbox → Kafka → notifier).
- A flow is done when the SMTP sink has accepted its email (MailWatch), and only then does its
  worker start the next one: the loop is closed over the whole flow, email included, for both.
  Its latency runs from its first request to the later of its last answer and that acceptance
  (the sink's own timestamp). Throughput is flows over the time from the first flow's start to
  the last one's end.
- Login: one request with the email and password and a session credential back (identity's
  `POST /v1/login`; Keycloak's token endpoint with the password grant, see docs/benchmarks.md).

CPU per operation is utime+stime from /proc over the same window, per process.
"""

from __future__ import annotations

import asyncio
import contextlib
import html
import http.cookiejar
import itertools
import re
import time
from collections import defaultdict, deque
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any, Protocol

import httpx

from bench.keycloak import config
from bench.load import closed_loop
from bench.smtp_sink import Accepted
from bench.stats import percentile
from bench.system import PASSWORD

WORKERS = 8
EMAIL_WAIT_S = 120.0
_CSRF = re.compile(r'name="csrf_token" value="([^"]+)"')
_FORGOT_LINK = re.compile(r'href="([^"]*/login-actions/reset-credentials\?[^"]*)"')
_FORM_ACTION = re.compile(r'<form[^>]*\saction="([^"]*/login-actions/reset-credentials\?[^"]*)"')
_addresses = itertools.count()


class _Sink(Protocol):
    def read_new(self) -> list[Accepted]: ...


class _NoCookies(http.cookiejar.DefaultCookiePolicy):
    """The shared client keeps no cookies: each browser keeps its own."""

    def set_ok(self, cookie: http.cookiejar.Cookie, request: Any) -> bool:
        return False


class Browser:
    def __init__(self, http: httpx.AsyncClient) -> None:
        self._http = http
        self.cookies: dict[str, str] = {}
        self.address = ""
        self.new_visitor()

    def new_visitor(self) -> None:
        self.cookies.clear()
        n = next(_addresses) % 4096
        self.address = f"10.79.{n // 256}.{n % 256}"

    async def request(
        self, method: str, url: str, *, data: dict[str, str] | None = None, json: Any = None
    ) -> httpx.Response:
        headers = {"X-Forwarded-For": self.address}
        if self.cookies:
            headers["Cookie"] = "; ".join(f"{k}={v}" for k, v in self.cookies.items())
        if method == "POST" and data is not None:
            parts = httpx.URL(url)
            headers["Origin"] = f"{parts.scheme}://{parts.netloc.decode()}"
        answer = await self._http.request(method, url, data=data, json=json, headers=headers)
        for line in answer.headers.get_list("set-cookie"):
            name, _, rest = line.partition("=")
            self.cookies[name.strip()] = rest.split(";", 1)[0]
        return answer


@asynccontextmanager
async def browsers(count: int = WORKERS) -> AsyncIterator[list[Browser]]:
    async with httpx.AsyncClient(
        timeout=60,
        cookies=http.cookiejar.CookieJar(policy=_NoCookies()),
        limits=httpx.Limits(max_connections=count * 2, max_keepalive_connections=count * 2),
    ) as client:
        yield [Browser(client) for _ in range(count)]


def csrf_token(page: str) -> str:
    found = _CSRF.search(page)
    if not found:
        raise ValueError("no csrf_token field on the page")
    return found.group(1)


def forgot_link(login_page: str) -> str:
    """The "Forgot Password?" link of Keycloak's login page (relative, HTML-escaped there)."""
    found = _FORGOT_LINK.search(login_page)
    if not found:
        raise ValueError("no reset-credentials link on the login page")
    return html.unescape(found.group(1))


def reset_form_action(page: str) -> str:
    found = _FORM_ACTION.search(page)
    if not found:
        raise ValueError("no reset-credentials form on the page")
    return html.unescape(found.group(1))


Flow = Callable[[Browser, str], Awaitable[bool]]


def our_forgot_password(reset_url: str) -> Flow:
    async def flow(browser: Browser, email: str) -> bool:
        page = await browser.request("GET", f"{reset_url}/forgot-password")
        if page.status_code != 200:
            return False
        answer = await browser.request(
            "POST",
            f"{reset_url}/forgot-password",
            data={"email": email, "csrf_token": csrf_token(page.text)},
        )
        return answer.status_code == 200

    return flow


def keycloak_forgot_password(keycloak_url: str, realm: str) -> Flow:
    auth = (
        f"{keycloak_url}/realms/{realm}/protocol/openid-connect/auth?client_id={config.CLIENT_ID}"
        f"&redirect_uri={config.REDIRECT_URI}&response_type=code&scope=openid"
    )

    async def flow(browser: Browser, email: str) -> bool:
        login = await browser.request("GET", auth)
        if login.status_code != 200:
            return False
        forgot = await browser.request("GET", keycloak_url + forgot_link(login.text))
        if forgot.status_code != 200:
            return False
        sent = await browser.request(
            "POST", reset_form_action(forgot.text), data={"username": email}
        )
        return sent.status_code == 200

    return flow


def our_login(identity_url: str) -> Flow:
    async def flow(browser: Browser, email: str) -> bool:
        answer = await browser.request(
            "POST", f"{identity_url}/v1/login", json={"email": email, "password": PASSWORD}
        )
        return answer.status_code == 200

    return flow


def keycloak_login(keycloak_url: str, realm: str) -> Flow:
    token = f"{keycloak_url}/realms/{realm}/protocol/openid-connect/token"

    async def flow(browser: Browser, email: str) -> bool:
        answer = await browser.request(
            "POST",
            token,
            data={
                "grant_type": "password",
                "client_id": config.CLIENT_ID,
                "username": email,
                "password": PASSWORD,
            },
        )
        return answer.status_code == 200

    return flow


@dataclass
class Outcome:
    """One measured run: how many, how long, latencies, CPU ms per operation by process."""

    operations: int
    failed: int
    seconds: float
    latencies_ms: list[float]
    cpu_ms: dict[str, float] = field(default_factory=dict)

    @property
    def per_second(self) -> float:
        return self.operations / self.seconds if self.seconds else float("nan")

    @property
    def p50(self) -> float:
        return percentile(self.latencies_ms, 0.5)

    @property
    def p99(self) -> float:
        return percentile(self.latencies_ms, 0.99)

    def cpu_of(self, processes: Iterable[str]) -> float:
        return sum(self.cpu_ms[name] for name in processes)

    def summary(self) -> dict[str, Any]:
        return {
            "operations": self.operations,
            "failed": self.failed,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.per_second, 2),
            "p50_ms": round(self.p50, 2),
            "p99_ms": round(self.p99, 2),
            "cpu_ms_per_operation": {k: round(v, 3) for k, v in self.cpu_ms.items()},
        }


class MailWatch:
    """Tails the SMTP sink's log and resolves, per recipient and in order, the waits of the
    flows that expect an email. A wait is registered before its flow's first request, so an
    email accepted inside the request (Keycloak) is caught as surely as a later one (ours)."""

    def __init__(self, sink: _Sink, poll_seconds: float = 0.001) -> None:
        self._sink = sink
        self._poll = poll_seconds
        self._waiting: dict[str, deque[asyncio.Future[float]]] = defaultdict(deque)
        self._task: asyncio.Task[None] | None = None
        sink.read_new()  # earlier emails are not ours

    def expect(self, recipient: str) -> asyncio.Future[float]:
        """A future resolved with the time the sink accepts `recipient`'s next email."""
        future: asyncio.Future[float] = asyncio.get_running_loop().create_future()
        self._waiting[recipient].append(future)
        return future

    def check(self) -> None:
        for accepted in self._sink.read_new():
            waiting = self._waiting.get(accepted.recipient)
            while waiting:
                future = waiting.popleft()
                if not future.done():  # a failed flow's wait is cancelled: it sent nothing
                    future.set_result(accepted.at)
                    break

    async def _run(self) -> None:
        while True:
            self.check()
            await asyncio.sleep(self._poll)

    async def __aenter__(self) -> MailWatch:
        self._task = asyncio.create_task(self._run())
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self._task is not None
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task


async def drive(
    flow: Flow,
    accounts: Sequence[str],
    count: int,
    *,
    cpu: Callable[[], dict[str, float]],
    sink: _Sink | None = None,
    pipelined: bool = False,
) -> Outcome:
    """`count` flows over `accounts` in turn, WORKERS at a time, closed loop: a worker starts
    its next flow when its last one is done, which with `sink` means when the sink accepted the
    flow's email. `pipelined`: the next flow starts when the last answer came, and the emails
    are awaited at the end (a system that sends after answering can then run ahead of its own
    mail; the run ends with its last email). Accounts must outnumber the workers."""
    results: list[tuple[float, float, asyncio.Future[float] | None]] = []
    failed = 0
    async with browsers() as pool, contextlib.AsyncExitStack() as stack:
        watch = await stack.enter_async_context(MailWatch(sink)) if sink is not None else None
        idle: asyncio.Queue[Browser] = asyncio.Queue()
        for browser in pool:
            idle.put_nowait(browser)

        async def one(account: object) -> int:
            nonlocal failed
            email = str(account)
            browser = await idle.get()
            browser.new_visitor()
            mail = watch.expect(email) if watch is not None else None
            started = time.time()
            try:
                ok = await flow(browser, email)
                answered = time.time()
                if ok and mail is not None and not pipelined:
                    await asyncio.wait_for(asyncio.shield(mail), EMAIL_WAIT_S)
            except (httpx.HTTPError, ValueError, TimeoutError):
                ok = False
            finally:
                idle.put_nowait(browser)
            if ok:
                results.append((started, answered, mail))
            else:
                failed += 1
                if mail is not None:
                    mail.cancel()  # a failed flow sent nothing: the next email is not its
            return 200 if ok else 0

        before = cpu()
        first = time.time()
        await closed_loop(WORKERS, [accounts[i % len(accounts)] for i in range(count)], one)
        mails = [mail for _, _, mail in results if mail is not None]
        if mails:
            await asyncio.wait_for(asyncio.gather(*mails), EMAIL_WAIT_S)
        after = cpu()
    # Each flow ends at its last answer or, later, at its email's acceptance by the sink.
    ends = [
        (started, max(answered, mail.result() if mail is not None else answered))
        for started, answered, mail in results
    ]
    latencies = [(end - started) * 1000 for started, end in ends]
    done = len(ends)
    cpu_ms = {name: (after[name] - before[name]) * 1000 / max(done, 1) for name in before}
    seconds = max((end for _, end in ends), default=first) - first
    return Outcome(done, failed, seconds, latencies, cpu_ms)
