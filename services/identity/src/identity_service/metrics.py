"""Identity's own Prometheus metrics (HTTP metrics come from servicekit)."""

from prometheus_client import Counter

LOGINS = Counter(
    "identity_logins_total",
    "Logins by outcome (success, invalid_credentials, totp_required, totp_invalid, totp_throttled)",
    ["outcome"],
)
PASSWORD_CHANGES = Counter("identity_password_changes_total", "Passwords set through a reset")
