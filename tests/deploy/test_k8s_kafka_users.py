"""Kafka access in Kubernetes: the Strimzi KafkaUsers carry exactly the ACLs the local broker
enforces (tools/devinfra kafka_security.ACLS, attacked by tests/e2e/test_kafka_access.py), and
every workload in both overlays connects with SASL_SSL as its own user, password and CA from
Secrets."""

from typing import Any

import pytest
from devinfra.kafka_security import ACLS
from notifier_service.bootstrap import TOPICS as NOTIFIER_TOPICS
from pwreset_contracts import DEAD_LETTER_TOPIC

from .conftest import base_name

SERVICES = ("identity", "reset", "notifier")
OVERLAYS = ("dev", "prod", "helm-default", "helm-prod")
# Kafka's protocol codes in devinfra -> Strimzi's names.
RESOURCE = {2: "topic", 3: "group"}
PATTERN = {3: "literal", 4: "prefix"}
OPERATION = {3: "Read", 4: "Write"}


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def strimzi_grants(user: dict[str, Any]) -> set[tuple[str, str, str, str]]:
    """(resource type, name, pattern, operation) allowed, Describe left out (Read and Write
    imply it in Kafka; Strimzi lists it explicitly)."""
    grants = set()
    for acl in user["spec"]["authorization"]["acls"]:
        resource = acl["resource"]
        for operation in acl["operations"]:
            if operation != "Describe":
                grants.add((resource["type"], resource["name"], resource["patternType"], operation))
    return grants


def test_kafka_users_carry_exactly_the_acls_the_local_broker_enforces(
    rendered_with_crds: list[dict[str, Any]],
) -> None:
    users = by_kind(rendered_with_crds, "KafkaUser")
    assert set(users) == {f"pwreset-{s}" for s in SERVICES} | {"pwreset-topics"}
    for service in SERVICES:
        user = users[f"pwreset-{service}"]
        assert user["apiVersion"] == "kafka.strimzi.io/v1beta2"
        assert user["metadata"]["labels"]["strimzi.io/cluster"] == "pwreset"
        assert user["metadata"]["namespace"] == "pwreset"
        assert user["spec"]["authentication"]["type"] == "scram-sha-512"
        expected = {
            (RESOURCE[a.resource_type], a.name, PATTERN[a.pattern], OPERATION[a.operation])
            for a in ACLS
            if a.principal == service
        }
        assert strimzi_grants(user) == expected, service
    # The topic creator creates and describes; it never reads or writes a record.
    topics = {op for *_, op in strimzi_grants(users["pwreset-topics"])}
    assert topics == {"Create", "DescribeConfigs"}


def notifier_topic_grants(user: dict[str, Any]) -> set[tuple[str, str, str]]:
    """(name, pattern, operation) of every topic ACL of a KafkaUser, Describe included."""
    return {
        (acl["resource"]["name"], acl["resource"]["patternType"], operation)
        for acl in user["spec"]["authorization"]["acls"]
        if acl["resource"]["type"] == "topic"
        for operation in acl["operations"]
    }


@pytest.mark.parametrize("rendering", ["rendered_with_crds", "helm_rendered_with_crds"])
def test_the_notifier_may_read_only_the_topics_of_the_events_it_mails(
    rendering: str, request: pytest.FixtureRequest
) -> None:
    """A leaked notifier credential reads no more than the notifier consumes: not the admin
    audit records (identity.admin-action-audited.v1), not a future identity.* topic."""
    users = by_kind(request.getfixturevalue(rendering), "KafkaUser")
    grants = notifier_topic_grants(users["pwreset-notifier"])
    reads = {(topic, "literal", op) for topic in NOTIFIER_TOPICS for op in ("Read", "Describe")}
    dead_letters = {(DEAD_LETTER_TOPIC, "literal", op) for op in ("Write", "Describe")}
    assert grants == reads | dead_letters
    # And the local broker, which the compose script and tests/e2e/test_kafka_access.py follow.
    local = {
        (a.name, PATTERN[a.pattern], OPERATION[a.operation])
        for a in ACLS
        if a.principal == "notifier" and RESOURCE[a.resource_type] == "topic"
    }
    assert local == {(topic, "literal", "Read") for topic in NOTIFIER_TOPICS} | {
        (DEAD_LETTER_TOPIC, "literal", "Write")
    }


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_workload_connects_with_sasl_ssl_as_its_own_user(
    overlay: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    docs = rendered[overlay]
    configs = {base_name(n): c["data"] for n, c in by_kind(docs, "ConfigMap").items()}
    workloads = {
        **{f"Deployment/{s}": s for s in SERVICES},
        **{f"Job/{s}-migrate": s for s in SERVICES},
        "Job/create-topics": "topics",
    }
    for workload, user in workloads.items():
        kind, name = workload.split("/")
        spec = by_kind(docs, kind)[name]["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        config = configs[f"{user}-config"]
        assert config["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL", workload
        assert config["KAFKA_SASL_MECHANISM"] == "SCRAM-SHA-512", workload
        assert config["KAFKA_SASL_USERNAME"] == f"pwreset-{user}", workload
        password = {v["name"]: v for v in container["env"]}["KAFKA_SASL_PASSWORD"]
        assert password["valueFrom"]["secretKeyRef"] == {
            "name": f"pwreset-{user}",
            "key": "password",
        }, workload
        if kind == "Job" and name.endswith("-migrate"):
            continue  # migrations never connect to Kafka; their settings only need to load
        ca_dir, _, ca_file = config["KAFKA_SSL_CAFILE"].rpartition("/")
        mounts = {m["name"]: m["mountPath"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        (volume,) = [n for n, path in mounts.items() if path == ca_dir]
        secret = volumes[volume]["secret"]
        assert secret["secretName"] == "pwreset-cluster-ca-cert", workload
        assert secret["items"] == [{"key": "ca.crt", "path": ca_file}], workload
