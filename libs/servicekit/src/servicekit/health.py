"""Liveness and readiness routes; each service names the dependencies readiness checks."""

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse

Check = Callable[[], Awaitable[object]]


def health_router(checks: dict[str, Check], timeout: float = 2.0) -> APIRouter:
    router = APIRouter(prefix="/healthz", include_in_schema=False)

    @router.get("/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/ready")
    async def ready() -> JSONResponse:
        failing = []
        for name, check in checks.items():
            try:
                await asyncio.wait_for(check(), timeout)
            except Exception:
                failing.append(name)
        if failing:
            return JSONResponse(
                {"status": "unavailable", "error": "dependency_unavailable", "failing": failing},
                status_code=503,
            )
        return JSONResponse({"status": "ok"})

    return router
