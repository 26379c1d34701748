"""For the services' tests: a fresh, migrated database on the test PostgreSQL (integration
tests); what an API document leaves out about its errors (unit tests)."""

import uuid
from pathlib import Path
from typing import Any, Protocol

from servicekit.runtime.migrations import upgrade


class TestDatabases(Protocol):
    """What of devinfra's ``infra`` fixture this needs (servicekit does not import devinfra)."""

    def dsn_for(self, dbname: str) -> str: ...


def migrated_database(infra: TestDatabases, service: str, migrations_dir: Path) -> str:
    """Create ``<service>_it_<random>`` on the test server, migrate it, return its DSN."""
    dsn = infra.dsn_for(f"{service}_it_{uuid.uuid4().hex[:8]}")
    upgrade(migrations_dir, dsn)
    return dsn


def undocumented_errors(document: dict[str, Any]) -> list[str]:
    """What an OpenAPI document of ours fails to say about errors (``servicekit.web.openapi``):
    one line per problem, none when every error answer is documented with the error body."""
    problems = []
    schemes = document.get("components", {}).get("securitySchemes", {})
    if "HTTPValidationError" in str(document):
        problems.append("FastAPI's HTTPValidationError instead of ErrorBody")
    for path, operations in document.get("paths", {}).items():
        for method, operation in operations.items():
            where = f"{method.upper()} {path}"
            responses: dict[str, Any] = operation.get("responses", {})
            expected = set()
            if "requestBody" in operation:
                expected |= {"400", "413", "415", "422"}
            if operation.get("security"):
                expected.add("401")
                for requirement in operation["security"]:
                    problems += [
                        f"{where}: undeclared scheme {s}" for s in requirement if s not in schemes
                    ]
            if method in ("post", "put", "patch", "delete"):
                expected.add("403")
            problems += [f"{where}: no {status}" for status in sorted(expected - set(responses))]
            for status, response in responses.items():
                if not status.isdigit() or int(status) < 400:
                    continue
                schema = response.get("content", {}).get("application/json", {}).get("schema")
                if schema != {"$ref": "#/components/schemas/ErrorBody"}:
                    problems.append(f"{where}: {status} without the error body")
                if status in ("429", "503") and "Retry-After" not in response.get("headers", {}):
                    problems.append(f"{where}: {status} without Retry-After")
    return problems
