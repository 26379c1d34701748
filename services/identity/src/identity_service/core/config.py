"""The one settings object, read from environment variables only."""

from functools import cached_property, lru_cache
from ipaddress import IPv4Network, IPv6Network
from typing import Literal

from pwreset_contracts.sealed import KeyRing
from pydantic import AnyHttpUrl, Field, SecretStr, model_validator
from pydantic_settings import SettingsConfigDict
from servicekit.messaging.kafka_settings import KafkaSettings
from servicekit.messaging.outbox.settings import OutboxSettings
from servicekit.runtime.production import ProductionChecks
from servicekit.web.branding import BrandingSettings
from servicekit.web.client_ip import parse_networks

# Development defaults make `make run` work out of the box; production refuses them.
DEV_INTERNAL_TOKEN = "dev-only-internal-token-change-me"  # noqa: S105 - refused in production
DEV_TOTP_KEY = "ZGV2LW9ubHktdG90cC1rZXktY2hhbmdlLW1lLTMyYnk"
DEV_RECOVERY_KEY = "ZGV2LW9ubHktcmVjb3ZlcnktY29kZS1rZXktY2hhbmc"
DEV_NOTICE_SEAL_KEYS = "dev:ZGV2LW9ubHktbm90aWNlLXNlYWwta2V5LWNoYW5nZSE"


# KAFKA_* and OUTBOX_* variables: servicekit.messaging; PRODUCT_NAME, LOGO_URL... and
# TEMPLATE_OVERRIDE_DIR: servicekit.web.branding (all shared with reset)
class Settings(KafkaSettings, OutboxSettings, BrandingSettings):
    model_config = SettingsConfigDict(extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str = "postgresql://postgres@127.0.0.1:55432/identity"
    db_pool_max_size: int = Field(default=10, ge=1, le=100)

    # Credential the reset service presents on the internal API.
    internal_api_token: SecretStr = SecretStr(DEV_INTERNAL_TOKEN)
    # AES-256-GCM key (base64url, 32 bytes) encrypting TOTP secrets at rest.
    totp_encryption_key: SecretStr = SecretStr(DEV_TOTP_KEY)
    totp_issuer: str = "pwreset"
    # A code is refused unchecked after this many failures within the window (per account)...
    totp_max_failures: int = Field(default=5, ge=1, le=100)
    totp_failure_window_seconds: int = Field(default=900, ge=60)
    # ...and after this many in a row (NIST SP 800-63B: at most 100), only a recovery code
    # (or support) gets past the second factor.
    totp_lockout_failures: int = Field(default=100, ge=10, le=100)
    # HMAC key (base64url, 32 bytes) for stored recovery-code hashes.
    recovery_code_hash_key: SecretStr = SecretStr(DEV_RECOVERY_KEY)
    recovery_code_count: int = Field(default=10, ge=5, le=20)

    # Origin of identity's own public pages (the "This wasn't me" link points here).
    public_base_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8001")
    # AES-256-GCM keys sealing the "This wasn't me" link in PasswordChanged (shared with the
    # notifier only); `id:base64url,...`, first is current.
    notice_seal_keys: SecretStr = SecretStr(DEV_NOTICE_SEAL_KEYS)
    undo_link_ttl_seconds: int = Field(default=7 * 24 * 3600, ge=3600)
    # The reset service's internal API (its INTERNAL_PORT), for the fresh reset that "This
    # wasn't me" starts; authenticated with INTERNAL_API_TOKEN.
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

    # Failed-login limits: failures allowed for free per scope, then a delay that doubles from
    # 1 s up to the scope's cap; counts are forgotten after LOGIN_FAILURE_MEMORY_SECONDS quiet.
    # The per-account cap bounds how long attackers elsewhere can hold the owner up.
    login_free_failures_per_account: int = Field(default=10, ge=1)
    login_max_delay_per_account_seconds: int = Field(default=60, ge=1, le=3600)
    login_free_failures_per_account_ip: int = Field(default=5, ge=1)
    login_max_delay_per_account_ip_seconds: int = Field(default=900, ge=1, le=86_400)
    login_free_failures_per_ip: int = Field(default=30, ge=1)
    login_max_delay_per_ip_seconds: int = Field(default=900, ge=1, le=86_400)
    login_failure_memory_seconds: int = Field(default=3600, ge=60)
    # Registration: how long the emailed link works, and requests per client IP before delays
    # (429) start; the address itself gets at most 3 emails before delays (same answer).
    registration_ttl_seconds: int = Field(default=86_400, ge=3600, le=7 * 86_400)
    registration_free_per_ip: int = Field(default=10, ge=1)
    # Logins and registrations waiting for argon2id beyond this many get 503 + Retry-After.
    hash_queue_max: int = Field(default=32, ge=1, le=10_000)
    max_body_bytes: int = Field(default=16 * 1024, ge=1024)
    # The internal API (for the reset service) is served only on this port when it is set, so a
    # NetworkPolicy can admit just the reset pods to it; required in production.
    internal_port: int | None = Field(default=None, ge=1, le=65535)
    # /metrics is served on this port only (never on the public one), so a NetworkPolicy can
    # admit just the monitoring namespace to it; unset: no metrics served.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)
    # Proxies whose X-Forwarded-For (the client IP, for the login limits) and X-Forwarded-Proto /
    # -Host (which origin the browser used) are believed; CIDRs, comma-separated; empty = none.
    trusted_proxies: str = ""

    @cached_property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return parse_networks(self.trusted_proxies)

    @cached_property
    def notice_seal_keyring(self) -> KeyRing:
        return KeyRing.parse(self.notice_seal_keys.get_secret_value())

    @property
    def public_origin(self) -> str:
        return str(self.public_base_url).rstrip("/")

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> "Settings":
        self.notice_seal_keyring  # noqa: B018 - parse now, so bad keys fail at start
        self.trusted_proxy_networks  # noqa: B018
        if self.environment == "production":
            check = ProductionChecks()
            check.require(
                self.internal_port is not None,
                "set INTERNAL_PORT: production serves the internal API on its own port",
            )
            check.token("INTERNAL_API_TOKEN", self.internal_api_token, DEV_INTERNAL_TOKEN)
            check.key("TOTP_ENCRYPTION_KEY", self.totp_encryption_key, DEV_TOTP_KEY)
            check.key("RECOVERY_CODE_HASH_KEY", self.recovery_code_hash_key, DEV_RECOVERY_KEY)
            check.keyring("NOTICE_SEAL_KEYS", self.notice_seal_keys, DEV_NOTICE_SEAL_KEYS)
            check.https("PUBLIC_BASE_URL", self.public_base_url)
            check.https("RESET_PUBLIC_URL", self.reset_public_url)
            check.raise_if_any()
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
