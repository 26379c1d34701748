"""Every published contract: its JSON Schema file (named after its topic) and its pydantic model."""

from pydantic import BaseModel

from pwreset_contracts.dead_letters import DEAD_LETTER_TOPIC, DeadLetterV1
from pwreset_contracts.events import (
    AdminActionAuditedV1,
    PasswordChangedV1,
    RegistrationRequestedV1,
    ResetRequestedV1,
    SecondFactorChangedV1,
)

# Schema file stem (= topic) -> the model that reads and writes what the schema describes.
SCHEMA_MODELS: dict[str, type[BaseModel]] = {
    ResetRequestedV1.topic: ResetRequestedV1,
    PasswordChangedV1.topic: PasswordChangedV1,
    SecondFactorChangedV1.topic: SecondFactorChangedV1,
    RegistrationRequestedV1.topic: RegistrationRequestedV1,
    AdminActionAuditedV1.topic: AdminActionAuditedV1,
    DEAD_LETTER_TOPIC: DeadLetterV1,
}
