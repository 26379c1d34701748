"""The dead-letter topic `notifier.dead-letter.v1`: copying records the notifier gives up on to
it (the delivery use case's DeadLetterTopic port), reading it whole once, and writing records
back to where they came from (the operators' replay tool)."""

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.errors import KafkaError
from servicekit.messaging.consumer import ConsumedRecord, DeadLetterProducer
from servicekit.messaging.kafka import start_idempotent_producer

from notifier_service.domain.dead_letter_replay import DeadLetter, parse
from notifier_service.service_layer.ports import DeadLetterTopicUnavailable


class DeadLetterCopies:
    """The shared kit's dead-letter producer, its Kafka errors turned into the port's."""

    def __init__(self, producer: DeadLetterProducer) -> None:
        self._producer = producer

    async def copy(self, record: ConsumedRecord, reason: str) -> None:
        try:
            await self._producer.copy(record, reason)
        except (KafkaError, OSError, TimeoutError) as exc:
            raise DeadLetterTopicUnavailable(exc) from exc

    async def close(self) -> None:
        await self._producer.close()


async def read_all(bootstrap_servers: str, topic: str, **kafka_options: object) -> list[DeadLetter]:
    """Every record on the topic now, oldest first per partition; no consumer group, so
    reading moves nobody's offsets."""
    consumer = AIOKafkaConsumer(
        bootstrap_servers=bootstrap_servers, enable_auto_commit=False, **kafka_options
    )
    await consumer.start()
    try:
        # aiokafka has no public call for a topic's partitions without subscribing.
        cluster = await consumer._client.fetch_all_metadata()
        partitions = [TopicPartition(topic, p) for p in cluster.partitions_for_topic(topic) or []]
        if not partitions:
            return []
        consumer.assign(partitions)
        await consumer.seek_to_beginning(*partitions)
        ends = await consumer.end_offsets(partitions)
        letters: list[DeadLetter] = []
        remaining = {tp for tp in partitions if ends[tp] > 0}
        while remaining:
            batches = await consumer.getmany(*remaining, timeout_ms=1000)
            for tp, records in batches.items():
                letters += [
                    parse(r.partition, r.offset, r.key, r.value, list(r.headers or []))
                    for r in records
                    if r.offset < ends[tp]
                ]
            for tp in list(remaining):
                if await consumer.position(tp) >= ends[tp]:
                    remaining.discard(tp)
        return sorted(letters, key=lambda letter: (letter.letter.time, letter.position))
    finally:
        await consumer.stop()


async def republish(
    bootstrap_servers: str, letters: list[DeadLetter], **kafka_options: object
) -> None:
    """Each record back to its origin topic, as it first was (same key, value, headers)."""
    producer = await start_idempotent_producer(bootstrap_servers, **kafka_options)
    try:
        for letter in letters:
            await producer.send_and_wait(
                letter.letter.origin_topic,
                value=letter.value,
                key=letter.key,
                headers=letter.original_headers(),
            )
    finally:
        await producer.stop()
