"""At-least-once Kafka consumption with manual commits, for services that consume events.

A service gives `AtLeastOnceConsumer` a handler that turns one record into a `Step`: `Commit`
(done, durable) or `PauseAndRetry(reason)` (a dependency is away); optionally also a batch
handler that takes a whole fetch at once. The loop commits only what is
done (`commit_tracking`), pauses and retries without leaving the group (`pause_retry`), and
copies what the service gives up on to a dead-letter topic with `DeadLetterProducer`.
"""

from servicekit.messaging.consumer.commit_tracking import CommitTracker
from servicekit.messaging.consumer.dead_letters import ConsumedRecord, DeadLetterProducer
from servicekit.messaging.consumer.loop import (
    CONSUMER_DEFAULTS,
    AtLeastOnceConsumer,
    ConsumerGauges,
)
from servicekit.messaging.consumer.pause_retry import PauseState
from servicekit.messaging.consumer.step import (
    COMMIT,
    BatchHandler,
    Commit,
    Handler,
    PauseAndRetry,
    Record,
    Step,
)

__all__ = [
    "COMMIT",
    "CONSUMER_DEFAULTS",
    "AtLeastOnceConsumer",
    "BatchHandler",
    "Commit",
    "CommitTracker",
    "ConsumedRecord",
    "ConsumerGauges",
    "DeadLetterProducer",
    "Handler",
    "PauseAndRetry",
    "PauseState",
    "Record",
    "Step",
]
