"""Tracing behind its setting: off by default, and when on, requests become spans."""

from collections.abc import Iterator

import httpx
import pytest
from fastapi import FastAPI
from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from servicekit.runtime import otel


@pytest.fixture(autouse=True)
def _uninstrument_httpx() -> Iterator[None]:
    # setup_tracing instruments httpx process-wide; left on, it would rewrite the traceparent
    # header of every later test's httpx client in this pytest process.
    yield
    HTTPXClientInstrumentor().uninstrument()


def test_off_unless_enabled(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OTEL_ENABLED", raising=False)
    assert not otel.enabled()
    monkeypatch.setenv("OTEL_ENABLED", "true")
    assert otel.enabled()


async def test_requests_become_spans_named_after_the_route() -> None:
    app = FastAPI()

    @app.get("/v1/things/{thing_id}")
    async def thing(thing_id: str) -> dict[str, str]:
        return {"id": thing_id}

    exporter = InMemorySpanExporter()
    provider = otel.setup_tracing(app, "test-service", exporter=exporter)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        response = await client.get("/v1/things/42?token=secret-value")
    provider.force_flush()
    assert response.status_code == 200
    spans = exporter.get_finished_spans()
    server = [s for s in spans if s.kind.name == "SERVER"]
    assert server and server[0].name == "GET /v1/things/{thing_id}"
    assert server[0].resource.attributes["service.name"] == "test-service"


async def test_query_strings_never_reach_span_attributes() -> None:
    app = FastAPI()

    @app.get("/reset-password")
    async def landing() -> dict[str, str]:
        return {}

    exporter = InMemorySpanExporter()
    provider = otel.setup_tracing(app, "test-service", exporter=exporter)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        await client.get("/reset-password?token=secret-value")
    provider.force_flush()
    dumped = " ".join(str(dict(s.attributes or {})) for s in exporter.get_finished_spans())
    assert dumped and "secret-value" not in dumped
