"""The bearer credential one service presents on another's internal API (INTERNAL_API_TOKEN),
checked the same way everywhere: in constant time, 401 without it.

``INTERNAL_TOKEN`` is the FastAPI security dependency that reads it: the internal documents
declare it as their security scheme (``internalToken``), so a client generator knows to send it.
"""

import hmac

from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from servicekit.web.http_errors import ApiError

# auto_error=False: a missing or malformed header gets the platform's 401 body, not FastAPI's.
INTERNAL_TOKEN = HTTPBearer(
    scheme_name="internalToken",
    description="INTERNAL_API_TOKEN, the service credential shared by identity and reset",
    auto_error=False,
)


def unauthorized(message: str) -> ApiError:
    return ApiError(401, "unauthorized", message, headers={"WWW-Authenticate": "Bearer"})


def require_bearer(credentials: HTTPAuthorizationCredentials | None, expected: str) -> None:
    presented = credentials.credentials if credentials else ""
    if not hmac.compare_digest(presented.encode(), expected.encode()):
        raise unauthorized("internal API credential missing or wrong")
