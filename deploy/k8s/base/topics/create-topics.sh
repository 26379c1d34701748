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
#   identity.admin-action-audited.v1  30 days: support staff's actions for security monitoring
#                                  (no secret, no address)
#   notifier.dead-letter.v1        7 days: operators read these; the links inside are sealed
#                                  and their tokens expired long before.
# Kafka deletes whole segments, and only closed ones: a record lives up to retention + segment.ms
# (+ the broker's 5-minute retention check). segment.ms is set small where retention is short,
# so a reset record is gone within about 45 minutes rather than the default week.
#
# Replication: production gives TOPIC_REPLICATION_FACTOR=3 and TOPIC_MIN_INSYNC_REPLICAS=2 (a
# write with acks=all lands on two brokers before it is acknowledged), and no topic ever elects
# an out-of-sync replica (it would drop acknowledged records): docs/delivery.md, "Kafka cluster
# faults", where tests/faults/test_kafka_cluster.py kills and rolls brokers under those settings.
set -euo pipefail

: "${KAFKA_BOOTSTRAP_SERVERS:?set KAFKA_BOOTSTRAP_SERVERS}"
partitions="${TOPIC_PARTITIONS:-3}"
replication="${TOPIC_REPLICATION_FACTOR:-1}"
min_insync="${TOPIC_MIN_INSYNC_REPLICAS:-1}"
reset_retention_ms="${RESET_TOPIC_RETENTION_MS:-1800000}"
changed_retention_ms="${PASSWORD_CHANGED_TOPIC_RETENTION_MS:-604800000}"
second_factor_retention_ms="${SECOND_FACTOR_TOPIC_RETENTION_MS:-604800000}"
registration_retention_ms="${REGISTRATION_TOPIC_RETENTION_MS:-86400000}"
audit_retention_ms="${ADMIN_AUDIT_TOPIC_RETENTION_MS:-2592000000}"
dead_letter_retention_ms="${DEAD_LETTER_TOPIC_RETENTION_MS:-604800000}"
reset_segment_ms="${RESET_TOPIC_SEGMENT_MS:-600000}"
registration_segment_ms="${REGISTRATION_TOPIC_SEGMENT_MS:-3600000}"
segment_ms="${TOPIC_SEGMENT_MS:-86400000}"
kafka_topics="${KAFKA_HOME:-/opt/kafka}/bin/kafka-topics.sh"

# TLS / SASL settings for the admin client, when the cluster needs them: a mounted
# client.properties (KAFKA_CLIENT_CONFIG), or else the KAFKA_* variables the services read
# (servicekit.kafka_settings), written to a private properties file here.
client_args=()
if [ -n "${KAFKA_CLIENT_CONFIG:-}" ] && [ -f "${KAFKA_CLIENT_CONFIG}" ]; then
    client_args=(--command-config "${KAFKA_CLIENT_CONFIG}")
elif [ "${KAFKA_SECURITY_PROTOCOL:-PLAINTEXT}" != "PLAINTEXT" ]; then
    umask 077
    workdir="$(mktemp -d)"
    trap 'rm -rf "$workdir"' EXIT
    config="$workdir/client.properties"
    {
        echo "security.protocol=${KAFKA_SECURITY_PROTOCOL}"
        if [ -n "${KAFKA_SSL_CAFILE:-}" ]; then
            echo "ssl.truststore.type=PEM"
            echo "ssl.truststore.location=${KAFKA_SSL_CAFILE}"
        fi
        if [ -n "${KAFKA_SSL_CERTFILE:-}" ]; then
            # Kafka's PEM key store: the (PKCS#8) key, then the certificate chain, one file.
            cat "${KAFKA_SSL_KEYFILE:?KAFKA_SSL_CERTFILE needs KAFKA_SSL_KEYFILE}" \
                "$KAFKA_SSL_CERTFILE" >"$workdir/client.pem"
            echo "ssl.keystore.type=PEM"
            echo "ssl.keystore.location=$workdir/client.pem"
        fi
        case "${KAFKA_SASL_MECHANISM:-}" in
            SCRAM-SHA-512 | SCRAM-SHA-256) module=org.apache.kafka.common.security.scram.ScramLoginModule ;;
            PLAIN) module=org.apache.kafka.common.security.plain.PlainLoginModule ;;
            "") module="" ;;
            *)
                echo "create-topics: unsupported KAFKA_SASL_MECHANISM ${KAFKA_SASL_MECHANISM}" >&2
                exit 2
                ;;
        esac
        if [ -n "$module" ]; then
            echo "sasl.mechanism=${KAFKA_SASL_MECHANISM}"
            echo "sasl.jaas.config=${module} required username=\"${KAFKA_SASL_USERNAME:?}\" password=\"${KAFKA_SASL_PASSWORD:?}\";"
        fi
    } >"$config"
    client_args=(--command-config "$config")
fi

create() {
    local topic="$1" retention_ms="$2" segment_ms="$3"
    "$kafka_topics" --bootstrap-server "$KAFKA_BOOTSTRAP_SERVERS" "${client_args[@]}" \
        --create --if-not-exists --topic "$topic" \
        --partitions "$partitions" --replication-factor "$replication" \
        --config "retention.ms=${retention_ms}" \
        --config "segment.ms=${segment_ms}" \
        --config "min.insync.replicas=${min_insync}" \
        --config "unclean.leader.election.enable=false"
}

create password-reset.requested.v1 "$reset_retention_ms" "$reset_segment_ms"
create identity.password-changed.v1 "$changed_retention_ms" "$segment_ms"
create identity.second-factor-changed.v1 "$second_factor_retention_ms" "$segment_ms"
create identity.registration-requested.v1 "$registration_retention_ms" "$registration_segment_ms"
create identity.admin-action-audited.v1 "$audit_retention_ms" "$segment_ms"
create notifier.dead-letter.v1 "$dead_letter_retention_ms" "$segment_ms"

"$kafka_topics" --bootstrap-server "$KAFKA_BOOTSTRAP_SERVERS" "${client_args[@]}" --describe \
    --topic 'password-reset.requested.v1|identity.password-changed.v1|identity.second-factor-changed.v1|identity.registration-requested.v1|identity.admin-action-audited.v1|notifier.dead-letter.v1'

# docker-compose only (CREATE_ACLS=true): the services' least access, as on the local broker
# (tools/devinfra kafka_security.ACLS). Kubernetes with Strimzi declares the same as KafkaUsers.
if [ "${CREATE_ACLS:-false}" = "true" ]; then
    kafka_acls="${KAFKA_HOME:-/opt/kafka}/bin/kafka-acls.sh"
    acl() {
        "$kafka_acls" --bootstrap-server "$KAFKA_BOOTSTRAP_SERVERS" "${client_args[@]}" --add "$@"
    }
    acl --allow-principal User:reset --operation Write --topic password-reset.requested.v1
    acl --allow-principal User:identity --operation Write --topic identity. \
        --resource-pattern-type prefixed
    # The notifier reads the topics of the events it mails, by name: not the prefix
    # `identity.`, which also holds the admin audit records.
    acl --allow-principal User:notifier --operation Read --topic password-reset.requested.v1 \
        --topic identity.password-changed.v1 --topic identity.second-factor-changed.v1 \
        --topic identity.registration-requested.v1 --group notifier
    acl --allow-principal User:notifier --operation Write --topic notifier.dead-letter.v1
fi
