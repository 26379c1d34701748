"""The shared error body (servicekit.web.http_errors) as an OpenAPI schema, and the
``responses=`` of a route that lists every error status it answers with it."""

from typing import Any

from pydantic import BaseModel, ConfigDict, Field


class ErrorBody(BaseModel):
    """Every 4xx and 5xx of every service: a stable code, a text for people, sometimes more
    (``details`` of a failed validation, ``retry_after_seconds``, ``reason``)."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="Stable, machine-readable code, e.g. invalid_token.")
    message: str = Field(description="What went wrong, for people; never echoes input.")


_WHAT = {
    400: "Malformed request (the body is not JSON)",
    401: "No credential, or a wrong one",
    403: "The credential may not do this",
    404: "No such resource",
    409: "Conflicts with the resource's current state",
    410: "Gone",
    413: "Request body too large",
    415: "Unsupported media type",
    422: "The request failed validation",
    429: "Too many requests; see Retry-After",
    503: "A dependency is unavailable; see Retry-After",
}
_RETRY_AFTER = {
    "Retry-After": {
        "description": "Seconds to wait before trying again.",
        "schema": {"type": "integer", "minimum": 0},
    }
}


def error_responses(*statuses: int) -> dict[int | str, dict[str, Any]]:
    """For ``responses=`` of a FastAPI route: each status with the shared error body."""
    answers: dict[int | str, dict[str, Any]] = {}
    for status in statuses:
        answer: dict[str, Any] = {"model": ErrorBody, "description": _WHAT.get(status, "Error")}
        if status in (429, 503):
            answer["headers"] = _RETRY_AFTER
        answers[status] = answer
    return answers
