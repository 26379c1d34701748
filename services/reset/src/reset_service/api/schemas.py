"""Request and response bodies of the reset service's HTTP API."""

import functools
from datetime import datetime
from typing import TYPE_CHECKING, Annotated
from uuid import UUID

from pwreset_contracts.emails import API_EMAIL_PATTERN, API_MAX_LENGTH, supported_email
from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints
from pydantic.networks import validate_email
from servicekit.i18n import LanguageTag

from reset_service.domain.secrets_issued import LINK_TOKEN_PATTERN


@functools.lru_cache(maxsize=4096)
def _checked_email(value: str) -> str:
    return validate_email(value)[1]


if TYPE_CHECKING:
    RememberedEmailStr = str  # as pydantic types EmailStr itself
else:

    class RememberedEmailStr(EmailStr):
        """``EmailStr`` (same checks, normal form, errors and schema) remembering the addresses
        it accepted: its check is ~40 µs of IDNA and parsing, the costliest step of validating
        a reset request, and the same addresses come back. Bounded; a refused one is not
        kept."""

        @classmethod
        def _validate(cls, input_value: str, /) -> str:
            return _checked_email(input_value)


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ResetRequest(Strict):
    # An address the platform's normalisation refuses (a non-ASCII local part) can never be an
    # account's: 422, the same for everyone, so it says nothing about accounts. The pattern only
    # documents what EmailStr refuses (pwreset_contracts.emails).
    email: Annotated[
        RememberedEmailStr,
        Field(max_length=API_MAX_LENGTH, json_schema_extra={"pattern": API_EMAIL_PATTERN}),
        AfterValidator(supported_email),
    ]
    # The language of the email; absent: the request's Accept-Language (the public API), or
    # English (also for a tag we ship no catalog for). identity sends its page's language on
    # "This wasn't me".
    locale: LanguageTag | None = None


class ResetRequestAccepted(BaseModel):
    """The same for every email: known, unknown, with or without two-factor."""

    status: str = "accepted"
    verification_code: str
    expires_in_seconds: int
    message: str = (
        "Keep this tab open. If an account exists for this address, an email with subject "
        "'Reset your password' is on its way; enter this code with your new password."
    )


class ConfirmReset(Strict):
    token: Annotated[
        str, StringConstraints(min_length=16, max_length=128, pattern=LINK_TOKEN_PATTERN)
    ]
    new_password: Annotated[str, Field(min_length=1, max_length=1024)]
    verification_code: Annotated[str, Field(min_length=1, max_length=32)] | None = None
    totp_code: Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")] | None = None
    recovery_code: Annotated[str, StringConstraints(min_length=10, max_length=16)] | None = None


class ResetConfirmed(BaseModel):
    status: str = "password_changed"
    message: str = "Your password was changed. Log in with your new password."


class OpenResetRequest(BaseModel):
    """For identity's admin API: no link, code or hash."""

    id: UUID
    created_at: datetime
    expires_at: datetime
    requires_totp: bool
    failed_attempts: int


class OpenResetRequests(BaseModel):
    open: list[OpenResetRequest]


class ResetRequestsCancelled(BaseModel):
    cancelled: int
