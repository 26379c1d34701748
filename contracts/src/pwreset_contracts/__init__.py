"""Event contracts of the password-reset platform.

Other teams' services publish and consume our events through this package: the pydantic models
match the JSON Schema files in ``schemas/`` (the source of truth), ``cloudevents_kafka`` encodes and
decodes CloudEvents 1.0 in Kafka binary mode, ``dead_letters`` reads and writes the headers of the
notifier's dead-letter topic, ``sealed`` opens values that only some services may read, and
``compat`` tells whether a schema change would break existing consumers.
"""

from pwreset_contracts.catalog import SCHEMA_MODELS
from pwreset_contracts.dead_letters import DEAD_LETTER_TOPIC, DeadLetterV1
from pwreset_contracts.events import (
    TOPICS,
    AdminActionAuditedV1,
    PasswordChangedV1,
    RegistrationRequestedV1,
    ResetRequestedV1,
    SealedValue,
    SecondFactorChangedV1,
)
from pwreset_contracts.schemas_on_disk import load_schema

__all__ = [
    "DEAD_LETTER_TOPIC",
    "SCHEMA_MODELS",
    "TOPICS",
    "AdminActionAuditedV1",
    "DeadLetterV1",
    "PasswordChangedV1",
    "RegistrationRequestedV1",
    "ResetRequestedV1",
    "SealedValue",
    "SecondFactorChangedV1",
    "load_schema",
]
