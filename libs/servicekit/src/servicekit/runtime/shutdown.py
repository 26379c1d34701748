"""Graceful shutdown the way a rolling Deployment needs it.

On SIGTERM (or the first Ctrl-C) the process does not stop at once:

1. it *drains* for ``drain_seconds``: readiness answers 503 ``shutting_down`` (so whatever
   routes by readiness takes it out of rotation: the Service's endpoints, an ingress, the test
   proxy of tests/faults) while every request that still arrives is served as usual, with
   ``Connection: close`` so that keep-alive clients open their next connection elsewhere;
2. then uvicorn's own shutdown: stop accepting, let in-flight requests finish (at most
   ``grace_seconds``), run the lifespan's exit (workers stop: the outbox relay finishes its
   batch, the notifier commits what it delivered and leaves its group; then the pool closes).

A second signal ends the drain early; another SIGINT after that forces the exit (uvicorn's
rule). The drain state is process-wide: the server sets it, readiness and the middleware read
it (one process serves one app).
"""

from __future__ import annotations

import logging
import signal
import time
from types import FrameType

import uvicorn
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger("servicekit.runtime.shutdown")

_draining_since: float | None = None


def draining() -> bool:
    """True once the process was told to stop (readiness is 503 from then on)."""
    return _draining_since is not None


def begin_draining() -> None:
    global _draining_since
    if _draining_since is None:
        _draining_since = time.monotonic()


def reset_for_tests() -> None:
    global _draining_since
    _draining_since = None


class DrainingServer(uvicorn.Server):
    """uvicorn's server with a drain phase before its shutdown (see the module's docstring)."""

    def __init__(self, config: uvicorn.Config, *, drain_seconds: float) -> None:
        super().__init__(config)
        self.drain_seconds = drain_seconds
        self._drain_until: float | None = None
        self._drain_signal: int | None = None

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        # A signal handler: set flags only (no logging: its lock may be held right here).
        if self._drain_until is None and self.drain_seconds > 0 and not self.should_exit:
            begin_draining()
            self._drain_until = time.monotonic() + self.drain_seconds
            self._drain_signal = sig
            self._captured_signals.append(sig)  # uvicorn re-raises it once stopped
            return
        begin_draining()
        super().handle_exit(sig, frame)

    async def on_tick(self, counter: int) -> bool:
        if self._drain_signal is not None:  # every 0.1 s: the drain starts within that
            log.info(
                "draining before shutdown",
                extra={
                    "fields": {
                        "signal": signal.Signals(self._drain_signal).name,
                        "seconds": self.drain_seconds,
                    }
                },
            )
            self._drain_signal = None
        if self._drain_until is not None and time.monotonic() >= self._drain_until:
            if not self.should_exit:
                log.info("drained; no longer accepting connections")
            self.should_exit = True
        return await super().on_tick(counter)


class CloseConnectionsWhileDraining:
    """While draining, every response says ``Connection: close``: a client holding a keep-alive
    connection (an L4 Service balances connections, not requests) reconnects, and lands on a
    replica that is not going away, instead of meeting the close at shutdown."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or not draining():
            await self.app(scope, receive, send)
            return

        async def closing(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = [
                    (k, v) for k, v in message.get("headers", []) if k.lower() != b"connection"
                ]
                message = {**message, "headers": [*headers, (b"connection", b"close")]}
            await send(message)

        await self.app(scope, receive, closing)
