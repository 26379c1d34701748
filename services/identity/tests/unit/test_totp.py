import base64

import pyotp
from identity_service.domain.totp import STEP_SECONDS, match_code, new_secret

NOW = 1_800_000_000.0


def code_at(secret: str, when: float) -> str:
    return pyotp.TOTP(secret).at(when)


def test_secret_has_at_least_160_bits() -> None:
    assert len(base64.b32decode(new_secret())) >= 20


def test_accepts_current_and_one_step_either_side_only() -> None:
    secret = new_secret()
    step = int(NOW) // STEP_SECONDS
    for offset in (-1, 0, 1):
        match = match_code(secret, code_at(secret, NOW + offset * 30), now=NOW, last_used_step=None)
        assert match is not None and match.step == step + offset
    for offset in (-2, 2):
        assert (
            match_code(secret, code_at(secret, NOW + offset * 30), now=NOW, last_used_step=None)
            is None
        )


def test_a_step_is_accepted_once() -> None:
    secret = new_secret()
    code = code_at(secret, NOW)
    step = int(NOW) // STEP_SECONDS
    replay = match_code(secret, code, now=NOW, last_used_step=step)
    assert replay is not None and replay.replayed
    fresh = match_code(secret, code, now=NOW, last_used_step=step - 1)
    assert fresh is not None and not fresh.replayed


def test_malformed_codes_are_rejected() -> None:
    secret = new_secret()
    for code in ("", "12345", "1234567", "abcdef", " 12345"):
        assert match_code(secret, code, now=NOW, last_used_step=None) is None
