"""The command line every service shares: `serve` and `migrate`, plus a service's own."""

import argparse
import os
import socket
import sys
from collections.abc import Callable, Mapping
from pathlib import Path

from starlette.types import ASGIApp

from servicekit.runtime.logging import configure_logging


def run(
    *,
    name: str,
    app_factory: str,
    migrations_dir: Path,
    database_url: Callable[[], str],
    commands: Mapping[str, tuple[str, Callable[[list[str]], None]]] | None = None,
) -> None:
    """`commands`: the service's own, name -> (help, what to run with the arguments after
    the name; it parses them itself)."""
    commands = commands or {}
    if len(sys.argv) > 1 and sys.argv[1] in commands:
        configure_logging(os.environ.get("LOG_LEVEL", "WARNING"))
        commands[sys.argv[1]][1](sys.argv[2:])
        return
    parser = argparse.ArgumentParser(prog=name)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    serve.add_argument(
        "--internal-port",
        type=int,
        default=int(os.environ["INTERNAL_PORT"]) if os.environ.get("INTERNAL_PORT") else None,
        help="also listen here for the internal API (see servicekit.web.internal_port)",
    )
    serve.add_argument(
        "--admin-port",
        type=int,
        default=int(os.environ["ADMIN_PORT"]) if os.environ.get("ADMIN_PORT") else None,
        help="also listen here for the admin API, where a service has one",
    )
    serve.add_argument(
        "--metrics-port",
        type=int,
        default=int(os.environ["METRICS_PORT"]) if os.environ.get("METRICS_PORT") else None,
        help="also listen here for /metrics, which no other port serves (runtime.metrics)",
    )
    serve.add_argument(
        "--drain-seconds",
        type=float,
        default=float(os.environ.get("SHUTDOWN_DRAIN_SECONDS", "0")),
        help="after SIGTERM, keep serving this long with readiness 503 (runtime.shutdown)",
    )
    serve.add_argument(
        "--grace-seconds",
        type=float,
        default=float(os.environ.get("SHUTDOWN_GRACE_SECONDS", "20")),
        help="then wait at most this long for in-flight requests before cancelling them",
    )
    sub.add_parser("migrate", help="apply database migrations, then exit")
    for command, (text, _) in commands.items():
        sub.add_parser(command, help=text, add_help=False)
    args = parser.parse_args()

    configure_logging(os.environ.get("LOG_LEVEL", "INFO"))
    if args.command == "migrate":
        from servicekit.runtime.migrations import upgrade

        upgrade(migrations_dir, database_url())
        return

    import uvicorn
    from uvicorn.importer import import_from_string

    from servicekit.runtime.shutdown import CloseConnectionsWhileDraining, DrainingServer

    def app() -> ASGIApp:
        return CloseConnectionsWhileDraining(import_from_string(app_factory)())

    config = uvicorn.Config(
        app,
        factory=True,
        timeout_graceful_shutdown=int(args.grace_seconds),
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )
    sockets = [_listen(args.host, args.port)]
    for extra in (args.internal_port, args.admin_port, args.metrics_port):
        if extra is not None:
            sockets.append(_listen(args.host, extra))
    DrainingServer(config, drain_seconds=args.drain_seconds).run(sockets=sockets)


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock
