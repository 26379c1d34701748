"""What the bench asks of Keycloak: its start options, the realm, the users (pure data).

Two configurations are measured. `default`: Keycloak as shipped (argon2id at its own defaults,
7 MiB, 5 iterations, parallelism 1). `equal`: the argon2 hash provider configured to identity's
argon2id parameters (its Settings defaults). Keycloak's memory cost is a server-wide provider
option, not part of a realm's password policy, so `equal` is a second start of the server with
the provider's options set, and a realm of its own whose users are hashed at those parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

CLIENT_ID = "bench"
# Never fetched: Keycloak only checks that the authorization request names a registered URI.
REDIRECT_URI = "http://127.0.0.1/bench-callback"
SENDER = "no-reply@keycloak.bench"
FIRST_NAME, LAST_NAME = "Bench", "User"  # Keycloak's user profile requires both by default


@dataclass(frozen=True)
class Argon2:
    memory_kib: int
    iterations: int
    parallelism: int

    def provider_options(self) -> list[str]:
        """Start options of Keycloak's argon2 password-hash provider (type id is its default)."""
        spi = "--spi-password-hashing--argon2--"
        return [
            f"{spi}memory={self.memory_kib}",
            f"{spi}iterations={self.iterations}",
            f"{spi}parallelism={self.parallelism}",
        ]


# Keycloak 26's built-in defaults (Argon2Parameters): what `default` should store.
KEYCLOAK_DEFAULT_ARGON2 = Argon2(memory_kib=7168, iterations=5, parallelism=1)


def jdbc_url(dsn: str) -> str:
    """postgresql://user@host:port/db -> jdbc:postgresql://host:port/db (user passed apart)."""
    parts = urlsplit(dsn)
    return f"jdbc:postgresql://{parts.hostname}:{parts.port or 5432}{parts.path}"


def start_options(
    *, http_port: int, management_port: int, dsn: str, extra: list[str] | None = None
) -> list[str]:
    """`kc.sh start --optimized` options: plain http on loopback, the hostname the load
    generator uses, the bench's PostgreSQL (a database of its own, trust authentication on
    loopback, so the password is a placeholder), health on the management port."""
    user = urlsplit(dsn).username or "postgres"
    return [
        "start",
        "--optimized",
        "--http-enabled=true",
        "--http-host=127.0.0.1",
        f"--http-port={http_port}",
        f"--hostname=http://127.0.0.1:{http_port}",
        f"--http-management-port={management_port}",
        f"--db-url={jdbc_url(dsn)}",
        f"--db-username={user}",
        "--db-password=unused-trust-auth",
        *(extra or []),
    ]


def user(username: str, email: str, password: str) -> dict[str, Any]:
    """A user that can log in and reset at once: verified email, the profile's required names,
    no required action (a direct grant refuses an account that is "not fully set up")."""
    return {
        "username": username,
        "email": email,
        "firstName": FIRST_NAME,
        "lastName": LAST_NAME,
        "enabled": True,
        "emailVerified": True,
        "requiredActions": [],
        "credentials": [{"type": "password", "value": password, "temporary": False}],
    }


def realm(
    name: str, *, smtp_host: str, smtp_port: int, users: list[dict[str, Any]]
) -> dict[str, Any]:
    """A realm with "Forgot password?" on, sending through the bench's SMTP sink, argon2 as its
    hash algorithm (Keycloak 26's default, named so the realm says it), no brute-force detection
    (the platform's per-account limits are lifted in the bench too), and one public client with
    both the browser flow (login page) and the direct grant (token endpoint) enabled."""
    return {
        "realm": name,
        "enabled": True,
        "resetPasswordAllowed": True,
        "loginWithEmailAllowed": True,
        "registrationAllowed": False,
        "bruteForceProtected": False,
        "eventsEnabled": False,
        "passwordPolicy": "hashAlgorithm(argon2)",
        "smtpServer": {
            "host": smtp_host,
            "port": str(smtp_port),
            "from": SENDER,
            "fromDisplayName": "Keycloak bench",
            "auth": "false",
            "ssl": "false",
            "starttls": "false",
        },
        "clients": [
            {
                "clientId": CLIENT_ID,
                "enabled": True,
                "publicClient": True,
                "standardFlowEnabled": True,
                "directAccessGrantsEnabled": True,
                "redirectUris": [REDIRECT_URI],
            }
        ],
        "users": users,
    }


def stored_argon2(credential_data: dict[str, Any]) -> Argon2 | None:
    """The parameters a stored password was hashed with (the admin API's credentialData)."""
    if credential_data.get("algorithm") != "argon2":
        return None
    extra = credential_data.get("additionalParameters", {})
    return Argon2(
        memory_kib=int(extra["memory"][0]),
        iterations=int(credential_data["hashIterations"]),
        parallelism=int(extra["parallelism"][0]),
    )
