"""HTTP client of identity's internal API, authenticated with this service's credential: the
identity port of the use cases (``service_layer/identity.py``), whose errors it raises."""

from uuid import UUID

import httpx
from servicekit.runtime import tracing

from reset_service.service_layer.identity import (
    IdentityUnavailable,
    KnownAccount,
    PasswordRejected,
    SecondFactor,
    TotpInvalid,
)


class IdentityClient:
    def __init__(self, base_url: str, token: str, timeout: float) -> None:
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers={"Authorization": f"Bearer {token}"},
            timeout=timeout,
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _post(self, path: str, body: dict[str, object]) -> httpx.Response:
        try:
            response = await self._http.post(path, json=body, headers=tracing.outgoing_headers())
        except httpx.HTTPError as exc:
            raise IdentityUnavailable(type(exc).__name__) from exc
        if response.status_code >= 500 or response.status_code == 401:
            raise IdentityUnavailable(f"identity answered {response.status_code}")
        return response

    async def lookup(self, email: str) -> KnownAccount | None:
        response = await self._post("/internal/v1/accounts/lookup", {"email": email})
        if response.status_code == 404:
            return None  # an identity from before unknown emails answered 200
        if response.status_code == 422:
            return None  # identity refuses an address it could never have registered
        response.raise_for_status()
        body = response.json()
        if body.get("account_id") is None:
            return None
        return KnownAccount(UUID(body["account_id"]), bool(body["totp_enabled"]), body["email"])

    async def set_password(
        self,
        account_id: UUID,
        password: str,
        second_factor: SecondFactor | None,
        client_ip: str | None,
    ) -> None:
        body: dict[str, object] = {"new_password": password, "client_ip": client_ip}
        if second_factor and second_factor.totp_code:
            body["totp_code"] = second_factor.totp_code
        if second_factor and second_factor.recovery_code:
            body["recovery_code"] = second_factor.recovery_code
        response = await self._post(f"/internal/v1/accounts/{account_id}/password", body)
        if response.status_code == 204:
            return
        error = (
            response.json()
            if response.headers.get("content-type", "").startswith("application/json")
            else {}
        )
        if response.status_code == 422 and error.get("error") == "password_rejected":
            raise PasswordRejected(error.get("reason", "rejected"), error.get("message", ""))
        if response.status_code in (403, 422):
            raise TotpInvalid(throttled=error.get("error") in ("totp_throttled", "account_locked"))
        raise IdentityUnavailable(f"identity answered {response.status_code}")

    async def ping(self) -> None:
        response = await self._http.get("/healthz/live")
        response.raise_for_status()
