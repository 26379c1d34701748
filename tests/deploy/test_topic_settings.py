"""One set of topic settings everywhere: create-topics.sh (compose and the Job), the local
broker (tools/devinfra topics.py: make run, tests, bench), contracts/asyncapi.yaml, the Strimzi
KafkaTopics (test_k8s_components.py) and the tables in docs/operations.md. The local broker's
topics once kept records a day, against the documented 30 minutes."""

import re
from pathlib import Path

import yaml
from devinfra.topics import PARTITIONS, TOPIC_CONFIGS

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
