"""RFC 6238 TOTP: 30 s steps, ±1 step of drift, each step accepted at most once."""

import hmac
from dataclasses import dataclass

import pyotp

STEP_SECONDS = 30
SECRET_BYTES = 20  # 160 bits, the RFC 4226 recommendation


def new_secret() -> str:
    return pyotp.random_base32(length=32)  # 32 base32 characters = 160 bits


def provisioning_uri(secret: str, *, account_name: str, issuer: str) -> str:
    return pyotp.TOTP(secret).provisioning_uri(name=account_name, issuer_name=issuer)


@dataclass(frozen=True)
class TotpMatch:
    step: int
    # The code is right but its step (or a later one) was used already: a replay.
    replayed: bool = False


def match_code(
    secret: str, code: str, *, now: float, last_used_step: int | None
) -> TotpMatch | None:
    """The step a code belongs to, if it is valid now; `replayed` when that step is not newer
    than the last accepted one (such a match must be refused)."""
    if not (len(code) == 6 and code.isdigit()):
        return None
    totp = pyotp.TOTP(secret, interval=STEP_SECONDS)
    current = int(now) // STEP_SECONDS
    found: int | None = None
    for step in (current - 1, current, current + 1):
        # Check every window, so the time taken does not depend on which one matched.
        if hmac.compare_digest(totp.generate_otp(step), code) and found is None:
            found = step
    if found is None:
        return None
    return TotpMatch(step=found, replayed=last_used_step is not None and found <= last_used_step)
