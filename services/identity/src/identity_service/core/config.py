"""The one settings object, read from environment variables only."""

from functools import lru_cache
from typing import Literal

from pydantic import AnyHttpUrl, Field, SecretStr, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

# Development defaults make `make run` work out of the box; production refuses them.
DEV_INTERNAL_TOKEN = "dev-only-internal-token-change-me"  # noqa: S105 - refused in production
DEV_TOTP_KEY = "ZGV2LW9ubHktdG90cC1rZXktY2hhbmdlLW1lLTMyYnk"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str = "postgresql://postgres@127.0.0.1:55432/identity"
    db_pool_max_size: int = Field(default=10, ge=1, le=100)

    # Credential the reset service presents on the internal API.
    internal_api_token: SecretStr = SecretStr(DEV_INTERNAL_TOKEN)
    # AES-256-GCM key (base64url, 32 bytes) encrypting TOTP secrets at rest.
    totp_encryption_key: SecretStr = SecretStr(DEV_TOTP_KEY)
    totp_issuer: str = "pwreset"

    argon2_memory_kib: int = Field(default=19 * 1024, ge=19 * 1024)
    argon2_time_cost: int = Field(default=2, ge=2)
    argon2_parallelism: int = Field(default=1, ge=1)

    password_min_length: int = Field(default=15, ge=8, le=128)
    password_min_length_with_totp: int = Field(default=8, ge=8, le=128)
    password_max_length: int = Field(default=128, ge=64, le=1024)

    # The reset service's public origin: the login page's "Forgot your password?" link.
    reset_public_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8002")
    session_ttl_seconds: int = Field(default=12 * 3600, ge=60)
    max_body_bytes: int = Field(default=16 * 1024, ge=1024)

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> "Settings":
        if self.environment == "production":
            dev_values = {
                "INTERNAL_API_TOKEN": (self.internal_api_token, DEV_INTERNAL_TOKEN),
                "TOTP_ENCRYPTION_KEY": (self.totp_encryption_key, DEV_TOTP_KEY),
            }
            bad = [name for name, (v, dev) in dev_values.items() if v.get_secret_value() == dev]
            if bad:
                raise ValueError(
                    f"set {', '.join(bad)}: development defaults refused in production"
                )
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
