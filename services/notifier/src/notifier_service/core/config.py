"""The one settings object, read from environment variables only."""

from functools import cached_property, lru_cache
from typing import Literal

from pwreset_contracts.sealed import KeyRing
from pydantic import Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_LINK_SEAL_KEYS = "dev:ZGV2LW9ubHktbGluay1zZWFsLWtleS1jaGFuZ2UtbWU"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str = "postgresql://postgres@127.0.0.1:55432/notifier"
    db_pool_max_size: int = Field(default=5, ge=1, le=100)
    kafka_bootstrap_servers: str = "127.0.0.1:59092"
    kafka_consumer_group: str = "notifier"

    smtp_host: str = "127.0.0.1"
    smtp_port: int = Field(default=2525, ge=1, le=65535)
    smtp_security: Literal["none", "starttls", "tls"] = "none"
    smtp_username: str | None = None
    smtp_password: SecretStr | None = None
    # Well under the consumer's max poll interval, so a hung server cannot stall the group.
    smtp_timeout_seconds: float = Field(default=10.0, gt=0, le=60)
    mail_from: str = "Password reset <no-reply@pwreset.local>"

    # Keys opening the sealed reset link (shared with the reset service only).
    link_seal_keys: SecretStr = SecretStr(DEV_LINK_SEAL_KEYS)

    @cached_property
    def link_keys(self) -> dict[str, bytes]:
        return KeyRing.parse(self.link_seal_keys.get_secret_value()).keys

    @model_validator(mode="after")
    def _check(self) -> "Settings":
        self.link_keys  # noqa: B018 - parse now, so bad keys fail at start
        if self.environment == "production":
            if self.link_seal_keys.get_secret_value() == DEV_LINK_SEAL_KEYS:
                raise ValueError("set LINK_SEAL_KEYS: development default refused in production")
            if self.smtp_security == "none":
                raise ValueError("SMTP_SECURITY none is refused in production")
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
