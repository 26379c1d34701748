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

    async def start_reset(self, email: str, locale: str | None = None) -> str:
        """The verification code of the new reset request (its email in ``locale``)."""
        body: dict[str, str] = {"email": email}
        if locale is not None:
            body["locale"] = locale
        response = await self._post(body)
        if response.status_code == 422 and refuses_field(response, "locale"):
            # A reset from before languages (rolling upgrade): the same reset, in English.
            response = await self._post({"email": email})
        if response.status_code != 202:
            raise ResetUnavailable(f"reset answered {response.status_code}")
        return str(response.json()["verification_code"])

    async def _post(self, body: dict[str, str]) -> httpx.Response:
        try:
            return await self._http.post(
                "/internal/v1/password-resets", json=body, headers=tracing.outgoing_headers()
            )
        except httpx.HTTPError as exc:
            raise ResetUnavailable(type(exc).__name__) from exc


def refuses_field(response: httpx.Response, field: str) -> bool:
    """Whether a 422 names ``field`` among the problems (servicekit's invalid_request body)."""
    try:
        details = response.json().get("details") or []
    except ValueError:
        return False
    return any(isinstance(d, dict) and d.get("field") == field for d in details)
