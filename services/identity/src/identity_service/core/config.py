"""The one settings object, read from environment variables only."""

from functools import cached_property, lru_cache
from ipaddress import IPv4Network, IPv6Network
from typing import Literal

from pwreset_contracts.sealed import KeyRing
from pydantic import AnyHttpUrl, Field, SecretStr, field_validator, model_validator
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
# JWS algorithms the admin API may accept: signatures with a public key only.
ASYMMETRIC_JWT_ALGORITHMS = frozenset(
    {"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}
)


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

    # The admin API (support staff, docs/operations.md "Admin API") is served only on this port,
    # which no Ingress routes to and a NetworkPolicy opens to the support tools alone; unset:
    # no admin API at all.
    admin_port: int | None = Field(default=None, ge=1, le=65535)
    # Callers present a JWT from the company's identity provider: its keys (JWKS), the issuer
    # (`iss`) and audience (`aud`) it must name, and the claim holding its roles (a dotted path
    # reaches into objects, e.g. realm_access.roles); `support` or `admin` grant access.
    admin_jwks_url: AnyHttpUrl | None = None
    admin_jwt_issuer: str | None = None
    admin_jwt_audience: str | None = None
    admin_role_claim: str = Field(default="roles", min_length=1, max_length=200)
    # Asymmetric signatures only: a symmetric (HS*) or unsigned (none) token is refused, and so
    # is a setting that would allow one.
    admin_jwt_algorithms: str = "RS256,PS256,ES256,EdDSA"
    # Keys are kept this long; a token naming an unknown key id refetches them, at most once
    # per ADMIN_JWKS_MIN_REFETCH_SECONDS, so forged key ids cannot make us hammer the provider.
    admin_jwks_cache_seconds: int = Field(default=600, ge=30, le=86_400)
    admin_jwks_min_refetch_seconds: int = Field(default=30, ge=1, le=3600)
    admin_jwt_leeway_seconds: int = Field(default=30, ge=0, le=300)
    # `make run` only: this static bearer token is accepted as subject `dev-admin` with role
    # admin. Refused in production.
    admin_dev_token: SecretStr | None = None

    @cached_property
    def trusted_proxy_networks(self) -> tuple[IPv4Network | IPv6Network, ...]:
        return parse_networks(self.trusted_proxies)

    @cached_property
    def notice_seal_keyring(self) -> KeyRing:
        return KeyRing.parse(self.notice_seal_keys.get_secret_value())

    @field_validator("admin_dev_token", mode="before")
    @classmethod
    def _blank_is_unset(cls, value: object) -> object:
        if isinstance(value, str) and not value.strip():
            return None
        if isinstance(value, str) and len(value.strip()) < 16:
            raise ValueError("ADMIN_DEV_TOKEN: at least 16 characters")
        return value

    @cached_property
    def admin_algorithms(self) -> tuple[str, ...]:
        names = tuple(a.strip() for a in self.admin_jwt_algorithms.split(",") if a.strip())
        refused = [name for name in names if name not in ASYMMETRIC_JWT_ALGORITHMS]
        if refused or not names:
            raise ValueError(
                f"ADMIN_JWT_ALGORITHMS: only {sorted(ASYMMETRIC_JWT_ALGORITHMS)} (refused: "
                f"{refused or 'an empty list'})"
            )
        return names

    @property
    def admin_jwt_configured(self) -> bool:
        return None not in (self.admin_jwks_url, self.admin_jwt_issuer, self.admin_jwt_audience)

    def _check_admin_api(self) -> None:
        self.admin_algorithms  # noqa: B018 - a symmetric algorithm refuses to start
        if self.admin_port is None:
            return
        if self.admin_port in (self.internal_port, self.metrics_port):
            raise ValueError("ADMIN_PORT must differ from INTERNAL_PORT and METRICS_PORT")
        partly = any(
            v is not None
            for v in (self.admin_jwks_url, self.admin_jwt_issuer, self.admin_jwt_audience)
        )
        if partly and not self.admin_jwt_configured:
            raise ValueError("ADMIN_JWKS_URL, ADMIN_JWT_ISSUER and ADMIN_JWT_AUDIENCE go together")
        if not self.admin_jwt_configured and self.admin_dev_token is None:
            raise ValueError(
                "ADMIN_PORT needs ADMIN_JWKS_URL, ADMIN_JWT_ISSUER and ADMIN_JWT_AUDIENCE "
                "(or, in development, ADMIN_DEV_TOKEN)"
            )

    @property
    def public_origin(self) -> str:
        return str(self.public_base_url).rstrip("/")

    @model_validator(mode="after")
    def _refuse_dev_secrets_in_production(self) -> "Settings":
        self.notice_seal_keyring  # noqa: B018 - parse now, so bad keys fail at start
        self.trusted_proxy_networks  # noqa: B018
        self._check_admin_api()
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
            check.dev_only("ADMIN_DEV_TOKEN", self.admin_dev_token)
            if self.admin_jwks_url is not None:
                check.https("ADMIN_JWKS_URL", self.admin_jwks_url)
            check.raise_if_any()
        return self


@lru_cache
def get_settings() -> Settings:
    return Settings()
