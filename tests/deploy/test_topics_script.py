"""create-topics.sh (docker-compose's kafka-topics service and the create-topics Job) run with
a stand-in for the apache/kafka image's kafka-topics.sh that records its arguments: what it asks
Kafka for, that it is idempotent (--if-not-exists) and that it stops at the first failure."""

import json
import os
import subprocess
import sys
from pathlib import Path

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

RECORDER = """#!{python}
import json, os, sys
args = sys.argv[1:]
if "--command-config" in args:  # the file may be temporary: keep what it said
    args += ["#config", open(args[args.index("--command-config") + 1]).read()]
with open(os.environ["RECORD"], "a") as out:
    out.write(json.dumps(args) + "\\n")
sys.exit(1 if os.environ.get("FAIL_ON", "-") in sys.argv else 0)
"""


def run(tmp_path: Path, **env: str) -> tuple[int, list[list[str]]]:
    home = tmp_path / "kafka"
    (home / "bin").mkdir(parents=True, exist_ok=True)
    for tool in ("kafka-topics.sh", "kafka-acls.sh"):
        fake = home / "bin" / tool
        fake.write_text(RECORDER.format(python=sys.executable))
        fake.chmod(0o755)
    record = tmp_path / "calls.jsonl"
    record.unlink(missing_ok=True)
    environment = {"PATH": os.environ["PATH"], "KAFKA_HOME": str(home), "RECORD": str(record)}
    result = subprocess.run(
        ["bash", str(SCRIPT)], env=environment | env, capture_output=True, text=True, timeout=60
    )
    calls = (
        [json.loads(line) for line in record.read_text().splitlines()] if record.exists() else []
    )
    return result.returncode, calls


def option(call: list[str], name: str) -> list[str]:
    return [call[i + 1] for i, arg in enumerate(call) if arg == name]


def test_creates_every_topic_idempotently_then_describes_them(tmp_path: Path) -> None:
    code, calls = run(tmp_path, KAFKA_BOOTSTRAP_SERVERS="kafka:9092")
    assert code == 0
    creates, (describe,) = calls[:-1], calls[-1:]
    assert [option(c, "--topic")[0] for c in creates] == [
        ResetRequestedV1.topic,
        PasswordChangedV1.topic,
        SecondFactorChangedV1.topic,
        RegistrationRequestedV1.topic,
        AdminActionAuditedV1.topic,
        DEAD_LETTER_TOPIC,
    ]
    for call in creates:
        assert "--create" in call and "--if-not-exists" in call
        assert option(call, "--bootstrap-server") == ["kafka:9092"]
        assert option(call, "--partitions") == ["3"]
        assert option(call, "--replication-factor") == ["1"]
    retention = {option(c, "--topic")[0]: option(c, "--config") for c in creates}
    assert retention[ResetRequestedV1.topic] == [
        "retention.ms=1800000",
        "segment.ms=600000",
        "min.insync.replicas=1",
        "unclean.leader.election.enable=false",
    ]
    assert retention[PasswordChangedV1.topic][0] == "retention.ms=604800000"
    assert retention[SecondFactorChangedV1.topic][0] == "retention.ms=604800000"
    assert retention[RegistrationRequestedV1.topic][:2] == [
        "retention.ms=86400000",
        "segment.ms=3600000",
    ]
    assert retention[AdminActionAuditedV1.topic][:2] == [
        "retention.ms=2592000000",
        "segment.ms=86400000",
    ]
    assert "--describe" in describe


def test_production_settings_and_client_config_are_passed_on(tmp_path: Path) -> None:
    properties = tmp_path / "client.properties"
    properties.write_text("security.protocol=SSL\n")
    code, calls = run(
        tmp_path,
        KAFKA_BOOTSTRAP_SERVERS="broker:9093",
        TOPIC_REPLICATION_FACTOR="3",
        TOPIC_MIN_INSYNC_REPLICAS="2",
        KAFKA_CLIENT_CONFIG=str(properties),
    )
    assert code == 0
    for call in calls:
        assert option(call, "--command-config") == [str(properties)]
    assert option(calls[0], "--replication-factor") == ["3"]
    assert "min.insync.replicas=2" in option(calls[0], "--config")


def test_the_services_kafka_variables_become_the_admin_clients_sasl_ssl_config(
    tmp_path: Path,
) -> None:
    code, calls = run(
        tmp_path,
        KAFKA_BOOTSTRAP_SERVERS="broker:9093",
        KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        KAFKA_SSL_CAFILE="/etc/kafka-ca/ca.crt",
        KAFKA_SASL_MECHANISM="SCRAM-SHA-512",
        KAFKA_SASL_USERNAME="pwreset-topics",
        KAFKA_SASL_PASSWORD="p4ss",
    )
    assert code == 0 and len(calls) == 7  # six topics, then describe
    for call in calls:
        (config,) = option(call, "#config")
        lines = set(config.splitlines())
        assert {
            "security.protocol=SASL_SSL",
            "ssl.truststore.type=PEM",
            "ssl.truststore.location=/etc/kafka-ca/ca.crt",
            "sasl.mechanism=SCRAM-SHA-512",
            "sasl.jaas.config=org.apache.kafka.common.security.scram.ScramLoginModule required "
            'username="pwreset-topics" password="p4ss";',
        } <= lines
    assert not Path(option(calls[0], "--command-config")[0]).exists()  # removed afterwards


def test_compose_acls_are_the_ones_the_local_broker_enforces(tmp_path: Path) -> None:
    from devinfra.kafka_security import ACLS

    code, calls = run(tmp_path, KAFKA_BOOTSTRAP_SERVERS="kafka:9092", CREATE_ACLS="true")
    assert code == 0
    granted = set()
    for call in (c for c in calls if "--add" in c):
        (principal,) = option(call, "--allow-principal")
        (operation,) = option(call, "--operation")
        pattern = (option(call, "--resource-pattern-type") or ["literal"])[0]
        for kind in ("--topic", "--group"):
            for name in option(call, kind):
                granted.add((principal, kind[2:], name, pattern, operation.upper()))
    expected = {
        (
            f"User:{a.principal}",
            {2: "topic", 3: "group"}[a.resource_type],
            a.name,
            {3: "literal", 4: "prefixed"}[a.pattern],
            {3: "READ", 4: "WRITE"}[a.operation],
        )
        for a in ACLS
    }
    assert granted == expected


def test_compose_lets_the_notifier_read_only_the_topics_it_mails(tmp_path: Path) -> None:
    from notifier_service.bootstrap import TOPICS

    code, calls = run(tmp_path, KAFKA_BOOTSTRAP_SERVERS="kafka:9092", CREATE_ACLS="true")
    assert code == 0
    notifier = [
        c for c in calls if "--add" in c and option(c, "--allow-principal") == ["User:notifier"]
    ]
    reads = [c for c in notifier if option(c, "--operation") == ["Read"]]
    assert {t for c in reads for t in option(c, "--topic")} == set(TOPICS)
    # By name: a prefixed pattern would reach the admin audit records and any new identity.*.
    assert all(option(c, "--resource-pattern-type") in ([], ["literal"]) for c in notifier)


def test_an_unknown_sasl_mechanism_stops_the_script(tmp_path: Path) -> None:
    code, calls = run(
        tmp_path,
        KAFKA_BOOTSTRAP_SERVERS="broker:9093",
        KAFKA_SECURITY_PROTOCOL="SASL_SSL",
        KAFKA_SASL_MECHANISM="GSSAPI",
    )
    assert code != 0 and calls == []


def test_an_absent_client_config_file_means_plaintext(tmp_path: Path) -> None:
    code, calls = run(
        tmp_path, KAFKA_BOOTSTRAP_SERVERS="kafka:9092", KAFKA_CLIENT_CONFIG="/nonexistent"
    )
    assert code == 0 and not any("--command-config" in c for c in calls)


def test_stops_at_the_first_failure(tmp_path: Path) -> None:
    code, calls = run(
        tmp_path, KAFKA_BOOTSTRAP_SERVERS="kafka:9092", FAIL_ON=PasswordChangedV1.topic
    )
    assert code != 0
    assert len(calls) == 2, "nothing runs after the failing call"


def test_refuses_to_run_without_a_bootstrap_server(tmp_path: Path) -> None:
    code, calls = run(tmp_path)
    assert code != 0 and calls == []
