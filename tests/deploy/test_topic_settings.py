"""One set of topic settings everywhere: create-topics.sh (compose and the Job), the local
broker (tools/devinfra topics.py: make run, tests, bench), contracts/asyncapi.yaml, the Strimzi
KafkaTopics (test_k8s_components.py) and the tables in docs/operations.md. The local broker's
topics once kept records a day, against the documented 30 minutes."""

import re
from pathlib import Path

import yaml
from devinfra.topics import (
    MIN_INSYNC_REPLICAS,
    PARTITIONS,
    REPLICATION_FACTOR,
    TOPIC_CONFIGS,
    replicated_configs,
)

from .test_k8s_components import script_topics

REPO = Path(__file__).resolve().parents[2]


def as_ints(configs: dict[str, dict[str, str]]) -> dict[str, dict[str, int]]:
    return {t: {k: int(v) for k, v in c.items()} for t, c in configs.items()}


def test_the_local_broker_creates_what_create_topics_sh_creates() -> None:
    assert as_ints(TOPIC_CONFIGS) == script_topics()
    assert PARTITIONS == 3


def test_asyncapi_channels_declare_the_same_settings() -> None:
    document = yaml.safe_load((REPO / "contracts/asyncapi.yaml").read_text())
    declared = {}
    for channel in document["channels"].values():
        kafka = channel["bindings"]["kafka"]
        configuration = kafka["topicConfiguration"]
        assert kafka["partitions"] == PARTITIONS
        declared[channel["address"]] = {
            k: configuration[k] for k in ("retention.ms", "segment.ms") if k in configuration
        }
    assert declared == as_ints(TOPIC_CONFIGS)


def test_the_operations_table_says_the_same() -> None:
    text = (REPO / "docs/operations.md").read_text()
    rows = re.findall(r"^\| `([\w.-]+\.v1)` \| (\d+) \([^)]*\) \| (\d+) \|", text, re.MULTILINE)
    documented = {t: {"retention.ms": int(r), "segment.ms": int(s)} for t, r, s in rows}
    assert documented == as_ints(TOPIC_CONFIGS)


def test_the_local_cluster_replicates_as_production_does() -> None:
    """The three-broker cluster the cluster fault tests run on (devinfra.kafka_cluster) keeps
    the base deployment's replication: what those tests show holds for these settings."""
    env = dict(
        line.split("=", 1)
        for line in (REPO / "deploy/k8s/base/topics/config.env").read_text().splitlines()
        if line and not line.startswith("#")
    )
    assert int(env["TOPIC_REPLICATION_FACTOR"]) == REPLICATION_FACTOR == 3
    assert int(env["TOPIC_MIN_INSYNC_REPLICAS"]) == MIN_INSYNC_REPLICAS == 2
    values = yaml.safe_load((REPO / "deploy/helm/pwreset/values.yaml").read_text())["topics"]
    assert values["replicationFactor"] == REPLICATION_FACTOR
    assert values["minInsyncReplicas"] == MIN_INSYNC_REPLICAS
    script = (REPO / "deploy/k8s/base/topics/create-topics.sh").read_text()
    assert '--config "unclean.leader.election.enable=false"' in script
    for name in TOPIC_CONFIGS:
        configs = replicated_configs(name, REPLICATION_FACTOR)
        assert configs["min.insync.replicas"] == str(MIN_INSYNC_REPLICAS)
        assert configs["unclean.leader.election.enable"] == "false"
    assert (
        replicated_configs("password-reset.requested.v1", 1)
        == TOPIC_CONFIGS["password-reset.requested.v1"]
    )
