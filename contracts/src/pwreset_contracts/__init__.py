"""Event contracts of the password-reset platform.

Other teams' services publish and consume our events through this package: the pydantic models
match the JSON Schema files in ``schemas/`` (the source of truth), ``cloudevents_kafka`` encodes and
decodes CloudEvents 1.0 in Kafka binary mode, and ``sealed`` opens values that only some services
may read.
"""

from pwreset_contracts.events import TOPICS, PasswordChangedV1, ResetRequestedV1, SealedValue
from pwreset_contracts.schemas_on_disk import load_schema

__all__ = ["TOPICS", "PasswordChangedV1", "ResetRequestedV1", "SealedValue", "load_schema"]
