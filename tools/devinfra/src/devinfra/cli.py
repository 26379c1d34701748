"""Command line: `python -m devinfra up|fetch-kafka`.

`up` starts PostgreSQL, Kafka and the SMTP capture for `make run`, prints the endpoints,
and writes RUN_DIR/endpoints.env and RUN_DIR/endpoints.json once everything is ready
(a Makefile can wait for that file), then blocks until SIGINT/SIGTERM and stops
everything; the endpoint files are removed on exit.
"""

from __future__ import annotations

import argparse
import json
import os
import shlex
import signal
import sys
import threading
import time
from pathlib import Path

from devinfra.errors import InfraError
from devinfra.kafka_jars import ensure_kafka_jars
from devinfra.providers import start_infrastructure


def _csv(value: str) -> list[str]:
    return [item.strip() for item in value.split(",") if item.strip()]


def _write_atomically(path: Path, text: str) -> None:
    partial = path.with_suffix(path.suffix + ".part")
    partial.write_text(text)
    os.replace(partial, path)


def cmd_up(args: argparse.Namespace) -> int:
    run_dir: Path = args.run_dir.resolve()
    run_dir.mkdir(parents=True, exist_ok=True)
    env_file, json_file = run_dir / "endpoints.env", run_dir / "endpoints.json"
    for stale in (env_file, json_file):
        stale.unlink(missing_ok=True)

    stop = threading.Event()

    # Handlers first: a Ctrl-C during startup still unwinds through the context manager.
    def on_signal(signum: int, _frame: object) -> None:
        stop.set()
        raise KeyboardInterrupt

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    ports = {
        "postgres": args.postgres_port,
        "kafka": args.kafka_port,
        "kafka_controller": args.kafka_controller_port,
        "smtp": args.smtp_port,
    }
    started = time.monotonic()
    try:
        with start_infrastructure(
            run_dir,
            ports={k: v for k, v in ports.items() if v},
            echo_mail=True,
            maildir=run_dir / "mail",
        ) as infra:
            databases = {name: infra.dsn_for(name) for name in _csv(args.databases)}
            if args.topics:
                infra.create_topics(_csv(args.topics), partitions=args.partitions)
            endpoints = {
                **infra.env(),
                "providers": infra.providers,
                "databases": databases,
                "run_dir": str(run_dir),
            }
            env_lines = [f"{key}={shlex.quote(value)}" for key, value in infra.env().items()]
            env_lines += [
                f"PWRESET_DB_{name.upper().replace('-', '_')}={shlex.quote(dsn)}"
                for name, dsn in databases.items()
            ]
            _write_atomically(json_file, json.dumps(endpoints, indent=2) + "\n")
            _write_atomically(env_file, "\n".join(env_lines) + "\n")
            print(json.dumps(endpoints, indent=2), flush=True)
            print(
                f"devinfra: ready in {time.monotonic() - started:.1f}s; "
                f"endpoints in {env_file}; Ctrl-C stops",
                flush=True,
            )
            try:
                while not stop.is_set():
                    stop.wait(1.0)
            except KeyboardInterrupt:
                pass
            # Ignore further signals while stopping so shutdown is not cut short.
            signal.signal(signal.SIGINT, signal.SIG_IGN)
            signal.signal(signal.SIGTERM, signal.SIG_IGN)
            print("devinfra: stopping", flush=True)
    except KeyboardInterrupt:
        print("devinfra: interrupted during startup; stopped", file=sys.stderr, flush=True)
        return 130
    except InfraError as exc:
        print(f"devinfra: {exc}", file=sys.stderr, flush=True)
        return 1
    finally:
        for path in (env_file, json_file):
            path.unlink(missing_ok=True)
    print("devinfra: stopped", flush=True)
    return 0


def cmd_fetch_kafka(_args: argparse.Namespace) -> int:
    started = time.monotonic()
    try:
        libs = ensure_kafka_jars()
    except InfraError as exc:
        print(f"devinfra: {exc}", file=sys.stderr)
        return 1
    print(f"devinfra: Kafka jars ready in {libs} ({time.monotonic() - started:.1f}s)")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m devinfra")
    commands = parser.add_subparsers(dest="command", required=True)

    up = commands.add_parser("up", help="start PostgreSQL, Kafka and SMTP capture; block")
    up.add_argument("--run-dir", type=Path, default=Path(".run/dev"))
    up.add_argument("--postgres-port", type=int, default=0, help="0 = a free port")
    up.add_argument("--kafka-port", type=int, default=0)
    up.add_argument("--kafka-controller-port", type=int, default=0)
    up.add_argument("--smtp-port", type=int, default=0)
    up.add_argument("--databases", default="", help="comma-separated, created if missing")
    up.add_argument("--topics", default="", help="comma-separated, created if missing")
    up.add_argument("--partitions", type=int, default=3)
    up.set_defaults(handler=cmd_up)

    fetch = commands.add_parser("fetch-kafka", help="resolve and cache the Kafka jars only")
    fetch.set_defaults(handler=cmd_fetch_kafka)

    args = parser.parse_args(argv)
    return int(args.handler(args))
