"""Request and response bodies of identity's HTTP API."""

from typing import Annotated
from uuid import UUID

from pwreset_contracts.emails import API_EMAIL_PATTERN, API_MAX_LENGTH, supported_email
from pydantic import AfterValidator, BaseModel, ConfigDict, EmailStr, Field, StringConstraints
from servicekit.i18n import LanguageTag

TotpCode = Annotated[str, StringConstraints(pattern=r"^[0-9]{6}$")]
RecoveryCode = Annotated[str, StringConstraints(min_length=10, max_length=16)]


def _stripped(value: str) -> str:
    return value.strip()


# EmailStr checks the syntax; supported_email refuses what the platform's one normalisation
# refuses (non-ASCII local parts, invalid IDNA domains) with a 422, as docs/security.md says.
# The pattern only documents what EmailStr refuses (pwreset_contracts.emails).
Email = Annotated[
    EmailStr,
    Field(max_length=API_MAX_LENGTH, json_schema_extra={"pattern": API_EMAIL_PATTERN}),
    AfterValidator(_stripped),
    AfterValidator(supported_email),
]
# Length limits here only stop abuse; the policy (with its reasons) is checked by the service.
Password = Annotated[str, Field(min_length=1, max_length=1024)]


class Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", str_strip_whitespace=False)


class CreateAccount(Strict):
    email: Email
    password: Password


class RegistrationAccepted(BaseModel):
    status: str = "verification_sent"
    message: str = (
        "If this address can receive mail, it has a message from us: follow its link to finish "
        "creating the account."
    )


class VerifyRegistration(Strict):
    token: Annotated[
        str, StringConstraints(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
    ]


class AccountCreated(BaseModel):
    id: UUID
    email: str


class Login(Strict):
    email: Email
    password: Password
    totp_code: TotpCode | None = None
    recovery_code: RecoveryCode | None = None


class SessionIssued(BaseModel):
    session_token: str
    token_type: str = "bearer"  # noqa: S105 - a scheme name, not a secret


class TotpSetupOut(BaseModel):
    secret: str
    provisioning_uri: str


class TotpActivate(Strict):
    code: TotpCode
    # Entered again: a session alone must not be enough to turn two-factor on.
    password: Password


class TotpDisable(Strict):
    password: Password
    totp_code: TotpCode | None = None
    recovery_code: RecoveryCode | None = None


class TotpDisabled(BaseModel):
    status: str = "two_factor_off"


class TotpActivated(BaseModel):
    recovery_codes: list[str]
    message: str = "Two-factor authentication is on. Keep these recovery codes somewhere safe."


class Lookup(Strict):
    email: Email


class LookupResult(BaseModel):
    account_id: UUID | None  # None: no account with this email
    totp_enabled: bool
    # The address stored for the account: the only one mail about it may go to (None: no
    # account).
    email: str | None


class TotpVerify(Strict):
    code: TotpCode


class TotpVerifyResult(BaseModel):
    valid: bool


class SetPassword(Strict):
    new_password: Password
    totp_code: TotpCode | None = None
    recovery_code: RecoveryCode | None = None
    client_ip: Annotated[str, Field(max_length=45)] | None = None
    # The language the person set the password in (BCP 47); kept on the account for the
    # emails about it. Absent (a reset from before): the account's stays as it is.
    locale: LanguageTag | None = None


class UndoPasswordChange(Strict):
    token: Annotated[
        str, StringConstraints(min_length=16, max_length=128, pattern=r"^[A-Za-z0-9_-]+$")
    ]


class UndoDone(BaseModel):
    status: str = "sessions_revoked"
    message: str = (
        "Every session of the account was signed out and a password reset was started: "
        "check your email and use the verification code below."
    )
    verification_code: str | None
