"""The one settings object, read from environment variables only."""

from functools import cached_property, lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pwreset_contracts.sealed import KeyRing
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict
from servicekit.messaging.kafka_settings import KafkaSettings
from servicekit.runtime.production import ProductionChecks
from servicekit.web.branding import BrandingSettings

DEV_LINK_SEAL_KEYS = "dev:ZGV2LW9ubHktbGluay1zZWFsLWtleS1jaGFuZ2UtbWU"
DEV_NOTICE_SEAL_KEYS = "dev:ZGV2LW9ubHktbm90aWNlLXNlYWwta2V5LWNoYW5nZSE"


# KAFKA_* variables: servicekit.messaging.kafka_settings; PRODUCT_NAME, LOGO_URL, PRIMARY_COLOUR,
# SUPPORT_URL, LEGAL_FOOTER, MAIL_FROM_NAME, TEMPLATE_OVERRIDE_DIR: servicekit.web.branding
class Settings(KafkaSettings, BrandingSettings):
    model_config = SettingsConfigDict(extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str = "postgresql://postgres@127.0.0.1:55432/notifier"
    db_pool_max_size: int = Field(default=5, ge=1, le=100)
    kafka_consumer_group: str = "notifier"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=2525, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # Well under the consumer's max poll interval, so a hung server cannot stall the group.
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    # How many emails go out at once, each on an SMTP connection of its own (reused).
    smtp_connections: int = Field(default=4, ge=1, le=32)
    mail_from: str = "Password reset <no-reply@pwreset.local>"
    # The time zone of the dates and times in emails (an IANA name: Europe/Berlin); shown
    # with them, in the email's language.
    email_time_zone: str = "UTC"
    # Longest wait between two tries of an email the SMTP server (or a dependency) refused for
    # now; consumption stays paused meanwhile.
    delivery_retry_max_seconds: float = Field(default=5.0, gt=0, le=300)
    # Settled deliveries are forgotten after this; must exceed the topics' retention plus one
    # segment (identity.password-changed.v1: 7 days + 1-day segments), so no record can come
    # back after its ledger row is gone.
    ledger_retention_seconds: int = Field(default=9 * 86_400, ge=3600)

    # Keys opening the sealed reset link (shared with the reset service only).
    link_seal_keys: SecretStr = SecretStr(DEV_LINK_SEAL_KEYS)

    # Keys opening the sealed "This wasn't me" link (shared with identity only).
    notice_seal_keys: SecretStr = SecretStr(DEV_NOTICE_SEAL_KEYS)
    # /metrics is served on this port only (never on the public one), so a NetworkPolicy can
    # admit just the monitoring namespace to it; unset: no metrics served.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)

    @cached_property
    def time_zone(self) -> ZoneInfo:
        return ZoneInfo(self.email_time_zone)

    @cached_property
    def link_keys(self) -> dict[str, bytes]:
        return KeyRing.parse(self.link_seal_keys.get_secret_value()).keys

    @cached_property
    def notice_keys(self) -> dict[str, bytes]:
        return KeyRing.parse(self.notice_seal_keys.get_secret_value()).keys

    @model_validator(mode="after")
    def _check(self) -> "Settings":
        self.link_keys  # noqa: B018 - parse now, so bad keys fail at start
        try:
            self.time_zone  # noqa: B018 - a zone that does not exist fails at start
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ValueError(f"EMAIL_TIME_ZONE: no time zone {self.email_time_zone!r}") from exc
        self.notice_keys  # noqa: B018
        if self.environment == "production":
            check = ProductionChecks()
            check.keyring("LINK_SEAL_KEYS", self.link_seal_keys, DEV_LINK_SEAL_KEYS)
            check.keyring("NOTICE_SEAL_KEYS", self.notice_seal_keys, DEV_NOTICE_SEAL_KEYS)
            check.require(self.smtp_security != "none", "SMTP_SECURITY must be starttls or tls")
            check.raise_if_any()
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
