"""Builds the Grafana dashboard of the platform (pwreset.json beside this file) from the panel
list below, so that the JSON never drifts from what is reviewed here:

    uv run python deploy/grafana/dashboard.py          # rewrite pwreset.json
    uv run python deploy/grafana/dashboard.py --check  # exit 1 if pwreset.json is out of date

Every metric a panel queries is one a service serves (tests/e2e/test_dashboard_metrics.py scrapes
the running services and checks).
"""

import json
import sys
from pathlib import Path

OUT = Path(__file__).with_name("pwreset.json")

# (title, unit, [(PromQL, legend)]), row by row, two panels a row.
PANELS: list[tuple[str, str, list[tuple[str, str]]]] = [
    (
        "Reset requests",
        "reqps",
        [("sum by (outcome) (rate(reset_requests_total[5m]))", "{{outcome}}")],
    ),
    (
        "Confirmations",
        "reqps",
        [("sum by (outcome) (rate(reset_confirmations_total[5m]))", "{{outcome}}")],
    ),
    (
        "Request to email (what a person waits)",
        "s",
        [
            (
                "histogram_quantile(0.5, sum by (le, type) "
                "(rate(notifier_event_to_email_seconds_bucket[5m])))",
                "p50 {{type}}",
            ),
            (
                "histogram_quantile(0.99, sum by (le, type) "
                "(rate(notifier_event_to_email_seconds_bucket[5m])))",
                "p99 {{type}}",
            ),
        ],
    ),
    (
        "Logins",
        "reqps",
        [("sum by (outcome) (rate(identity_logins_total[5m]))", "{{outcome}}")],
    ),
    (
        "Outbox backlog",
        "short",
        [("sum by (job) (outbox_backlog_rows)", "rows {{job}}")],
    ),
    (
        "Oldest unpublished event",
        "s",
        [("max by (job) (outbox_oldest_unpublished_age_seconds)", "{{job}}")],
    ),
    (
        "Notifier consumer lag",
        "short",
        [("sum by (topic) (notifier_consumer_lag_records)", "{{topic}}")],
    ),
    (
        "Emails sent and dead letters",
        "short",
        [
            ("sum(rate(notifier_emails_sent_total[5m]))", "sent/s"),
            ("sum(increase(notifier_dead_letters_total[1h]))", "dead letters (1h)"),
            ("max(notifier_deliveries_paused)", "paused"),
        ],
    ),
    (
        "SMTP send time",
        "s",
        [
            (
                "histogram_quantile(0.5, sum by (le) "
                "(rate(notifier_smtp_send_seconds_bucket[5m])))",
                "p50",
            ),
            (
                "histogram_quantile(0.99, sum by (le) "
                "(rate(notifier_smtp_send_seconds_bucket[5m])))",
                "p99",
            ),
        ],
    ),
    (
        "SMTP failures",
        "short",
        [("sum by (kind) (rate(notifier_smtp_failures_total[5m]))", "{{kind}}")],
    ),
    (
        "Security events",
        "short",
        [("sum by (event) (increase(identity_security_events_total[15m]))", "{{event}}")],
    ),
    (
        "HTTP answers by status",
        "reqps",
        [("sum by (job, status) (rate(http_requests_total[5m]))", "{{job}} {{status}}")],
    ),
]


def build() -> dict[str, object]:
    panels = []
    for index, (title, unit, queries) in enumerate(PANELS):
        panels.append(
            {
                "id": index + 1,
                "type": "timeseries",
                "title": title,
                "datasource": {"type": "prometheus", "uid": "${datasource}"},
                "gridPos": {"h": 8, "w": 12, "x": 12 * (index % 2), "y": 8 * (index // 2)},
                "fieldConfig": {"defaults": {"unit": unit}, "overrides": []},
                "options": {"legend": {"displayMode": "list", "placement": "bottom"}},
                "targets": [
                    {"refId": chr(ord("A") + n), "expr": expr, "legendFormat": legend}
                    for n, (expr, legend) in enumerate(queries)
                ],
            }
        )
    return {
        "title": "Password reset platform",
        "uid": "pwreset",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "time": {"from": "now-6h", "to": "now"},
        "refresh": "30s",
        "tags": ["pwreset"],
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "type": "datasource",
                    "query": "prometheus",
                    "label": "Prometheus",
                }
            ]
        },
        "panels": panels,
    }


def render() -> str:
    return json.dumps(build(), indent=2) + "\n"


if __name__ == "__main__":
    if sys.argv[1:] == ["--check"]:
        sys.exit(0 if OUT.read_text() == render() else "pwreset.json is out of date")
    OUT.write_text(render())
