"""Serve an internal API on its own port, so a NetworkPolicy (which sees ports, not paths) can
let only the services that need it reach it.

One app, two listening sockets: requests for the internal prefix are answered only on the
internal port, everything else only on the public port (health on both, for probes; metrics
have a port of their own, servicekit.runtime.metrics).
"""

from starlette.types import ASGIApp, Receive, Scope, Send

from servicekit.web.http_errors import error_response

_BOTH = ("/healthz/",)


class InternalPortGate:
    def __init__(self, app: ASGIApp, internal_port: int | None, prefix: str = "/internal/") -> None:
        self.app = app
        self.internal_port = internal_port
        self.prefix = prefix

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or self.internal_port is None:
            await self.app(scope, receive, send)
            return
        path: str = scope["path"]
        server = scope.get("server") or (None, None)
        on_internal = server[1] == self.internal_port
        wants_internal = path.startswith(self.prefix)
        if path.startswith(_BOTH) or on_internal == wants_internal:
            await self.app(scope, receive, send)
            return
        # Answer as if the route did not exist: the public port does not advertise the API.
        await error_response(404, "not_found", "Not Found")(scope, receive, send)
