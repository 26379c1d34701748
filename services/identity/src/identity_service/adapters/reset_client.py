"""The reset service's internal API, with this service's credential: a fresh password reset
("This wasn't me"), outside the per-IP bucket every client of the public API shares; and, for
support, an account's open reset requests and cancelling them."""

from datetime import datetime
from uuid import UUID

import httpx
from servicekit.runtime import tracing

from identity_service.domain.support import OpenResetRequest
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

    async def open_requests(self, account_id: UUID) -> list[OpenResetRequest]:
        response = await self._call("GET", f"/internal/v1/accounts/{account_id}/password-resets")
        try:
            return [
                OpenResetRequest(
                    id=UUID(item["id"]),
                    created_at=datetime.fromisoformat(item["created_at"]),
                    expires_at=datetime.fromisoformat(item["expires_at"]),
                    requires_totp=bool(item["requires_totp"]),
                    failed_attempts=int(item["failed_attempts"]),
                )
                for item in response.json()["open"]
            ]
        except (KeyError, TypeError, ValueError) as exc:
            raise ResetUnavailable("reset answered an unexpected body") from exc

    async def cancel_open(self, account_id: UUID) -> int:
        response = await self._call(
            "POST", f"/internal/v1/accounts/{account_id}/password-resets/cancel"
        )
        try:
            return int(response.json()["cancelled"])
        except (KeyError, TypeError, ValueError) as exc:
            raise ResetUnavailable("reset answered an unexpected body") from exc

    async def _call(self, method: str, path: str) -> httpx.Response:
        try:
            response = await self._http.request(method, path, headers=tracing.outgoing_headers())
        except httpx.HTTPError as exc:
            raise ResetUnavailable(type(exc).__name__) from exc
        if response.status_code != 200:
            raise ResetUnavailable(f"reset answered {response.status_code}")
        return response

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
