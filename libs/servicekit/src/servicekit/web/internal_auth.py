"""The bearer credential one service presents on another's internal API (INTERNAL_API_TOKEN),
checked the same way everywhere: in constant time, 401 without it."""

import hmac

from servicekit.web.http_errors import ApiError


def bearer(authorization: str | None) -> str | None:
    scheme, _, value = (authorization or "").partition(" ")
    return value.strip() if scheme.lower() == "bearer" and value.strip() else None


def require_bearer(authorization: str | None, expected: str) -> None:
    presented = bearer(authorization) or ""
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise ApiError(
            401,
            "unauthorized",
            "internal API credential missing or wrong",
            headers={"WWW-Authenticate": "Bearer"},
        )
