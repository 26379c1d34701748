#!/bin/bash
# Creates the platform's Kafka topics when missing, then prints them. Safe to run again.
# Runs in the apache/kafka image: docker-compose's `kafka-topics` service and the
# `create-topics` Job both use this one script.
#
# Retention: a topic that carries a sealed link keeps records no longer than the link lives
# (design: "Topic retention no longer than the token lifetime").
#   password-reset.requested.v1   30 min  = RESET_TTL_SECONDS (raise both together)
#   identity.password-changed.v1   7 days = identity's UNDO_LINK_TTL_SECONDS
#   identity.second-factor-changed.v1  7 days = identity's UNDO_LINK_TTL_SECONDS
#   identity.registration-requested.v1 1 day  = identity's REGISTRATION_TTL_SECONDS
#   notifier.dead-letter.v1        7 days: operators read these; the links inside are sealed
#                                  and their tokens expired long before.
# Kafka deletes whole segments, and only closed ones: a record lives up to retention + segment.ms
# (+ the broker's 5-minute retention check). segment.ms is set small where retention is short,
# so a reset record is gone within about 45 minutes rather than the default week.
set -euo pipefail

: "${KAFKA_BOOTSTRAP_SERVERS:?set KAFKA_BOOTSTRAP_SERVERS}"
partitions="${TOPIC_PARTITIONS:-3}"
replication="${TOPIC_REPLICATION_FACTOR:-1}"
min_insync="${TOPIC_MIN_INSYNC_REPLICAS:-1}"
reset_retention_ms="${RESET_TOPIC_RETENTION_MS:-1800000}"
changed_retention_ms="${PASSWORD_CHANGED_TOPIC_RETENTION_MS:-604800000}"
second_factor_retention_ms="${SECOND_FACTOR_TOPIC_RETENTION_MS:-604800000}"
registration_retention_ms="${REGISTRATION_TOPIC_RETENTION_MS:-86400000}"
dead_letter_retention_ms="${DEAD_LETTER_TOPIC_RETENTION_MS:-604800000}"
reset_segment_ms="${RESET_TOPIC_SEGMENT_MS:-600000}"
registration_segment_ms="${REGISTRATION_TOPIC_SEGMENT_MS:-3600000}"
segment_ms="${TOPIC_SEGMENT_MS:-86400000}"
kafka_topics="${KAFKA_HOME:-/opt/kafka}/bin/kafka-topics.sh"

# TLS / SASL settings for the admin client, when the cluster needs them (a mounted file).
client_args=()
if [ -n "${KAFKA_CLIENT_CONFIG:-}" ] && [ -f "${KAFKA_CLIENT_CONFIG}" ]; then
    client_args=(--command-config "${KAFKA_CLIENT_CONFIG}")
fi

create() {
    local topic="$1" retention_ms="$2" segment_ms="$3"
    "$kafka_topics" --bootstrap-server "$KAFKA_BOOTSTRAP_SERVERS" "${client_args[@]}" \
        --create --if-not-exists --topic "$topic" \
        --partitions "$partitions" --replication-factor "$replication" \
        --config "retention.ms=${retention_ms}" \
        --config "segment.ms=${segment_ms}" \
        --config "min.insync.replicas=${min_insync}"
}

create password-reset.requested.v1 "$reset_retention_ms" "$reset_segment_ms"
create identity.password-changed.v1 "$changed_retention_ms" "$segment_ms"
create identity.second-factor-changed.v1 "$second_factor_retention_ms" "$segment_ms"
create identity.registration-requested.v1 "$registration_retention_ms" "$registration_segment_ms"
create notifier.dead-letter.v1 "$dead_letter_retention_ms" "$segment_ms"

"$kafka_topics" --bootstrap-server "$KAFKA_BOOTSTRAP_SERVERS" "${client_args[@]}" --describe \
    --topic 'password-reset.requested.v1|identity.password-changed.v1|identity.second-factor-changed.v1|identity.registration-requested.v1|notifier.dead-letter.v1'
