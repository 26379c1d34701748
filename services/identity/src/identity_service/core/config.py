"""The one settings object, read from environment variables only."""

from functools import cached_property, lru_cache
from typing import Literal

from pwreset_contracts.sealed import KeyRing
from pydantic import AnyHttpUrl, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict
from servicekit.kafka_settings import KafkaSettings

# Development defaults make `make run` work out of the box; production refuses them.
DEV_INTERNAL_TOKEN = "dev-only-internal-token-change-me"  # noqa: S105 - refused in production
DEV_TOTP_KEY = "ZGV2LW9ubHktdG90cC1rZXktY2hhbmdlLW1lLTMyYnk"
DEV_RECOVERY_KEY = "ZGV2LW9ubHktcmVjb3ZlcnktY29kZS1rZXktY2hhbmc"
DEV_NOTICE_SEAL_KEYS = "dev:ZGV2LW9ubHktbm90aWNlLXNlYWwta2V5LWNoYW5nZSE"


class Settings(KafkaSettings):  # KAFKA_* variables: servicekit.kafka_settings
    model_config = SettingsConfigDict(extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str = "postgresql://postgres@127.0.0.1:55432/identity"
    db_pool_max_size: int = Field(default=10, ge=1, le=100)

    # Credential the reset service presents on the internal API.
    internal_api_token: SecretStr = SecretStr(DEV_INTERNAL_TOKEN)
    # AES-256-GCM key (base64url, 32 bytes) encrypting TOTP secrets at rest.
    totp_encryption_key: SecretStr = SecretStr(DEV_TOTP_KEY)
    totp_issuer: str = "pwreset"
    # A code is refused unchecked after this many failures within the window (per account).
    totp_max_failures: int = Field(default=5, ge=1, le=100)
    totp_failure_window_seconds: int = Field(default=900, ge=60)
    # HMAC key (base64url, 32 bytes) for stored recovery-code hashes.
    recovery_code_hash_key: SecretStr = SecretStr(DEV_RECOVERY_KEY)
    recovery_code_count: int = Field(default=10, ge=5, le=20)

    outbox_relay_enabled: bool = True
    # Origin of identity's own public pages (the "This wasn't me" link points here).
    public_base_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8001")
    # AES-256-GCM keys sealing the "This wasn't me" link in PasswordChanged (shared with the
    # notifier only); `id:base64url,...`, first is current.
    notice_seal_keys: SecretStr = SecretStr(DEV_NOTICE_SEAL_KEYS)
    undo_link_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=3600)
    # The reset service, for the fresh reset that "This wasn't me" starts.
    reset_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8002")

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
    # The internal API (for the reset service) is served only on this port when it is set, so a
    # NetworkPolicy can admit just the reset pods to it; required in production.
    internal_port: int | None = Field(default=None, ge=1, le=65535)

    @cached_property
    def notice_seal_keyring(self) -> KeyRing:
        return KeyRing.parse(self.notice_seal_keys.get_secret_value())

    @property
    def public_origin(self) -> str:
        return str(self.public_base_url).rstrip("/")

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> "Settings":
        self.notice_seal_keyring  # noqa: B018 - parse now, so bad keys fail at start
        if self.environment == "production" and self.internal_port is None:
            raise ValueError(
                "set INTERNAL_PORT: production serves the internal API on its own port"
            )
        if self.environment == "production":
            dev_values = {
                "INTERNAL_API_TOKEN": (self.internal_api_token, DEV_INTERNAL_TOKEN),
                "TOTP_ENCRYPTION_KEY": (self.totp_encryption_key, DEV_TOTP_KEY),
                "RECOVERY_CODE_HASH_KEY": (self.recovery_code_hash_key, DEV_RECOVERY_KEY),
                "NOTICE_SEAL_KEYS": (self.notice_seal_keys, DEV_NOTICE_SEAL_KEYS),
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
