"""HTTP client of identity's internal API, authenticated with this service's credential: the
identity port of the use cases (``service_layer/identity.py``), whose errors it raises.

On servicekit's ``InternalClient``: every reset request makes one call here, and httpx cost
more CPU than the rest of the request together (docs/benchmarks.md)."""

from typing import Any
from uuid import UUID

from servicekit.runtime import tracing
from servicekit.web.internal_client import Answer, InternalCallFailed, InternalClient

from reset_service.service_layer.identity import (
    IdentityUnavailable,
    KnownAccount,
    PasswordRejected,
    SecondFactor,
    TotpInvalid,
    TwoFactorOff,
)


class IdentityClient:
    def __init__(self, base_url: str, token: str, timeout: float) -> None:
        self._http = InternalClient(
            base_url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )

    async def aclose(self) -> None:
        await self._http.aclose()

    async def _post(self, path: str, body: dict[str, object]) -> Answer:
        try:
            answer = await self._http.post_json(path, body, headers=tracing.outgoing_headers())
        except InternalCallFailed as exc:
            raise IdentityUnavailable(str(exc)) from exc
        if answer.status >= 500 or answer.status == 401:
            raise IdentityUnavailable(f"identity answered {answer.status}")
        return answer

    async def lookup(self, email: str) -> KnownAccount | None:
        answer = await self._post("/internal/v1/accounts/lookup", {"email": email})
        if answer.status == 404:
            return None  # an identity from before unknown emails answered 200
        if answer.status == 422:
            return None  # identity refuses an address it could never have registered
        if answer.status != 200:
            raise IdentityUnavailable(f"identity answered {answer.status}")
        body = answer.json()
        if body.get("account_id") is None:
            return None
        return KnownAccount(UUID(body["account_id"]), bool(body["totp_enabled"]), body["email"])

    async def set_password(
        self,
        account_id: UUID,
        password: str,
        second_factor: SecondFactor | None,
        client_ip: str | None,
        language: str | None = None,
    ) -> None:
        body: dict[str, object] = {"new_password": password, "client_ip": client_ip}
        if language is not None:
            body["locale"] = language
        if second_factor and second_factor.totp_code:
            body["totp_code"] = second_factor.totp_code
        if second_factor and second_factor.recovery_code:
            body["recovery_code"] = second_factor.recovery_code
        path = f"/internal/v1/accounts/{account_id}/password"
        answer = await self._post(path, body)
        if answer.status == 422 and _names_field(_error_of(answer), "locale"):
            # An identity from before languages (rolling upgrade): the same change, without it.
            body.pop("locale")
            answer = await self._post(path, body)
        if answer.status == 204:
            return
        error = _error_of(answer)
        if answer.status == 422 and error.get("error") == "password_rejected":
            limit = error.get("limit")
            raise PasswordRejected(
                error.get("reason", "rejected"),
                error.get("message", ""),
                limit if isinstance(limit, int) else None,
            )
        if answer.status == 409 and error.get("error") == "two_factor_off":
            raise TwoFactorOff
        if answer.status in (403, 422):
            raise TotpInvalid(throttled=error.get("error") in ("totp_throttled", "account_locked"))
        raise IdentityUnavailable(f"identity answered {answer.status}")


def _error_of(answer: Answer) -> dict[str, Any]:
    """An error answer's JSON body; empty when it has none (a 204 has no body at all)."""
    if not answer.body or not answer.content_type.startswith("application/json"):
        return {}
    body = answer.json()
    return body if isinstance(body, dict) else {}


def _names_field(error: dict[str, Any], field: str) -> bool:
    """Whether a 422 names ``field`` among its problems (servicekit's invalid_request body)."""
    details = error.get("details")
    if error.get("error") != "invalid_request" or not isinstance(details, list):
        return False
    return any(isinstance(d, dict) and d.get("field") == field for d in details)
