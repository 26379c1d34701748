"""TLS, SCRAM users and ACLs of the local broker: the least access each service needs.

Made at start-up, nothing downloaded: a CA and a broker certificate for 127.0.0.1 (the
`cryptography` package), one SCRAM user per service plus an `admin` super user (added when the
storage is formatted), and KRaft StandardAuthorizer ACLs with allow.everyone.if.no.acl.found=false
(created through the admin user after start). Passwords are random per run dir and kept in it,
so a restarted broker (fault tests) keeps its users.

The same ACLs, as Strimzi KafkaUser resources, are in deploy/k8s/components/kafka-users.
"""

from __future__ import annotations

import json
import secrets
import ssl
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from devinfra.certificates import make_certificate
from devinfra.topics import (
    DEAD_LETTERS,
    PASSWORD_CHANGED,
    REGISTRATION_REQUESTED,
    RESET_REQUESTED,
    SECOND_FACTOR_CHANGED,
)

ADMIN = "admin"
CONTROLLER = "controller"
SERVICES = ("identity", "reset", "notifier")
MECHANISM = "SCRAM-SHA-512"
NOTIFIER_GROUP = "notifier"

# Kafka's protocol codes (org.apache.kafka.common.acl / resource).
_TOPIC, _GROUP = 2, 3
_LITERAL, _PREFIXED = 3, 4
_READ, _WRITE = 3, 4
_ALLOW = 3


@dataclass(frozen=True)
class Acl:
    principal: str
    resource_type: int
    name: str
    pattern: int
    operation: int

    def describe(self) -> str:
        kind = {_TOPIC: "topic", _GROUP: "group"}[self.resource_type]
        how = {_LITERAL: "", _PREFIXED: " (prefix)"}[self.pattern]
        what = {_READ: "READ", _WRITE: "WRITE"}[self.operation]
        return f"User:{self.principal} {what} {kind} {self.name}{how}"


# What each service may do, and nothing more (docs/operations.md, "Kafka access").
ACLS: tuple[Acl, ...] = (
    Acl("reset", _TOPIC, RESET_REQUESTED, _LITERAL, _WRITE),
    # identity's events all live under identity.* (password-changed, second-factor-changed,
    # registration-requested, ...): one prefix, so a new identity event needs no new ACL.
    Acl("identity", _TOPIC, "identity.", _PREFIXED, _WRITE),
    # The notifier reads the topics of the events it mails (its bootstrap.TOPICS), each by
    # name: not the `identity.` prefix, which also holds the admin audit records and any
    # future identity event it has no business reading.
    *(
        Acl("notifier", _TOPIC, topic, _LITERAL, _READ)
        for topic in (
            RESET_REQUESTED,
            PASSWORD_CHANGED,
            SECOND_FACTOR_CHANGED,
            REGISTRATION_REQUESTED,
        )
    ),
    Acl("notifier", _GROUP, NOTIFIER_GROUP, _LITERAL, _READ),
    Acl("notifier", _TOPIC, DEAD_LETTERS, _LITERAL, _WRITE),
)


@dataclass(frozen=True)
class KafkaSecurity:
    """Where the CA is and who may log in with which password."""

    ca_file: Path
    passwords: dict[str, str]

    def client_options(self, user: str = ADMIN) -> dict[str, Any]:
        """aiokafka keyword arguments (without bootstrap_servers) for `user`."""
        return {
            "security_protocol": "SASL_SSL",
            "ssl_context": ssl.create_default_context(cafile=str(self.ca_file)),
            "sasl_mechanism": MECHANISM,
            "sasl_plain_username": user,
            "sasl_plain_password": self.passwords[user],
        }

    def service_env(self, user: str) -> dict[str, str]:
        """The KAFKA_* variables a service reads (servicekit.messaging.kafka_settings)."""
        return {
            "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
            "KAFKA_SSL_CAFILE": str(self.ca_file),
            "KAFKA_SASL_MECHANISM": MECHANISM,
            "KAFKA_SASL_USERNAME": user,
            "KAFKA_SASL_PASSWORD": self.passwords[user],
        }


def load(directory: Path) -> KafkaSecurity:
    """The CA and users of a broker `prepare`d in `directory` (e.g. by `devinfra up`)."""
    passwords = json.loads((directory / "users.json").read_text())
    return KafkaSecurity(ca_file=directory / "ca.pem", passwords=passwords)


def prepare(directory: Path) -> KafkaSecurity:
    """Certificates and passwords in `directory` (made once, then reused)."""
    directory.mkdir(parents=True, exist_ok=True)
    directory.chmod(0o700)
    secrets_file = directory / "users.json"
    if secrets_file.is_file():
        passwords = json.loads(secrets_file.read_text())
    else:
        passwords = {u: secrets.token_urlsafe(24) for u in (ADMIN, CONTROLLER, *SERVICES)}
        secrets_file.write_text(json.dumps(passwords))
        secrets_file.chmod(0o600)
    if not (directory / "broker.pem").is_file():
        _make_certificates(directory)
    return KafkaSecurity(ca_file=directory / "ca.pem", passwords=passwords)


def _make_certificates(directory: Path) -> None:
    made = make_certificate(directory, ("127.0.0.1", "localhost"), days=30, client_auth=True)
    # Kafka's PEM key store: the PKCS#8 key, then the certificate chain.
    broker = directory / "broker.pem"
    broker.write_bytes(made.key.read_bytes() + made.cert.read_bytes())
    broker.chmod(0o600)


def broker_settings(security: KafkaSecurity, directory: Path) -> dict[str, str]:
    """server.properties entries for SASL_SSL clients, a PLAIN controller and the ACLs."""
    admin = security.passwords[ADMIN]
    controller = security.passwords[CONTROLLER]
    return {
        "listener.security.protocol.map": "SASL_SSL:SASL_SSL,CONTROLLER:SASL_PLAINTEXT",
        "inter.broker.listener.name": "SASL_SSL",
        "sasl.enabled.mechanisms": "SCRAM-SHA-512,SCRAM-SHA-256",
        "sasl.mechanism.inter.broker.protocol": MECHANISM,
        # One login module per enabled mechanism; the broker's own (inter-broker) login uses
        # the admin user.
        **{
            f"listener.name.sasl_ssl.{mechanism.lower()}.sasl.jaas.config": (
                "org.apache.kafka.common.security.scram.ScramLoginModule required "
                f'username="{ADMIN}" password="{admin}";'
            )
            for mechanism in ("SCRAM-SHA-512", "SCRAM-SHA-256")
        },
        # The KRaft controller cannot use SCRAM (its users live in the metadata it serves):
        # PLAIN on loopback, one user, a super user.
        "sasl.mechanism.controller.protocol": "PLAIN",
        "listener.name.controller.sasl.enabled.mechanisms": "PLAIN",
        "listener.name.controller.plain.sasl.jaas.config": (
            "org.apache.kafka.common.security.plain.PlainLoginModule required "
            f'username="{CONTROLLER}" password="{controller}" '
            f'user_{CONTROLLER}="{controller}";'
        ),
        "ssl.keystore.type": "PEM",
        "ssl.keystore.location": str(directory / "broker.pem"),
        "ssl.truststore.type": "PEM",
        "ssl.truststore.location": str(security.ca_file),
        "authorizer.class.name": "org.apache.kafka.metadata.authorizer.StandardAuthorizer",
        "allow.everyone.if.no.acl.found": "false",
        "super.users": f"User:{ADMIN};User:{CONTROLLER}",
    }


def scram_format_arguments(security: KafkaSecurity) -> list[str]:
    """`kafka-storage format --add-scram ...` for every user but the controller."""
    arguments: list[str] = []
    for user, password in security.passwords.items():
        if user == CONTROLLER:
            continue
        for mechanism in ("SCRAM-SHA-512", "SCRAM-SHA-256"):
            arguments += ["--add-scram", f"{mechanism}=[name={user},password={password}]"]
    return arguments


async def create_acls_async(bootstrap: str, security: KafkaSecurity) -> None:
    """Create ACLS (Kafka ignores an ACL that exists already)."""
    from aiokafka.admin import AIOKafkaAdminClient
    from aiokafka.protocol.admin import CreateAclsRequest

    admin = AIOKafkaAdminClient(
        bootstrap_servers=bootstrap, request_timeout_ms=15000, **security.client_options()
    )
    await admin.start()
    try:
        for acl in ACLS:
            request = CreateAclsRequest(
                acl.resource_type,
                acl.name,
                acl.pattern,
                f"User:{acl.principal}",
                "*",
                acl.operation,
                _ALLOW,
            )
            response = await admin._send_request(request)
            for result in response.creation_responses:
                if result[0] != 0:
                    raise RuntimeError(f"creating ACL {acl.describe()} failed: {result}")
    finally:
        await admin.close()
