"""The notifier takes no requests but health and metrics: it serves no API document (an empty
one told a reader there was an API, and told a scanner the framework)."""

import httpx
from notifier_service.api.main import create_app
from notifier_service.core.config import Settings


async def test_no_api_document_or_docs_page_is_served() -> None:
    transport = httpx.ASGITransport(app=create_app(Settings()))
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1:8003") as c:
        for path in ("/openapi.json", "/docs", "/redoc"):
            answer = await c.get(path)
            assert answer.status_code == 404, path
            assert answer.json()["error"] == "not_found", path
