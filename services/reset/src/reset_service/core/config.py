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
DEV_TOKEN_HASH_KEYS = "dev:ZGV2LW9ubHktdG9rZW4taGFzaC1rZXktY2hhbmdlISE"  # noqa: S105
DEV_LINK_SEAL_KEYS = "dev:ZGV2LW9ubHktbGluay1zZWFsLWtleS1jaGFuZ2UtbWU"
MAX_TTL_SECONDS = 24 * 3600


# KAFKA_* and OUTBOX_* variables: servicekit.messaging; PRODUCT_NAME, LOGO_URL... and
# TEMPLATE_OVERRIDE_DIR: servicekit.web.branding (all shared with identity)
class Settings(KafkaSettings, OutboxSettings, BrandingSettings):
    model_config = SettingsConfigDict(extra="ignore")

    environment: Literal["development", "production"] = "development"
    database_url: str = "postgresql://postgres@127.0.0.1:55432/reset"
    db_pool_max_size: int = Field(default=10, ge=1, le=100)

    identity_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8001")
    internal_api_token: SecretStr = SecretStr(DEV_INTERNAL_TOKEN)
    identity_timeout_seconds: float = Field(default=5.0, gt=0, le=30)

    # Origin of the links we email; never taken from Host or X-Forwarded-* headers.
    public_base_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8002")
    # Where a person logs in once the password is changed (identity's public origin).
    identity_public_url: AnyHttpUrl = AnyHttpUrl("http://127.0.0.1:8001")
    reset_ttl_seconds: int = Field(default=1800, ge=60, le=MAX_TTL_SECONDS)
    max_code_attempts: int = Field(default=5, ge=1, le=20)
    # HMAC-SHA256 keys for stored token and code hashes; first is current.
    token_hash_keys: SecretStr = SecretStr(DEV_TOKEN_HASH_KEYS)
    # AES-256-GCM keys sealing the link in ResetRequested; shared with the notifier only.
    link_seal_keys: SecretStr = SecretStr(DEV_LINK_SEAL_KEYS)

    # Per sliding window: reset emails per account (further requests look the same, stay valid
    # and wait for the account's next email, coalesced: it carries the newest link and accepts
    # their codes) and requests per client IP (over it is a 429 with Retry-After).
    rate_limit_account_max: int = Field(default=3, ge=1)
    rate_limit_ip_max: int = Field(default=20, ge=1)
    rate_limit_window_seconds: int = Field(default=900, ge=1)
    # Link tokens that match nothing, per client IP per window, before a 429.
    rate_limit_link_misses_max: int = Field(default=10, ge=1)
    # How often waiting (coalesced) emails are checked for room in their account's window.
    deferred_email_poll_seconds: float = Field(default=5.0, gt=0, le=300)
    # Proxies whose X-Forwarded-For (client IP) and X-Forwarded-Proto / -Host (the origin the
    # browser used) are believed (CIDRs, comma-separated); empty = none.
    trusted_proxies: str = ""

    max_body_bytes: int = Field(default=16 * 1024, ge=1024)
    # The internal API (for identity's "This wasn't me") is served only on this port when it is
    # set, so a NetworkPolicy can admit just the identity pods to it; required in production.
    internal_port: int | None = Field(default=None, ge=1, le=65535)
    # /metrics is served on this port only (never on the public one), so a NetworkPolicy can
    # admit just the monitoring namespace to it; unset: no metrics served.
    metrics_port: int | None = Field(default=None, ge=1, le=65535)

    @cached_property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return parse_networks(self.trusted_proxies)

    @cached_property
    def token_hash_keyring(self) -> KeyRing:
        return KeyRing.parse(self.token_hash_keys.get_secret_value())

    @cached_property
    def link_seal_keyring(self) -> KeyRing:
        return KeyRing.parse(self.link_seal_keys.get_secret_value())

    @property
    def public_origin(self) -> str:
        return str(self.public_base_url).rstrip("/")

    @model_validator(mode="after")
    def _check_keys_and_production(self) -> "Settings":
        self.token_hash_keyring  # noqa: B018 - parse now, so bad keys fail at start
        self.link_seal_keyring  # noqa: B018
        self.trusted_proxy_networks  # noqa: B018
        if self.environment == "production":
            check = ProductionChecks()
            check.token("INTERNAL_API_TOKEN", self.internal_api_token, DEV_INTERNAL_TOKEN)
            check.keyring("TOKEN_HASH_KEYS", self.token_hash_keys, DEV_TOKEN_HASH_KEYS)
            check.keyring("LINK_SEAL_KEYS", self.link_seal_keys, DEV_LINK_SEAL_KEYS)
            check.https("PUBLIC_BASE_URL", self.public_base_url)
            check.https("IDENTITY_PUBLIC_URL", self.identity_public_url)
            check.require(
                self.internal_port is not None,
                "set INTERNAL_PORT: production serves the internal API on its own port",
            )
            check.raise_if_any()
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
