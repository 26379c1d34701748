"""`ENVIRONMENT=production` refuses what a value means, not how it is written: each attack below
passed the old string comparison."""

import base64
import secrets
from typing import Any

import pytest
from identity_service.core import config as identity_config
from notifier_service.core import config as notifier_config
from pydantic import ValidationError
from reset_service.core import config as reset_config


def key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()


KAFKA = {
    "kafka_security_protocol": "SASL_SSL",
    "kafka_sasl_mechanism": "SCRAM-SHA-512",
    "kafka_sasl_username": "svc",
    "kafka_sasl_password": "a long kafka password",
}


def good(service: str) -> dict[str, Any]:
    """Settings each service accepts in production."""
    return (
        KAFKA
        | {
            "identity": {
                "environment": "production",
                "internal_port": 8001,
                "internal_api_token": secrets.token_urlsafe(32),
                "totp_encryption_key": key(),
                "recovery_code_hash_key": key(),
                "notice_seal_keys": f"k1:{key()}",
                "public_base_url": "https://identity.example.com",
                "reset_public_url": "https://reset.example.com",
            },
            "reset": {
                "environment": "production",
                "internal_api_token": secrets.token_urlsafe(32),
                "internal_port": 8001,
                "token_hash_keys": f"k1:{key()}",
                "link_seal_keys": f"k1:{key()}",
                "public_base_url": "https://reset.example.com",
                "identity_public_url": "https://identity.example.com",
            },
            "notifier": {
                "environment": "production",
                "link_seal_keys": f"k1:{key()}",
                "notice_seal_keys": f"k1:{key()}",
                "smtp_security": "starttls",
            },
        }[service]
    )


SETTINGS = {
    "identity": identity_config.Settings,
    "reset": reset_config.Settings,
    "notifier": notifier_config.Settings,
}


def dev_key_bytes(ring: str) -> str:
    return ring.partition(":")[2]


def disguised_keys(ring: str) -> list[str]:
    """The development key ring's key, written differently: another id, padding, spaces, and
    next to a real key (a ring that still accepts it)."""
    raw = dev_key_bytes(ring)
    return [
        f"prod-2026:{raw}",
        f"k1:{raw}=",
        f"k1:{raw} ",
        f"k1:{key()},old:{raw}",
    ]


ATTACKS: list[tuple[str, str, str]] = []
for service, field, ring in (
    ("identity", "notice_seal_keys", identity_config.DEV_NOTICE_SEAL_KEYS),
    ("reset", "token_hash_keys", reset_config.DEV_TOKEN_HASH_KEYS),
    ("reset", "link_seal_keys", reset_config.DEV_LINK_SEAL_KEYS),
    ("notifier", "link_seal_keys", notifier_config.DEV_LINK_SEAL_KEYS),
    ("notifier", "notice_seal_keys", notifier_config.DEV_NOTICE_SEAL_KEYS),
):
    ATTACKS += [(service, field, value) for value in disguised_keys(ring)]
for field, dev in (
    ("totp_encryption_key", identity_config.DEV_TOTP_KEY),
    ("recovery_code_hash_key", identity_config.DEV_RECOVERY_KEY),
):
    ATTACKS += [("identity", field, f"{dev}="), ("identity", field, f" {dev} ")]
for service in ("identity", "reset"):
    ATTACKS += [
        (service, "internal_api_token", ""),
        (service, "internal_api_token", "   "),
        (service, "internal_api_token", "short-token"),
        (service, "internal_api_token", f"{identity_config.DEV_INTERNAL_TOKEN} "),
        (service, "public_base_url", "http://example.com"),
    ]
ATTACKS += [
    ("identity", "reset_public_url", "http://reset.example.com"),
    ("reset", "identity_public_url", "http://identity.example.com"),
    ("notifier", "smtp_security", "none"),
    ("identity", "support_url", "http://support.example.com/lost-device"),
    ("reset", "support_url", "http://support.example.com/lost-device"),
    # The static admin token of `make run`, whatever its value.
    ("identity", "admin_dev_token", secrets.token_urlsafe(32)),
    ("identity", "admin_jwks_url", "http://idp.example.com/realms/staff/certs"),
]
# Branding (servicekit.web.branding): the logo and support link are https in production too.
for service in SETTINGS:
    ATTACKS += [
        (service, "logo_url", "http://cdn.example.com/logo.png"),
        (service, "support_url", "http://help.example.com/"),
    ]


@pytest.mark.parametrize("service", SETTINGS)
def test_well_formed_production_settings_are_accepted(service: str) -> None:
    SETTINGS[service](**good(service))


@pytest.mark.parametrize(("service", "field", "value"), ATTACKS)
def test_a_disguised_development_value_is_refused(service: str, field: str, value: str) -> None:
    with pytest.raises(ValidationError, match="refused in production") as refused:
        SETTINGS[service](**{**good(service), field: value})
    assert field.upper() in str(refused.value)
    # The refusal names the setting, never the value.
    assert not value.strip() or value.strip() not in str(refused.value)
