"""The platform's topics as the local broker creates them: the same partitions, retention and
segment size as deploy/k8s/base/topics/create-topics.sh, contracts/asyncapi.yaml and
docs/operations.md say (tests/deploy/test_topic_settings.py keeps them equal)."""

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
