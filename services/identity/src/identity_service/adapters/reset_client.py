"""Starts a fresh password reset through the reset service's public API ("This wasn't me")."""

import httpx
from servicekit import tracing


class ResetUnavailable(Exception):
    pass


class ResetClient:
    def __init__(self, base_url: str, timeout: float = 5.0) -> None:
        self._http = httpx.AsyncClient(base_url=base_url, timeout=timeout)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def start_reset(self, email: str) -> str:
        """The verification code of the new reset request."""
        try:
            response = await self._http.post(
                "/v1/password-resets", json={"email": email}, headers=tracing.outgoing_headers()
            )
        except httpx.HTTPError as exc:
            raise ResetUnavailable(type(exc).__name__) from exc
        if response.status_code != 202:
            raise ResetUnavailable(f"reset answered {response.status_code}")
        return str(response.json()["verification_code"])
