"""`identity-service admin ...`: the admin API from a terminal, for operators without a UI.

    export IDENTITY_ADMIN_URL=http://identity-admin.pwreset:8201
    export IDENTITY_ADMIN_TOKEN=$(get-a-token-from-the-idp)   # or --token-file PATH
    identity-service admin lookup person@example.com --reason "SUP-4711"
    identity-service admin state ACCOUNT_ID
    identity-service admin remove-2fa ACCOUNT_ID --reason "lost phone, checked by video call"
    identity-service admin sign-out ACCOUNT_ID --reason "..."
    identity-service admin cancel-resets ACCOUNT_ID --reason "..."
    identity-service admin audit [--account ACCOUNT_ID] [--before N] [--limit N]

The token is read from the environment or a file, never from the command line, where other
users of the machine could see it in the process list. Answers are printed as JSON; an error
answer goes to stderr and the exit status is 1 (2 for a usage error or no answer at all).
"""

import argparse
import json
import os
import sys
from pathlib import Path
from typing import Any

import httpx

URL_ENV = "IDENTITY_ADMIN_URL"
TOKEN_ENV = "IDENTITY_ADMIN_TOKEN"  # noqa: S105 - the variable's name


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="identity-service admin",
        description="Support actions through identity's admin API (ADMIN_PORT).",
        allow_abbrev=False,  # `--token x` must not pass for `--token-file x`
    )
    parser.add_argument(
        "--url", default=os.environ.get(URL_ENV), help=f"the admin API's base URL (${URL_ENV})"
    )
    parser.add_argument(
        "--token-file", type=Path, help=f"a file holding the bearer token (else ${TOKEN_ENV})"
    )
    parser.add_argument("--timeout", type=float, default=10.0)
    sub = parser.add_subparsers(dest="action", required=True)

    lookup = sub.add_parser("lookup", help="the account id of an email address")
    lookup.add_argument("email")
    lookup.add_argument("--reason")
    state = sub.add_parser("state", help="an account's security state")
    state.add_argument("account_id")
    state.add_argument("--reason")
    for name, text in (
        ("remove-2fa", "remove two-factor authentication (and sign out everywhere)"),
        ("sign-out", "end every session of the account"),
        ("cancel-resets", "cancel the account's open password-reset requests"),
    ):
        change = sub.add_parser(name, help=text)
        change.add_argument("account_id")
        change.add_argument("--reason", required=True, help="why; the audit log keeps it")
    audit = sub.add_parser("audit", help="the audit log, newest first (admins only)")
    audit.add_argument("--account", dest="account_id")
    audit.add_argument("--before", type=int)
    audit.add_argument("--limit", type=int, default=50)
    return parser


def _request(args: argparse.Namespace) -> tuple[str, str, dict[str, Any] | None, dict[str, Any]]:
    """Method, path, JSON body and query of the call ``args`` asks for."""
    account = f"/admin/v1/accounts/{args.__dict__.get('account_id')}"
    reason = {"reason": args.reason} if getattr(args, "reason", None) else {}
    match args.action:
        case "lookup":
            return "POST", "/admin/v1/accounts/lookup", {"email": args.email, **reason}, {}
        case "state":
            return "GET", f"{account}/security", None, reason
        case "remove-2fa":
            return "POST", f"{account}/two-factor/remove", reason, {}
        case "sign-out":
            return "POST", f"{account}/sign-out-everywhere", reason, {}
        case "cancel-resets":
            return "POST", f"{account}/password-resets/cancel", reason, {}
        case _:
            query = {"limit": args.limit}
            if args.account_id:
                query["account_id"] = args.account_id
            if args.before:
                query["before"] = args.before
            return "GET", "/admin/v1/audit", None, query


def _token(args: argparse.Namespace) -> str | None:
    if args.token_file is not None:
        return args.token_file.read_text().strip() or None
    return os.environ.get(TOKEN_ENV, "").strip() or None


def main(argv: list[str], transport: httpx.BaseTransport | None = None) -> int:
    parser = _parser()
    args = parser.parse_args(argv)
    token = _token(args)
    if not args.url or not token:
        parser.error(f"set {URL_ENV} (or --url) and {TOKEN_ENV} (or --token-file)")
    method, path, body, query = _request(args)
    try:
        with httpx.Client(
            base_url=args.url.rstrip("/"),
            timeout=args.timeout,
            transport=transport,
            headers={"Authorization": f"Bearer {token}"},
        ) as client:
            response = client.request(method, path, json=body, params=query)
    except httpx.HTTPError as exc:
        print(f"no answer from {args.url}: {type(exc).__name__}", file=sys.stderr)
        return 2
    try:
        shown = json.dumps(response.json(), indent=2, sort_keys=True)
    except ValueError:
        shown = response.text
    if response.is_success:
        print(shown)
        return 0
    print(f"{response.status_code}: {shown}", file=sys.stderr)
    return 1


def run(argv: list[str]) -> None:
    """The `admin` command of identity-service (servicekit.runtime.cli)."""
    sys.exit(main(argv))
