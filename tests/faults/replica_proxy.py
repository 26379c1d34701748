"""A Kubernetes Service in miniature, for rolling restarts: a TCP proxy on loopback that sends
each new connection to the next replica (round robin) among those whose readiness probe last
answered 200, probing every `period` seconds the way the kubelet does (HTTP GET, a timeout, a
failure threshold; 2xx/3xx is success). A replica leaves the rotation when its probe fails or
when it is removed (its pod gone); connections already open stay where they are, as with
kube-proxy. Connections that found no ready replica or whose replica refused are counted:
either would be a failed request for a client.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import httpx


@dataclass
class Replica:
    name: str
    port: int  # where connections go
    ready_url: str  # what the probe asks
    ready: bool = False
    failures: int = 0
    connections: int = 0


@dataclass
class ReplicaProxy:
    period: float = 0.5
    timeout: float = 1.0  # the probe's (kubelet: timeoutSeconds)
    failure_threshold: int = 2  # consecutive failures that take a replica out
    replicas: dict[str, Replica] = field(default_factory=dict)
    port: int = 0
    no_replica: int = 0  # connections closed at once: nothing ready
    refused: int = 0  # a ready replica refused the connection
    events: list[tuple[float, str]] = field(default_factory=list)  # (monotonic, what)
    _turn: itertools.count[int] = field(default_factory=itertools.count)
    _server: asyncio.Server | None = None
    _prober: asyncio.Task[None] | None = None
    _changed: asyncio.Event = field(default_factory=asyncio.Event)

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._connection, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        self._prober = asyncio.create_task(self._probe_forever())

    async def close(self) -> None:
        if self._prober is not None:
            self._prober.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._prober
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    def add(self, name: str, port: int, ready_url: str) -> None:
        self.replicas[name] = Replica(name, port, ready_url)
        self._note(f"{name} added")

    def remove(self, name: str) -> None:
        self.replicas.pop(name, None)
        self._note(f"{name} removed")

    async def wait_ready(self, name: str, within: float = 30) -> None:
        await self._until(lambda: self.replicas[name].ready, within)

    async def wait_out_of_rotation(self, name: str, within: float = 30) -> None:
        await self._until(lambda: not self.replicas.get(name, Replica("", 0, "")).ready, within)

    async def _until(self, condition: Callable[[], bool], within: float) -> None:
        async with asyncio.timeout(within):
            while not condition():
                await self._changed.wait()

    def _note(self, what: str) -> None:
        self.events.append((time.monotonic(), what))
        self._changed.set()  # wakes the waiters; the next wait gets a fresh event
        self._changed = asyncio.Event()

    async def _probe_forever(self) -> None:
        async with httpx.AsyncClient(timeout=self.timeout) as http:
            while True:
                await asyncio.gather(*(self._probe(http, r) for r in list(self.replicas.values())))
                await asyncio.sleep(self.period)

    async def _probe(self, http: httpx.AsyncClient, replica: Replica) -> None:
        try:
            ok = 200 <= (await http.get(replica.ready_url)).status_code < 400
        except httpx.HTTPError:
            ok = False
        replica.failures = 0 if ok else replica.failures + 1
        ready = ok or (replica.ready and replica.failures < self.failure_threshold)
        if ready != replica.ready:
            replica.ready = ready
            self._note(f"{replica.name} {'ready' if ready else 'out'}")

    def _pick(self) -> Replica | None:
        ready = [r for r in self.replicas.values() if r.ready]
        return ready[next(self._turn) % len(ready)] if ready else None

    async def _connection(
        self, client_r: asyncio.StreamReader, client_w: asyncio.StreamWriter
    ) -> None:
        replica = self._pick()
        if replica is None:
            self.no_replica += 1
            client_w.close()
            return
        try:
            upstream_r, upstream_w = await asyncio.open_connection("127.0.0.1", replica.port)
        except OSError:
            self.refused += 1
            client_w.close()
            return
        replica.connections += 1
        try:
            await asyncio.gather(_pipe(client_r, upstream_w), _pipe(upstream_r, client_w))
        finally:
            upstream_w.close()
            client_w.close()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    try:
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    except (ConnectionError, OSError):
        pass
    finally:
        with contextlib.suppress(ConnectionError, OSError, RuntimeError):
            if sink.can_write_eof():
                sink.write_eof()
            else:
                sink.close()
