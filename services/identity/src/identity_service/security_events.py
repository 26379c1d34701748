"""Security events for operators: one structured log line and one counter increment each.

Only ids and the client IP go out: never an email, password, code, token or secret. Labels never
tell a known email from an unknown one (a throttled login is the same event for both).
"""

import enum
import logging
from uuid import UUID

from prometheus_client import Counter

log = logging.getLogger("identity.security")


class SecurityEvent(enum.Enum):
    LOGIN_THROTTLED = "login_throttled"
    SECOND_FACTOR_WRONG = "second_factor_wrong"
    TOTP_REPLAYED = "totp_replayed"
    ACCOUNT_LOCKED = "account_locked"
    SECOND_FACTOR_ENABLED = "second_factor_enabled"
    SECOND_FACTOR_DISABLED = "second_factor_disabled"
    PASSWORD_CHANGED = "password_changed"  # noqa: S105 - an event name
    SESSIONS_REVOKED = "sessions_revoked"


SECURITY_EVENTS = Counter(
    "identity_security_events_total",
    "Security events by kind (docs/operations.md lists them with the alerts to set)",
    ["event"],
)
for _event in SecurityEvent:  # every series exists from the start, so rate() alerts work at once
    SECURITY_EVENTS.labels(_event.value)


def record(
    event: SecurityEvent,
    *,
    account_id: UUID | None = None,
    client_ip: str | None = None,
    **fields: str | int,
) -> None:
    SECURITY_EVENTS.labels(event.value).inc()
    details: dict[str, object] = {"event": event.value, **fields}
    if account_id is not None:
        details["account_id"] = str(account_id)
    if client_ip is not None:
        details["client_ip"] = client_ip
    log.warning("security event", extra={"fields": details})
