"""The reset service's own Prometheus metrics (HTTP metrics come from servicekit).

No label may tell known from unknown emails (a request for either is "accepted"); /metrics is
served on METRICS_PORT only, never on the public port.
"""

from prometheus_client import Counter

RESET_REQUESTS = Counter(
    "reset_requests_total",
    "Reset requests by outcome: accepted (known or unknown email alike), ip_limited (429)",
    ["outcome"],
)
RESET_CONFIRMATIONS = Counter(
    "reset_confirmations_total",
    "Confirmations by outcome (success, the failure code, or link_misses_limited: 429 after "
    "too many link tokens that match nothing from one client)",
    ["outcome"],
)
