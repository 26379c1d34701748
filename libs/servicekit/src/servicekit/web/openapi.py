"""OpenAPI documents that say what the APIs really answer, one per port.

Other teams generate clients from these documents, so each operation lists every status it can
answer, each error with the one error body (``ErrorBody``) and ``Retry-After`` where it is sent.
Two sources, each declared once:

- what the route and its use cases refuse: the route's ``responses=error_responses(...)``;
- what every route gets from the framework and the middleware, added here to each operation by
  its shape: a body (400 malformed JSON, 413 over ``MAX_BODY_BYTES``, 415 not JSON, 422 failed
  validation), a security scheme (401), an unsafe method (403 from another site's page,
  ``servicekit.web.security_headers``).

Routes are split by path prefix into documents of their own (``ApiDocument``): the internal API
(and an admin one) is described at ``<prefix>openapi.json``, which the port gate serves only on
that API's port, and never in the public document.
"""

from collections.abc import Callable, Collection, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from pydantic import BaseModel, ConfigDict, Field
from pydantic.json_schema import SkipJsonSchema

REF = "#/components/schemas/"
UNSAFE_METHODS = frozenset({"post", "put", "patch", "delete"})


class FieldProblem(BaseModel):
    field: str = Field(description="the field's path in the body, dotted; never its value")
    problem: str


class ErrorBody(BaseModel):
    """The body of every 4xx and 5xx answer of the platform's JSON APIs."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="stable, machine-readable code: what clients branch on")
    message: str = Field(description="for people; the wording may change")
    # The fields some errors add; absent otherwise (never null).
    details: list[FieldProblem] | SkipJsonSchema[None] = Field(
        default=None, description="invalid_request: which fields failed validation, and why"
    )
    retry_after_seconds: int | SkipJsonSchema[None] = Field(
        default=None, description="rate limits: the Retry-After header's value, in the body too"
    )
    attempts_left: int | SkipJsonSchema[None] = Field(
        default=None, description="a wrong code: how many more may be tried"
    )
    reason: str | SkipJsonSchema[None] = Field(
        default=None, description="password_rejected: which rule, e.g. too_short"
    )


# What each status means wherever it is answered; a route adds its own error codes to it.
MEANING = {
    400: "the request cannot be acted on as sent",
    401: "not authenticated",
    403: "refused",
    404: "no such resource",
    409: "conflicts with the current state",
    410: "the link or token is used, expired or unknown",
    413: "body_too_large: the body is over MAX_BODY_BYTES",
    415: "unsupported_media_type: the body is not in the media type the operation takes",
    422: "the body is well-formed but refused",
    429: "too many requests; wait for Retry-After seconds",
    503: "a dependency is unavailable or the service is busy; retry after Retry-After seconds",
}
RETRY_AFTER = {
    "description": "seconds to wait before trying again",
    "schema": {"type": "integer", "minimum": 0},
}


def _error_response(
    status: int, description: str | None, retry_after: bool | None
) -> dict[str, Any]:
    text = MEANING.get(status, "error")
    response: dict[str, Any] = {"description": f"{text}. {description}" if description else text}
    if retry_after is not None:
        response["headers"] = {"Retry-After": {**RETRY_AFTER, "required": retry_after}}
    return response


def error_responses(
    *statuses: int,
    describe: Mapping[int, str] | None = None,
    retry_after: Collection[int] | None = None,
) -> dict[int | str, dict[str, Any]]:
    """A route's ``responses=``: the error statuses its use cases answer, each with ErrorBody.

    ``describe``: per status, which error codes it carries and when. ``retry_after``: the
    statuses whose every answer carries Retry-After (default: 429 and 503); a 429 or 503 not
    listed documents the header as sometimes sent.
    """
    always = {429, 503} if retry_after is None else set(retry_after)
    described = describe or {}
    return {
        status: {
            "model": ErrorBody,
            **_error_response(
                status,
                described.get(status),
                (status in always) if status in (429, 503) else None,
            ),
        }
        for status in statuses
    }


def _framework_errors(
    route: RouteContext, operation: dict[str, Any], method: str
) -> dict[int, str]:
    """The statuses every route of this shape gets from FastAPI and servicekit's middleware."""
    added: dict[int, str] = {}
    if route.body_field is not None:
        added[400] = "malformed_json: the body is not valid JSON"
        added[413] = ""
        added[415] = ""
        added[422] = "invalid_request: the body failed validation (details lists the fields)"
    elif route.dependant.path_params or route.dependant.query_params:
        added[422] = "invalid_request: a parameter failed validation (details lists them)"
    if operation.get("security"):
        added[401] = "unauthorized"
    if method in UNSAFE_METHODS:
        added[403] = "cross_origin: sent from another site's page (Origin, Sec-Fetch-Site)"
    return added


def _merge(declared: dict[str, Any] | None, status: int, text: str) -> dict[str, Any]:
    if declared is None:
        return _error_response(status, text or None, None)
    if text and text not in declared.get("description", ""):
        declared["description"] = f"{declared['description']}; or {text}"
    return declared


def _complete(document: dict[str, Any], routes: Sequence[RouteContext]) -> dict[str, Any]:
    by_key = {(r.path_format, m.lower()): r for r in routes for m in r.methods or ()}
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for name in ("HTTPValidationError", "ValidationError"):
        schemas.pop(name, None)
    for name, schema in _error_schemas().items():
        schemas.setdefault(name, schema)
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            route = by_key[(path, method)]
            responses: dict[str, Any] = operation.setdefault("responses", {})
            for status, text in _framework_errors(route, operation, method).items():
                key = str(status)
                if status == 422 and "HTTPValidationError" in str(responses.get(key)):
                    responses.pop(key)  # FastAPI's own shape; ours is ErrorBody
                responses[key] = _merge(responses.get(key), status, text)
            for key, response in responses.items():
                if key.isdigit() and int(key) >= 400:
                    response["content"] = {
                        "application/json": {"schema": {"$ref": f"{REF}ErrorBody"}}
                    }
            operation["responses"] = dict(sorted(responses.items()))
    return document


def _error_schemas() -> dict[str, Any]:
    schema = ErrorBody.model_json_schema(ref_template=REF + "{model}")
    definitions: dict[str, Any] = schema.pop("$defs", {})
    return {"ErrorBody": schema, **definitions}


@dataclass(frozen=True)
class ApiDocument:
    """One OpenAPI document of a service: the routes under ``prefix`` (``None``: every route
    no other document claims, i.e. the public API), served at ``<prefix or />openapi.json``."""

    title: str
    description: str
    prefix: str | None = None

    @property
    def url(self) -> str:
        return f"{self.prefix or '/'}openapi.json"


def api_document(
    app: FastAPI, document: ApiDocument, others: Sequence[ApiDocument]
) -> dict[str, Any]:
    claimed = [d.prefix for d in others if d.prefix and d is not document]
    belongs: Callable[[str], bool] = (
        (lambda path: path.startswith(document.prefix or ""))
        if document.prefix
        else (lambda path: not any(path.startswith(p) for p in claimed))
    )
    # Routes of included routers come as contexts (prefix, dependencies applied), as FastAPI's
    # own document sees them.
    routes = [
        r
        for r in iter_route_contexts(app.routes)
        if isinstance(r.original_route, APIRoute) and r.include_in_schema and belongs(r.path or "")
    ]
    generated = get_openapi(
        title=document.title,
        version=app.version,
        description=document.description,
        routes=routes,
    )
    return _complete(generated, routes)


def serve_api_documents(app: FastAPI, *documents: ApiDocument) -> None:
    """Serve each document at its URL (built once, at the first request); FastAPI's own
    ``/openapi.json`` of every route must be off (``openapi_url=None``)."""
    if app.openapi_url is not None:
        raise RuntimeError("create the app with openapi_url=None: it would list every route")
    for document in documents:
        _serve(app, document, documents)


def _serve(app: FastAPI, document: ApiDocument, documents: Sequence[ApiDocument]) -> None:
    built: dict[str, Any] = {}

    async def openapi(_: Request) -> JSONResponse:
        if not built:
            built.update(api_document(app, document, documents))
        return JSONResponse(built)

    app.add_api_route(document.url, openapi, methods=["GET"], include_in_schema=False)
