"""415 for a body in a media type the route does not take, before anything reads it.

FastAPI parses a JSON body only when the request says it is JSON; anything else reached the
route's validation as raw bytes and came back as a 422 about the body's *type*, which tells a
client nothing about what to fix. An app-wide dependency (``FastAPI(dependencies=...)``): each
route's own body declares what it takes (JSON for the APIs, a form for the pages).
"""

from fastapi import Request

from servicekit.web.http_errors import ApiError

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
FORMS = frozenset({"application/x-www-form-urlencoded", "multipart/form-data"})


def _accepts(expected: str, sent: str) -> bool:
    if expected in FORMS:
        return sent in FORMS
    if expected == "application/json":
        kind, _, subtype = sent.partition("/")
        return sent == expected or (kind == "application" and subtype.endswith("+json"))
    return sent == expected


async def require_declared_media_type(request: Request) -> None:
    if request.method in SAFE_METHODS:
        return
    body_field = getattr(request.scope.get("route"), "body_field", None)
    if body_field is None:
        return  # the route takes no body
    expected: str = getattr(body_field.field_info, "media_type", "application/json")
    sent = request.headers.get("content-type", "").partition(";")[0].strip().lower()
    if not sent and not await request.body():
        return  # nothing sent: validation says the body is missing (422)
    if not _accepts(expected, sent):
        raise ApiError(415, "unsupported_media_type", f"send the body as {expected}")
