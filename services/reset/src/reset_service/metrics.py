"""The reset service's own Prometheus metrics (HTTP metrics come from servicekit).

/metrics must stay off the public ingress: "queued" vs "suppressed" counts would tell an
attacker watching them whether an email has an account.
"""

from prometheus_client import Counter

RESET_REQUESTS = Counter(
    "reset_requests_total",
    "Reset requests by outcome: queued (email on its way), suppressed (unknown email or over the "
    "per-account limit: no email), ip_limited (429)",
    ["outcome"],
)
RESET_CONFIRMATIONS = Counter(
    "reset_confirmations_total",
    "Confirmations by outcome (success or the failure code)",
    ["outcome"],
)
