"""What `ENVIRONMENT=production` refuses, decided on what a value *means*, not how it is written.

A development key under another key id, with padding or a trailing space, is still the
development key; an empty or blank token is no credential at all; a public origin must be https.
Each service's settings collect their problems here and refuse to start on any of them.
"""

from pwreset_contracts.sealed import KeyRing, decode_key
from pydantic import AnyHttpUrl, SecretStr

MIN_TOKEN_CHARS = 32


def _key_bytes(text: str) -> bytes | None:
    try:
        return decode_key(text)
    except ValueError:
        return None


def _ring_bytes(text: str) -> set[bytes]:
    try:
        return set(KeyRing.parse(text).keys.values())
    except ValueError:
        return set()


class ProductionChecks:
    def __init__(self) -> None:
        self.problems: list[str] = []

    def token(self, name: str, value: SecretStr, development: str) -> None:
        text = value.get_secret_value().strip()
        if not text:
            self.problems.append(f"{name} is empty")
        elif text == development.strip():
            self.problems.append(f"{name} is the development default")
        elif len(text) < MIN_TOKEN_CHARS:
            self.problems.append(f"{name} is shorter than {MIN_TOKEN_CHARS} characters")

    def key(self, name: str, value: SecretStr, development: str) -> None:
        if _key_bytes(value.get_secret_value()) == _key_bytes(development):
            self.problems.append(f"{name} is the development key")

    def keyring(self, name: str, value: SecretStr, development: str) -> None:
        """Refused when any key of the ring, under whatever id, is a development key."""
        if _ring_bytes(value.get_secret_value()) & _ring_bytes(development):
            self.problems.append(f"{name} holds the development key")

    def dev_only(self, name: str, value: SecretStr | None) -> None:
        """A development convenience (a static admin token, say) that production must not
        have at all, whatever its value."""
        if value is not None:
            self.problems.append(f"{name} is for development only: unset it")

    def https(self, name: str, url: AnyHttpUrl) -> None:
        if url.scheme != "https":
            self.problems.append(f"{name} must be https")

    def require(self, condition: bool, problem: str) -> None:
        if not condition:
            self.problems.append(problem)

    def raise_if_any(self) -> None:
        if self.problems:
            raise ValueError(
                "refused in production: "
                + "; ".join(self.problems)
                + " (see README, Configuration)"
            )
