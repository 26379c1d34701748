"""Recovery codes for a lost authenticator: shown once, stored keyed-hashed, each used once."""

import hashlib
import hmac
import secrets

# Lower case without look-alikes (0/o, 1/l/i): typed from a printout.
ALPHABET = "abcdefghjkmnpqrstuvwxyz23456789"
GROUP = 5


def new_recovery_codes(count: int) -> list[str]:
    """``count`` codes like ``k7m2p-x9qrt`` (10 characters, about 50 bits each)."""
    return [
        "-".join("".join(secrets.choice(ALPHABET) for _ in range(GROUP)) for _ in range(2))
        for _ in range(count)
    ]


def normalise(code: str) -> str:
    return code.strip().lower().replace("-", "").replace(" ", "")


def looks_like_recovery_code(code: str) -> bool:
    value = normalise(code)
    return len(value) == 2 * GROUP and set(value) <= set(ALPHABET)


def digest(key: bytes, code: str) -> bytes:
    # Keyed, so a copy of the table alone cannot be brute-forced offline (50 bits is not much).
    return hmac.new(key, normalise(code).encode(), hashlib.sha256).digest()
