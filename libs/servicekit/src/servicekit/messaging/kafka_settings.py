"""How every service reaches and authenticates to Kafka: one settings model for all clients.

The services' ``Settings`` inherit ``KafkaSettings`` (environment variables ``KAFKA_*``), and
every client they make (the outbox relay's producer, the notifier's consumer and dead-letter
producer) gets ``settings.kafka.client_options()``. The topic script and the test tools read
the same variables (``KafkaConnection.from_env``).

A managed cluster (Strimzi, MSK, Confluent, Aiven) asks for ``SASL_SSL``: the CA that signed
the brokers' certificates, a SCRAM (or PLAIN) user and password, and sometimes a client
certificate. ``ENVIRONMENT=production`` refuses a connection without TLS.
"""

import os
import ssl
from functools import cached_property
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, SecretStr, model_validator
from pydantic_settings import BaseSettings

SecurityProtocol = Literal["PLAINTEXT", "SSL", "SASL_PLAINTEXT", "SASL_SSL"]
SaslMechanism = Literal["SCRAM-SHA-512", "SCRAM-SHA-256", "PLAIN"]
WITHOUT_TLS = ("PLAINTEXT", "SASL_PLAINTEXT")


class KafkaConnection(BaseModel):
    """Bootstrap servers, TLS and SASL of one Kafka client."""

    model_config = ConfigDict(frozen=True)

    bootstrap_servers: str
    security_protocol: SecurityProtocol = "PLAINTEXT"
    ssl_cafile: str | None = None  # PEM; None: the system's trusted CAs
    ssl_certfile: str | None = None  # client certificate (PEM), for brokers that ask for one
    ssl_keyfile: str | None = None
    sasl_mechanism: SaslMechanism | None = None
    sasl_username: str | None = None
    sasl_password: SecretStr | None = None

    @model_validator(mode="after")
    def _complete(self) -> "KafkaConnection":
        if self.security_protocol.startswith("SASL_"):
            if not (self.sasl_mechanism and self.sasl_username and self.sasl_password):
                raise ValueError(
                    f"KAFKA_SECURITY_PROTOCOL {self.security_protocol} needs "
                    "KAFKA_SASL_MECHANISM, KAFKA_SASL_USERNAME and KAFKA_SASL_PASSWORD"
                )
        elif self.sasl_mechanism or self.sasl_username or self.sasl_password:
            raise ValueError("KAFKA_SASL_* is set but KAFKA_SECURITY_PROTOCOL is not SASL_*")
        if bool(self.ssl_certfile) != bool(self.ssl_keyfile):
            raise ValueError("KAFKA_SSL_CERTFILE and KAFKA_SSL_KEYFILE go together")
        if self.security_protocol in WITHOUT_TLS and (
            self.ssl_cafile or self.ssl_certfile or self.ssl_keyfile
        ):
            raise ValueError("KAFKA_SSL_* is set but KAFKA_SECURITY_PROTOCOL has no TLS")
        return self

    @property
    def uses_tls(self) -> bool:
        return self.security_protocol not in WITHOUT_TLS

    @cached_property
    def ssl_context(self) -> ssl.SSLContext | None:
        """One context for all clients (files are read once, at start)."""
        if not self.uses_tls:
            return None
        # Verifies the broker's certificate and host name (the default of create_default_context).
        context = ssl.create_default_context(cafile=self.ssl_cafile)
        if self.ssl_certfile and self.ssl_keyfile:
            context.load_cert_chain(self.ssl_certfile, self.ssl_keyfile)
        return context

    def client_options(self) -> dict[str, Any]:
        """Keyword arguments of aiokafka's producer, consumer and admin client, bootstrap
        servers included."""
        return {"bootstrap_servers": self.bootstrap_servers, **self.security_options()}

    def security_options(self) -> dict[str, Any]:
        """The same without ``bootstrap_servers`` (for clients given those separately)."""
        options: dict[str, Any] = {"security_protocol": self.security_protocol}
        if self.ssl_context is not None:
            options["ssl_context"] = self.ssl_context
        if self.sasl_mechanism:
            options["sasl_mechanism"] = self.sasl_mechanism
            options["sasl_plain_username"] = self.sasl_username
            options["sasl_plain_password"] = (
                self.sasl_password.get_secret_value() if self.sasl_password else None
            )
        return options

    @classmethod
    def from_env(cls, environ: dict[str, str] | None = None) -> "KafkaConnection":
        """From the ``KAFKA_*`` variables, for tools that have no Settings object."""
        env = os.environ if environ is None else environ
        return KafkaSettings.model_validate(
            {k.lower(): v for k, v in env.items() if k.startswith("KAFKA_")}
        ).kafka


class KafkaSettings(BaseSettings):
    """The ``KAFKA_*`` variables; the services' Settings inherit them."""

    kafka_bootstrap_servers: str = "127.0.0.1:59092"
    kafka_security_protocol: SecurityProtocol = "PLAINTEXT"
    kafka_ssl_cafile: str | None = None
    kafka_ssl_certfile: str | None = None
    kafka_ssl_keyfile: str | None = None
    kafka_sasl_mechanism: SaslMechanism | None = None
    kafka_sasl_username: str | None = None
    kafka_sasl_password: SecretStr | None = None

    @cached_property
    def kafka(self) -> KafkaConnection:
        return KafkaConnection(
            bootstrap_servers=self.kafka_bootstrap_servers,
            security_protocol=self.kafka_security_protocol,
            ssl_cafile=self.kafka_ssl_cafile,
            ssl_certfile=self.kafka_ssl_certfile,
            ssl_keyfile=self.kafka_ssl_keyfile,
            sasl_mechanism=self.kafka_sasl_mechanism,
            sasl_username=self.kafka_sasl_username,
            sasl_password=self.kafka_sasl_password,
        )

    @model_validator(mode="after")
    def _check_kafka(self) -> "KafkaSettings":
        connection = self.kafka  # a contradiction in KAFKA_* fails at start
        if getattr(self, "environment", None) == "production" and not connection.uses_tls:
            raise ValueError(
                f"KAFKA_SECURITY_PROTOCOL {connection.security_protocol} is refused in "
                "production: use SASL_SSL (or SSL)"
            )
        return self
