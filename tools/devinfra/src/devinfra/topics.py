"""The platform's topics as the local broker creates them: the same partitions, retention and
segment size as deploy/k8s/base/topics/create-topics.sh, contracts/asyncapi.yaml and
docs/operations.md say (tests/deploy/test_topic_settings.py keeps them equal). On the local
three-broker cluster (devinfra.kafka_cluster) also the replication production uses: the
deployment's TOPIC_REPLICATION_FACTOR and TOPIC_MIN_INSYNC_REPLICAS, the Strimzi KafkaTopics."""

from pwreset_contracts import (
    DEAD_LETTER_TOPIC,
    AdminActionAuditedV1,
    PasswordChangedV1,
    RegistrationRequestedV1,
    ResetRequestedV1,
    SecondFactorChangedV1,
)

# The names come from the contracts only, so a topic renamed there is renamed everywhere.
RESET_REQUESTED = ResetRequestedV1.topic
PASSWORD_CHANGED = PasswordChangedV1.topic
SECOND_FACTOR_CHANGED = SecondFactorChangedV1.topic
REGISTRATION_REQUESTED = RegistrationRequestedV1.topic
ADMIN_ACTION_AUDITED = AdminActionAuditedV1.topic
DEAD_LETTERS = DEAD_LETTER_TOPIC

PARTITIONS = 3
# Per topic: the configs create-topics.sh sets (replication is the single broker's 1 here).
TOPIC_CONFIGS: dict[str, dict[str, str]] = {
    # No longer than a reset link lives (RESET_TTL_SECONDS); short segments, so Kafka (which
    # deletes closed segments only) drops a record within about 45 minutes.
    RESET_REQUESTED: {"retention.ms": "1800000", "segment.ms": "600000"},
    # The "This wasn't me" link's lifetime.
    PASSWORD_CHANGED: {"retention.ms": "604800000", "segment.ms": "86400000"},
    SECOND_FACTOR_CHANGED: {"retention.ms": "604800000", "segment.ms": "86400000"},
    # The verification link's lifetime (REGISTRATION_TTL_SECONDS).
    REGISTRATION_REQUESTED: {"retention.ms": "86400000", "segment.ms": "3600000"},
    # Support staff's actions, for other teams' security monitoring: no secret, no address.
    ADMIN_ACTION_AUDITED: {"retention.ms": "2592000000", "segment.ms": "86400000"},
    # Time for an operator to look; the links inside are sealed and long expired.
    DEAD_LETTERS: {"retention.ms": "604800000", "segment.ms": "86400000"},
}

# A replicated cluster (production's base settings; the local three-broker cluster): three
# copies, a write acknowledged (acks=all) only once two have it, so one broker may be lost or
# rolled without losing an acknowledged record or refusing writes.
REPLICATION_FACTOR = 3
MIN_INSYNC_REPLICAS = 2


def replicated_configs(name: str, replication_factor: int) -> dict[str, str]:
    """The topic's configs when created with `replication_factor` replicas: the documented
    retention and segments, plus, when replicated, the minimum in-sync replicas and no unclean
    leader election (a replica that missed acknowledged writes never leads)."""
    configs = dict(TOPIC_CONFIGS.get(name, {}))
    if replication_factor > 1:
        configs["min.insync.replicas"] = str(min(MIN_INSYNC_REPLICAS, replication_factor))
        configs["unclean.leader.election.enable"] = "false"
    return configs
