"""Liveness and readiness routes; each service names the dependencies readiness checks.

`checks` fail readiness (503, the failing ones named). `degraded` checks are reported in the body
but keep the service ready: a dependency the service deliberately works without for a while
(reset keeps accepting requests into its outbox while Kafka is away; the notifier pauses while
SMTP is down) must not take the pods out of rotation or make readiness flap.

After SIGTERM readiness is 503 ``shutting_down`` whatever the checks say, while the process still
serves for its drain (servicekit.runtime.shutdown).
"""

import asyncio
from collections.abc import Awaitable, Callable

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from servicekit.runtime.shutdown import draining

Check = Callable[[], Awaitable[object]]


async def _failing(checks: dict[str, Check], seconds: float) -> list[str]:
    async def ok(check: Check) -> bool:
        try:
            await asyncio.wait_for(check(), seconds)
        except Exception:
            return False
        return True

    results = await asyncio.gather(*(ok(check) for check in checks.values()))
    return [name for name, good in zip(checks, results, strict=True) if not good]


def health_router(
    checks: dict[str, Check], timeout: float = 2.0, *, degraded: dict[str, Check] | None = None
) -> APIRouter:
    router = APIRouter(prefix="/healthz", include_in_schema=False)

    @router.get("/live")
    async def live() -> dict[str, str]:
        return {"status": "ok"}

    @router.get("/ready")
    async def ready() -> JSONResponse:
        if draining():  # SIGTERM received: out of rotation while still serving (runtime.shutdown)
            return JSONResponse(
                {"status": "unavailable", "error": "shutting_down", "failing": []},
                status_code=503,
            )
        failing, impaired = await asyncio.gather(
            _failing(checks, timeout), _failing(degraded or {}, timeout)
        )
        extra = {"degraded": impaired} if impaired else {}
        if failing:
            return JSONResponse(
                {
                    "status": "unavailable",
                    "error": "dependency_unavailable",
                    "failing": failing,
                    **extra,
                },
                status_code=503,
            )
        return JSONResponse({"status": "degraded" if impaired else "ok", **extra})

    return router
