"""The command line every service shares: `serve` and `migrate`."""

import argparse
import os
from collections.abc import Callable
from pathlib import Path

from servicekit.logging import configure_logging


def run(
    *, name: str, app_factory: str, migrations_dir: Path, database_url: Callable[[], str]
) -> None:
    parser = argparse.ArgumentParser(prog=name)
    sub = parser.add_subparsers(dest="command", required=True)
    serve = sub.add_parser("serve", help="run the HTTP server")
    serve.add_argument("--host", default=os.environ.get("HOST", "127.0.0.1"))
    serve.add_argument("--port", type=int, default=int(os.environ.get("PORT", "8000")))
    sub.add_parser("migrate", help="apply database migrations, then exit")
    args = parser.parse_args()

    configure_logging(os.environ.get("LOG_LEVEL", "INFO"))
    if args.command == "migrate":
        from servicekit.migrations import upgrade

        upgrade(migrations_dir, database_url())
        return

    import uvicorn

    uvicorn.run(
        app_factory,
        factory=True,
        host=args.host,
        port=args.port,
        log_config=None,
        access_log=False,
        proxy_headers=False,
    )
