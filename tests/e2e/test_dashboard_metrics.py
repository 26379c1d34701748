"""The Grafana dashboard (deploy/grafana) queries only metrics the running services serve, and
its committed JSON is what its generator writes."""

import json
import re
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from devinfra.platform import SERVICES, Platform
from prometheus_client.parser import text_string_to_metric_families

pytestmark = pytest.mark.e2e
REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy/grafana/pwreset.json"
PROMQL_WORDS = {"sum", "max", "by", "rate", "increase", "histogram_quantile", "le"}
LABELS = {"outcome", "job", "type", "topic", "kind", "event", "status"}


def queried_metrics() -> set[str]:
    names = set()
    for panel in json.loads(DASHBOARD.read_text())["panels"]:
        for target in panel["targets"]:
            bare = re.sub(r'\{[^}]*\}|\[[^\]]*\]|"[^"]*"', " ", target["expr"])
            names |= set(re.findall(r"[a-z_][a-z0-9_]*", bare)) - PROMQL_WORDS - LABELS
    return names


async def test_every_metric_on_the_dashboard_is_served(platform: Platform) -> None:
    served: set[str] = set()
    async with httpx.AsyncClient(timeout=10) as client:
        for service in SERVICES:
            text = (await client.get(platform.metrics_url(service))).text
            for family in text_string_to_metric_families(text):
                # A histogram family is queried through its _bucket series, a counter by _total.
                served |= {family.name, f"{family.name}_bucket", f"{family.name}_total"}
    wanted = queried_metrics()
    assert len(wanted) >= 10
    assert wanted <= served, f"not served by any service: {sorted(wanted - served)}"


def test_the_committed_dashboard_is_what_its_generator_writes() -> None:
    done = subprocess.run(
        [sys.executable, str(REPO / "deploy/grafana/dashboard.py"), "--check"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert done.returncode == 0, done.stderr
