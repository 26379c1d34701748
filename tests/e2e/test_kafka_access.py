"""The local broker asks who is there (SASL_SSL, SCRAM) and lets each service do only its job
(StandardAuthorizer ACLs, allow.everyone.if.no.acl.found=false): docs/operations.md, "Kafka
access". The services' own runs (the rest of tests/e2e) show each works with its own user; the
copy attack with a writer's own credentials is in test_forged_records.py."""

import asyncio
import ssl
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import (
    GroupAuthorizationFailedError,
    KafkaConnectionError,
    KafkaError,
    TopicAuthorizationFailedError,
)
from devinfra.platform import SERVICES, Platform
from notifier_service.bootstrap import TOPICS as NOTIFIER_TOPICS
from pwreset_contracts import (
    DEAD_LETTER_TOPIC,
    AdminActionAuditedV1,
    PasswordChangedV1,
    ResetRequestedV1,
)

pytestmark = pytest.mark.e2e

RESET_TOPIC = ResetRequestedV1.topic
CHANGED_TOPIC = PasswordChangedV1.topic
DEAD_LETTERS = DEAD_LETTER_TOPIC
AUDIT_TOPIC = AdminActionAuditedV1.topic


@pytest.fixture
def secured(infra) -> Any:
    if infra.kafka_security is None:
        pytest.skip("the broker comes from the environment or a container: not ours to secure")
    return infra


def test_each_service_is_handed_its_own_user_and_the_ca(platform: Platform) -> None:
    for name in SERVICES:
        env = platform.env_for(name)
        assert env["KAFKA_SECURITY_PROTOCOL"] == "SASL_SSL"
        assert env["KAFKA_SASL_USERNAME"] == name
        assert env["KAFKA_SSL_CAFILE"].endswith("ca.pem")
    passwords = {platform.env_for(n)["KAFKA_SASL_PASSWORD"] for n in SERVICES}
    assert len(passwords) == len(SERVICES)


async def _bootstrap_fails(**options: Any) -> BaseException:
    admin = AIOKafkaAdminClient(request_timeout_ms=5000, **options)
    try:
        async with asyncio.timeout(30):
            await admin.start()
            await admin.list_topics()
    except (KafkaError, OSError, TimeoutError, ssl.SSLError) as exc:
        return exc
    finally:
        await admin.close()
    raise AssertionError(f"connected with {sorted(options)}")


async def test_a_client_without_credentials_cannot_connect(secured) -> None:
    bootstrap = {"bootstrap_servers": secured.kafka_bootstrap}
    # No TLS, no SASL: what every service did before.
    assert isinstance(await _bootstrap_fails(**bootstrap), KafkaConnectionError)
    # TLS that trusts our CA, but nobody logs in.
    context = ssl.create_default_context(cafile=str(secured.kafka_security.ca_file))
    await _bootstrap_fails(**bootstrap, security_protocol="SSL", ssl_context=context)
    # A known user with a wrong password, and an unknown user.
    wrong = {**secured.kafka_security_options("reset"), "sasl_plain_password": "not-it"}
    await _bootstrap_fails(**bootstrap, **wrong)
    nobody = {**secured.kafka_security_options("reset"), "sasl_plain_username": "mallory"}
    await _bootstrap_fails(**bootstrap, **nobody)


async def _produce(infra, user: str, topic: str) -> None:
    producer = AIOKafkaProducer(**infra.kafka_options(user), acks="all", request_timeout_ms=10000)
    await producer.start()
    try:
        await producer.send_and_wait(topic, b"acl probe", key=uuid.uuid4().bytes)
    finally:
        await producer.stop()


@pytest.mark.parametrize(
    ("user", "topic"),
    [
        ("notifier", RESET_TOPIC),  # the reader cannot become a writer
        ("notifier", CHANGED_TOPIC),
        ("reset", CHANGED_TOPIC),
        ("reset", DEAD_LETTERS),
        ("identity", RESET_TOPIC),
        ("identity", DEAD_LETTERS),
    ],
)
async def test_a_service_cannot_write_another_services_topic(
    secured, user: str, topic: str
) -> None:
    with pytest.raises(TopicAuthorizationFailedError):
        await _produce(secured, user, topic)


@pytest.mark.parametrize(("user", "topic"), [("reset", RESET_TOPIC), ("identity", CHANGED_TOPIC)])
async def test_a_writer_cannot_read(secured, user: str, topic: str) -> None:
    await _cannot_read(secured, user, topic)


async def test_the_notifier_cannot_read_identity_topics_it_does_not_mail(
    platform: Platform, secured
) -> None:
    """The admin audit records (who did what to which account) are for other teams: the
    notifier reads its topics by name, not the whole `identity.` prefix. Read implies
    Describe in Kafka, so a topic the notifier may not even describe it cannot read (and
    aiokafka waits for the metadata of such an assigned topic rather than failing). The
    platform has created the topics: a missing one would also answer "not authorized"."""
    admin = AIOKafkaAdminClient(request_timeout_ms=10000, **secured.kafka_options("notifier"))
    await admin.start()
    try:
        described = await admin.describe_topics([*NOTIFIER_TOPICS, AUDIT_TOPIC])
    finally:
        await admin.close()
    errors = {t["topic"]: t["error_code"] for t in described}
    assert errors == {**{t: 0 for t in NOTIFIER_TOPICS}, AUDIT_TOPIC: 29}  # 29: not authorized


async def _cannot_read(secured, user: str, topic: str) -> None:
    consumer = AIOKafkaConsumer(**secured.kafka_options(user), enable_auto_commit=False)
    await consumer.start()
    try:
        consumer.assign([TopicPartition(topic, 0)])
        with pytest.raises(TopicAuthorizationFailedError):
            async with asyncio.timeout(20):
                await consumer.seek_to_beginning(TopicPartition(topic, 0))
                await consumer.getone()
    finally:
        await consumer.stop()


async def test_the_notifier_may_use_only_its_own_group(secured) -> None:
    consumer = AIOKafkaConsumer(
        RESET_TOPIC,
        **secured.kafka_options("notifier"),
        group_id=f"not-the-notifier-{uuid.uuid4().hex[:6]}",
        enable_auto_commit=False,
    )
    with pytest.raises(GroupAuthorizationFailedError):
        async with asyncio.timeout(20):
            await consumer.start()
            await consumer.getone()
    await consumer.stop()


async def test_the_running_topics_have_the_documented_retention(platform: Platform, infra) -> None:
    """What the local broker really holds (docs/operations.md, "Topics")."""
    from aiokafka.admin.config_resource import ConfigResource, ConfigResourceType
    from devinfra.topics import TOPIC_CONFIGS

    admin = AIOKafkaAdminClient(**infra.kafka_options())
    await admin.start()
    try:
        described = await admin.describe_configs(
            [ConfigResource(ConfigResourceType.TOPIC, t) for t in TOPIC_CONFIGS]
        )
    finally:
        await admin.close()
    actual = {}
    for response in described:
        for _, _, _, topic, entries in response.resources:
            actual[topic] = {e[0]: e[1] for e in entries if e[0] in ("retention.ms", "segment.ms")}
    assert actual == TOPIC_CONFIGS
