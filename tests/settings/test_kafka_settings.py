"""KAFKA_* settings (servicekit.messaging.kafka_settings): one model read by all three services;
production refuses a connection without TLS."""

import ssl
from pathlib import Path

import pytest
from identity_service.core.config import Settings as IdentitySettings
from notifier_service.core.config import Settings as NotifierSettings
from pydantic import ValidationError
from reset_service.core.config import Settings as ResetSettings
from servicekit.messaging.kafka_settings import KafkaConnection

SASL = {
    "KAFKA_BOOTSTRAP_SERVERS": "broker-1:9093,broker-2:9093",
    "KAFKA_SECURITY_PROTOCOL": "SASL_SSL",
    "KAFKA_SASL_MECHANISM": "SCRAM-SHA-512",
    "KAFKA_SASL_USERNAME": "reset",
    "KAFKA_SASL_PASSWORD": "s3cret",
}
ALL_SETTINGS = [IdentitySettings, ResetSettings, NotifierSettings]


@pytest.mark.parametrize("settings_class", ALL_SETTINGS)
def test_every_service_reads_the_same_kafka_variables(
    settings_class: type, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in SASL.items():
        monkeypatch.setenv(key, value)
    options = settings_class().kafka.client_options()
    assert options["bootstrap_servers"] == "broker-1:9093,broker-2:9093"
    assert options["security_protocol"] == "SASL_SSL"
    assert options["sasl_mechanism"] == "SCRAM-SHA-512"
    assert (options["sasl_plain_username"], options["sasl_plain_password"]) == ("reset", "s3cret")
    assert isinstance(options["ssl_context"], ssl.SSLContext)
    assert options["ssl_context"].verify_mode == ssl.CERT_REQUIRED
    assert options["ssl_context"].check_hostname


@pytest.mark.parametrize("protocol", ["PLAINTEXT", "SASL_PLAINTEXT"])
@pytest.mark.parametrize("settings_class", ALL_SETTINGS)
def test_production_refuses_kafka_without_tls(
    settings_class: type, protocol: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ENVIRONMENT", "production")
    monkeypatch.setenv("KAFKA_SECURITY_PROTOCOL", protocol)
    if protocol.startswith("SASL"):
        for key in ("KAFKA_SASL_MECHANISM", "KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD"):
            monkeypatch.setenv(key, SASL[key])
    with pytest.raises(ValidationError, match=f"KAFKA_SECURITY_PROTOCOL {protocol} is refused"):
        settings_class()


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"security_protocol": "SASL_SSL"}, "needs KAFKA_SASL_MECHANISM"),
        ({"security_protocol": "SASL_SSL", "sasl_mechanism": "PLAIN"}, "needs"),
        ({"sasl_username": "x"}, "is not SASL_"),
        ({"security_protocol": "SSL", "ssl_certfile": "c.pem"}, "go together"),
        ({"ssl_cafile": "ca.pem"}, "has no TLS"),
        ({"security_protocol": "SASL_SSL", "sasl_mechanism": "GSSAPI"}, "SCRAM-SHA-512"),
    ],
)
def test_contradictions_fail_at_start(fields: dict, message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        KafkaConnection(bootstrap_servers="b:9093", **fields)


def test_a_missing_ca_file_fails_when_the_context_is_made(tmp_path: Path) -> None:
    connection = KafkaConnection(
        bootstrap_servers="b:9093", security_protocol="SSL", ssl_cafile=str(tmp_path / "none.pem")
    )
    with pytest.raises(FileNotFoundError):
        connection.client_options()


def test_from_env_reads_the_kafka_variables() -> None:
    connection = KafkaConnection.from_env({**SASL, "KAFKA_SASL_MECHANISM": "SCRAM-SHA-256"})
    assert connection.security_protocol == "SASL_SSL"
    assert connection.sasl_mechanism == "SCRAM-SHA-256"
    assert "s3cret" not in repr(connection)  # the password never shows in logs or errors
