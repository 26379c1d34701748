"""`make run`: the whole platform on this machine, until Ctrl-C.

Starts PostgreSQL, Kafka and the SMTP capture (or uses the endpoints the environment names),
migrates and starts the three services, creates a demo account, prints how to walk the flow,
and stops everything it started on Ctrl-C or SIGTERM.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from pathlib import Path

from devinfra.paths import default_run_dir
from devinfra.platform import SERVICES, TOPICS, Endpoints, Platform
from devinfra.providers import start_infrastructure

DEMO_EMAIL = "demo@example.com"
DEMO_PASSWORD = "demo password that is long enough"  # noqa: S105 - a published demo credential
# identity's admin API for `make run`: the static development token (production refuses it)
# instead of a company identity provider.
ADMIN_PORT = 8201
DEV_ADMIN_TOKEN = "dev-only-admin-token-for-make-run"  # noqa: S105 - refused in production


def _instructions(platform: Platform, run_dir: Path, maildir: Path, demo: str) -> str:
    reset, identity = platform.url("reset"), platform.url("identity")
    return f"""
The password-reset platform is running.
  identity  {identity}   (OpenAPI: {identity}/openapi.json)
  reset     {reset}   (OpenAPI: {reset}/openapi.json)
  notifier  {platform.url("notifier")}   (health: /healthz/ready)
  metrics   {platform.metrics_url("identity")}, {platform.metrics_url("reset")},
            {platform.metrics_url("notifier")} (never on the public ports)
  admin API http://127.0.0.1:{ADMIN_PORT}/admin/v1 (support staff; OpenAPI: /admin/openapi.json)
            token for `make run` only: {DEV_ADMIN_TOKEN}
            IDENTITY_ADMIN_URL=http://127.0.0.1:{ADMIN_PORT} \\
            IDENTITY_ADMIN_TOKEN={DEV_ADMIN_TOKEN} uv run identity-service admin lookup {DEMO_EMAIL}
  demo account ({demo}): {DEMO_EMAIL} / {DEMO_PASSWORD}
  emails are printed below and kept as .eml files in {maildir}
  service logs: {run_dir / "logs"}

Walk the flow in a browser: open {identity}/login, then "Forgot your password?"
(or go straight to {reset}/forgot-password). Or with curl:
  1. curl -s -X POST {reset}/v1/password-resets -H 'content-type: application/json' \\
       -d '{{"email": "{DEMO_EMAIL}"}}'
     -> note the verification_code; the "Reset your password" email's link appears below.
  2. open the link in a browser (Set new password), or confirm with the token from the link:
     curl -s -X POST {reset}/v1/password-resets/confirm -H 'content-type: application/json' \\
       -d '{{"token": "<token from the link>", "verification_code": "<code>", \\
             "new_password": "my brand new long password"}}'
  3. curl -s -X POST {identity}/v1/login -H 'content-type: application/json' \\
       -d '{{"email": "{DEMO_EMAIL}", "password": "my brand new long password"}}'

Press Ctrl-C to stop everything.
"""


def main() -> int:
    parser = argparse.ArgumentParser(prog="make run")
    parser.add_argument("--run-dir", type=Path, default=default_run_dir() / "dev")
    parser.add_argument("--identity-port", type=int, default=8001)
    parser.add_argument("--reset-port", type=int, default=8002)
    parser.add_argument("--notifier-port", type=int, default=8003)
    args = parser.parse_args()

    stop = threading.Event()

    def on_signal(_signum: int, _frame: object) -> None:
        if stop.is_set():
            return
        stop.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    run_dir = args.run_dir.resolve()
    maildir = run_dir / "mail"
    ports = {"postgres": 55432, "kafka": 59092, "kafka_controller": 59093, "smtp": 2525}
    try:
        with start_infrastructure(run_dir, ports=ports, echo_mail=True, maildir=maildir) as infra:
            infra.create_topics(list(TOPICS))
            platform = Platform(
                Endpoints(
                    database_url={name: infra.dsn_for(name) for name in SERVICES},
                    kafka_bootstrap=infra.kafka_bootstrap,
                    # SMTP settings in the environment point at a real server: use it.
                    smtp_host=os.environ.get("SMTP_HOST", infra.smtp_host),
                    smtp_port=int(os.environ.get("SMTP_PORT", infra.smtp_port)),
                    kafka_env={name: infra.kafka_env(name) for name in SERVICES},
                ),
                run_dir,
                ports={
                    "identity": args.identity_port,
                    "reset": args.reset_port,
                    "notifier": args.notifier_port,
                    "identity-metrics": 9101,
                    "reset-metrics": 9102,
                    "notifier-metrics": 9103,
                },
                test_defaults=False,
                extra_env={
                    "identity": {"ADMIN_PORT": str(ADMIN_PORT), "ADMIN_DEV_TOKEN": DEV_ADMIN_TOKEN}
                },
            )
            try:
                platform.migrate()
                platform.start()
                platform.seed_accounts([(DEMO_EMAIL, DEMO_PASSWORD)])
                demo = "ready"
                print(_instructions(platform, run_dir, maildir, demo), flush=True)
                stop.wait()
            finally:
                print("stopping services...", file=sys.stderr, flush=True)
                platform.stop()
    except KeyboardInterrupt:
        pass
    print("stopped.", file=sys.stderr, flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
