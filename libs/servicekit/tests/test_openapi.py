"""OpenAPI documents per port, each error documented with the one error body; 415 for a body in
a media type the route does not take."""

from typing import Annotated, Any

import httpx
import pytest
from fastapi import APIRouter, Depends, FastAPI, Form
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel
from servicekit.testing import undocumented_errors
from servicekit.web.http_errors import ApiError, BodySizeLimit, install_error_handlers
from servicekit.web.internal_auth import INTERNAL_TOKEN, require_bearer
from servicekit.web.internal_port import InternalPortGate
from servicekit.web.media_type import require_declared_media_type
from servicekit.web.openapi import ApiDocument, ErrorBody, error_responses, serve_api_documents

PUBLIC, INTERNAL = 8000, 8001
TOKEN = "internal-token-for-tests"


class Thing(BaseModel):
    name: str


async def internal_caller(
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(INTERNAL_TOKEN)],
) -> None:
    require_bearer(credentials, TOKEN)


def make_app() -> FastAPI:
    app = FastAPI(openapi_url=None, dependencies=[Depends(require_declared_media_type)])
    install_error_handlers(app)
    app.add_middleware(BodySizeLimit, max_bytes=1024)
    app.add_middleware(InternalPortGate, internal_port=INTERNAL)
    public = APIRouter(prefix="/v1")
    internal = APIRouter(prefix="/internal/v1", dependencies=[Depends(internal_caller)])

    @public.post("/things", status_code=201, responses=error_responses(409, 429))
    async def add(body: Thing) -> Thing:
        if body.name == "taken":
            raise ApiError(409, "taken", "that name is taken")
        return body

    @public.post("/form", include_in_schema=False)
    async def form(name: Annotated[str, Form()]) -> dict[str, str]:
        return {"name": name}

    @internal.post("/things/{name}/touch", responses=error_responses(404))
    async def touch(name: str) -> dict[str, str]:
        raise ApiError(404, "not_found", f"no thing {name}")

    app.include_router(public)
    app.include_router(internal)
    serve_api_documents(
        app,
        ApiDocument(title="things", description="public"),
        ApiDocument(title="things (internal)", description="internal", prefix="/internal/"),
    )
    return app


async def call(port: int, method: str, path: str, **kwargs: Any) -> httpx.Response:
    transport = httpx.ASGITransport(app=make_app())
    async with httpx.AsyncClient(transport=transport, base_url=f"http://svc:{port}") as client:
        return await client.request(method, path, **kwargs)


async def test_each_document_lists_its_own_routes_and_is_served_on_its_own_port() -> None:
    public = (await call(PUBLIC, "GET", "/openapi.json")).json()
    internal = (await call(INTERNAL, "GET", "/internal/openapi.json")).json()
    assert list(public["paths"]) == ["/v1/things"]  # not the internal one, not the form
    assert list(internal["paths"]) == ["/internal/v1/things/{name}/touch"]
    assert (await call(PUBLIC, "GET", "/internal/openapi.json")).status_code == 404
    assert (await call(INTERNAL, "GET", "/openapi.json")).status_code == 404
    assert internal["components"]["securitySchemes"]["internalToken"]["scheme"] == "bearer"
    assert "securitySchemes" not in public.get("components", {})


async def test_every_error_is_documented_with_the_error_body_and_retry_after() -> None:
    public = (await call(PUBLIC, "GET", "/openapi.json")).json()
    internal = (await call(INTERNAL, "GET", "/internal/openapi.json")).json()
    assert undocumented_errors(public) == []
    assert undocumented_errors(internal) == []
    things = public["paths"]["/v1/things"]["post"]["responses"]
    # The route's own (409, 429) and what every body route gets (400, 403, 413, 415, 422).
    assert sorted(things) == ["201", "400", "403", "409", "413", "415", "422", "429"]
    assert things["429"]["headers"]["Retry-After"]["required"] is True
    touch = internal["paths"]["/internal/v1/things/{name}/touch"]["post"]["responses"]
    assert sorted(touch) == ["200", "401", "403", "404", "422"]  # no body: no 400, 413, 415


def test_the_checker_sees_an_error_without_the_body() -> None:
    document = {
        "paths": {
            "/x": {
                "post": {
                    "requestBody": {},
                    "responses": {"200": {}, "429": {"description": "slow down"}},
                }
            }
        }
    }
    problems = undocumented_errors(document)
    assert "POST /x: no 415" in problems
    assert "POST /x: 429 without the error body" in problems
    assert "POST /x: 429 without Retry-After" in problems


@pytest.mark.parametrize(
    ("content_type", "status"),
    [
        ("application/json", 201),
        ("application/json; charset=utf-8", 201),
        ("application/merge-patch+json", 201),
        ("text/plain", 415),
        ("application/x-www-form-urlencoded", 415),
        ("multipart/form-data", 415),
    ],
)
async def test_a_json_route_refuses_a_body_in_another_media_type(
    content_type: str, status: int
) -> None:
    answer = await call(
        PUBLIC,
        "POST",
        "/v1/things",
        content=b'{"name": "x"}',
        headers={"content-type": content_type},
    )
    assert answer.status_code == status, answer.text
    if status == 415:
        assert ErrorBody.model_validate(answer.json()).error == "unsupported_media_type"


async def test_a_form_route_takes_its_form_and_refuses_json() -> None:
    form = await call(PUBLIC, "POST", "/v1/form", data={"name": "x"})
    assert form.status_code == 200
    json_body = await call(PUBLIC, "POST", "/v1/form", json={"name": "x"})
    assert json_body.status_code == 415


async def test_no_body_and_no_media_type_is_left_to_validation() -> None:
    answer = await call(PUBLIC, "POST", "/v1/things")
    assert answer.status_code == 422
    assert answer.json()["error"] == "invalid_request"


async def test_a_missing_internal_token_is_the_platforms_401() -> None:
    answer = await call(INTERNAL, "POST", "/internal/v1/things/a/touch")
    assert answer.status_code == 401
    assert answer.headers["www-authenticate"] == "Bearer"
    assert ErrorBody.model_validate(answer.json()).error == "unauthorized"
    wrong = await call(
        INTERNAL, "POST", "/internal/v1/things/a/touch", headers={"Authorization": "Basic x"}
    )
    assert wrong.status_code == 401
    right = await call(
        INTERNAL,
        "POST",
        "/internal/v1/things/a/touch",
        headers={"Authorization": f"Bearer {TOKEN}"},
    )
    assert right.status_code == 404


def test_fastapis_own_document_of_every_route_must_be_off() -> None:
    with pytest.raises(RuntimeError, match="openapi_url=None"):
        serve_api_documents(FastAPI(), ApiDocument(title="t", description="d"))


async def test_a_third_document_takes_its_prefix_out_of_the_public_one() -> None:
    """How an admin API on a port of its own is described: one more ApiDocument."""
    app = FastAPI(openapi_url=None)
    admin = APIRouter(prefix="/admin/v1")

    @app.post("/v1/things", responses=error_responses(409))
    async def add(body: Thing) -> Thing:
        return body

    @admin.get("/things/{name}", responses=error_responses(404))
    async def look(name: str) -> Thing:
        return Thing(name=name)

    app.include_router(admin)
    serve_api_documents(
        app,
        ApiDocument(title="things", description="public"),
        ApiDocument(title="things (admin)", description="admin", prefix="/admin/"),
    )
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://svc") as client:
        public = (await client.get("/openapi.json")).json()
        admin_document = (await client.get("/admin/openapi.json")).json()
    assert list(public["paths"]) == ["/v1/things"]
    assert list(admin_document["paths"]) == ["/admin/v1/things/{name}"]
    assert undocumented_errors(public) == undocumented_errors(admin_document) == []
    # A GET is never refused as cross-origin, and it takes no body.
    assert sorted(admin_document["paths"]["/admin/v1/things/{name}"]["get"]["responses"]) == [
        "200",
        "404",
        "422",
    ]
