"""The account: who a person is to the platform, and the state of their credentials."""

from dataclasses import dataclass
from datetime import datetime
from uuid import UUID


class EmailTaken(Exception):
    """The mailbox has an account already: one account per normalised address."""


@dataclass(frozen=True)
class Account:
    id: UUID
    # As the person registered it: mail about the account goes to this address only.
    email: str
    password_hash: str
    # The TOTP secret, encrypted (the account id is its associated data); set while two-factor
    # is being set up (pending) and while it is on.
    totp_secret_enc: bytes | None
    totp_enabled: bool
    # The newest TOTP step accepted: a code of this step or an older one is a replay.
    totp_last_step: int | None
    # Second-factor failures in the current window and since when (the throttle), and in a row
    # (the lockout); see domain.second_factor.
    totp_failures: int
    totp_failures_since: datetime | None
    totp_consecutive_failures: int
    # Bumped by every change of credentials or sign-out-everywhere: a session is only written
    # for the epoch its login read, so a login in flight across a reset ends in no session.
    credentials_epoch: int
    # The language the person last used our pages in when it mattered (setting a new
    # password): the emails about the account are written in it. BCP 47, one we ship.
    locale: str = "en"

    @property
    def totp_setup_pending(self) -> bool:
        """A secret was issued for an authenticator, and two-factor is not on yet."""
        return not self.totp_enabled and self.totp_secret_enc is not None
