"""The optional components, whose custom resources no bundled schema covers: Strimzi
KafkaTopics must declare the same topics as create-topics.sh (which they replace), and each
ServiceMonitor must find its Service's named port."""

import re
from pathlib import Path
from typing import Any

import pytest
from pwreset_contracts import (
    DEAD_LETTER_TOPIC,
    AdminActionAuditedV1,
    PasswordChangedV1,
    RegistrationRequestedV1,
    ResetRequestedV1,
    SecondFactorChangedV1,
)

REPO = Path(__file__).resolve().parents[2]
SCRIPT = REPO / "deploy/k8s/base/topics/create-topics.sh"
TOPICS = {
    ResetRequestedV1.topic,
    PasswordChangedV1.topic,
    SecondFactorChangedV1.topic,
    RegistrationRequestedV1.topic,
    AdminActionAuditedV1.topic,
    DEAD_LETTER_TOPIC,
}


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def script_topics() -> dict[str, dict[str, int]]:
    """topic -> {retention.ms, segment.ms} as create-topics.sh creates it with its defaults."""
    text = SCRIPT.read_text()
    defaults = dict(re.findall(r'^(\w+)="\$\{\w+:-(\d+)\}"$', text, flags=re.MULTILINE))
    calls = re.findall(r'^create (\S+) "\$(\w+)" "\$(\w+)"$', text, flags=re.MULTILINE)
    return {
        topic: {"retention.ms": int(defaults[retention]), "segment.ms": int(defaults[segment])}
        for topic, retention, segment in calls
    }


@pytest.mark.parametrize("rendering", ["rendered_with_crds", "helm_rendered_with_crds"])
def test_kafka_topics_replace_the_job_with_the_same_topics(
    rendering: str, request: pytest.FixtureRequest
) -> None:
    rendered_with_crds: list[dict[str, Any]] = request.getfixturevalue(rendering)
    topics = by_kind(rendered_with_crds, "KafkaTopic")
    assert set(topics) == TOPICS == set(script_topics())
    for name, topic in topics.items():
        assert topic["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert topic["metadata"]["labels"]["strimzi.io/cluster"] == "pwreset"
        assert topic["metadata"]["namespace"] == "pwreset"
        spec = topic["spec"]
        assert spec["topicName"] == name and spec["partitions"] == 3
        assert spec["replicas"] >= 3 and spec["config"]["min.insync.replicas"] == 2
        assert spec["config"]["unclean.leader.election.enable"] is False
        for setting, value in script_topics()[name].items():
            assert spec["config"][setting] == value, f"{name} {setting}"
    assert "create-topics" not in by_kind(rendered_with_crds, "Job")
    assert "create-topics" not in by_kind(rendered_with_crds, "NetworkPolicy")
    assert not [n for n in by_kind(rendered_with_crds, "ConfigMap") if "topics" in n]


def test_reset_topic_keeps_records_no_longer_than_a_reset_link(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    reset_topic = script_topics()[ResetRequestedV1.topic]
    assert reset_topic["retention.ms"] == 30 * 60 * 1000
    # Only closed segments are deleted: a short segment.ms bounds how long a record outlives
    # its retention.
    assert reset_topic["segment.ms"] <= reset_topic["retention.ms"]
    for docs in rendered.values():
        configs = by_kind(docs, "ConfigMap").values()
        topics = next(c["data"] for c in configs if "RESET_TOPIC_RETENTION_MS" in c["data"])
        reset = next(c["data"] for c in configs if "RESET_TTL_SECONDS" in c["data"])
        assert int(topics["RESET_TOPIC_RETENTION_MS"]) <= int(reset["RESET_TTL_SECONDS"]) * 1000


@pytest.mark.parametrize("production", ["prod", "helm-prod"])
def test_service_monitors_scrape_metrics_from_each_service(
    production: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    docs = rendered[production]
    services = by_kind(docs, "Service")
    monitors = by_kind(docs, "ServiceMonitor")
    assert set(monitors) == {"identity", "reset", "notifier"}
    for name, monitor in monitors.items():
        selector = monitor["spec"]["selector"]["matchLabels"]
        targets = [
            s for s in services.values() if selector.items() <= s["metadata"]["labels"].items()
        ]
        assert [t["metadata"]["name"] for t in targets] == [name]
        (endpoint,) = monitor["spec"]["endpoints"]
        assert endpoint["path"] == "/metrics"
        ports = {p["name"]: p for p in targets[0]["spec"]["ports"]}
        # The metrics port (METRICS_PORT), never the public one: it serves no /metrics.
        assert endpoint["port"] == "metrics" and ports["metrics"]["port"] == 9100
    assert not by_kind(rendered["dev"], "ServiceMonitor"), "dev runs without the CRD"
    assert not by_kind(rendered["helm-default"], "ServiceMonitor"), "off unless enabled"
