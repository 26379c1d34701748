"""Starts a fresh password reset through the reset service's internal API ("This wasn't me"),
with this service's credential, outside the per-IP bucket every client of the public API
shares."""

import httpx
from servicekit.runtime import tracing

from identity_service.service_layer.ports import ResetUnavailable


class ResetClient:
    def __init__(self, base_url: str, token: str, timeout: float = 5.0) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def start_reset(self, email: str) -> str:
        """The verification code of the new reset request."""
        try:
            response = await self._http.post(
                "/internal/v1/password-resets",
                json={"email": email},
                headers=tracing.outgoing_headers(),
            )
        except httpx.HTTPError as exc:
            raise ResetUnavailable(type(exc).__name__) from exc
        if response.status_code != 202:
            raise ResetUnavailable(f"reset answered {response.status_code}")
        return str(response.json()["verification_code"])
