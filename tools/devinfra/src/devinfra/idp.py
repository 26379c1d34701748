"""A stand-in for the company's identity provider in tests (identity's admin API): key pairs
made on the spot, their public halves served as a JWKS over real HTTP on loopback (counting
fetches), and tokens signed with them. Nothing is hard-coded: every run has new keys."""

import json
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import jwt
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from jwt.algorithms import ECAlgorithm, RSAAlgorithm

ISSUER = "https://idp.corp.example/realms/staff"
AUDIENCE = "pwreset-admin"


@dataclass
class SigningKey:
    kid: str
    alg: str
    private: Any

    @classmethod
    def rsa(cls) -> "SigningKey":
        return cls(uuid.uuid4().hex, "RS256", rsa.generate_private_key(65537, 2048))

    @classmethod
    def ec(cls) -> "SigningKey":
        return cls(uuid.uuid4().hex, "ES256", ec.generate_private_key(ec.SECP256R1()))

    def public_jwk(self) -> dict[str, Any]:
        algorithm = RSAAlgorithm if self.alg.startswith(("RS", "PS")) else ECAlgorithm
        jwk: dict[str, Any] = json.loads(algorithm.to_jwk(self.private.public_key()))
        return {**jwk, "kid": self.kid, "alg": self.alg, "use": "sig"}


@dataclass
class Provider:
    """The JWKS endpoint and a token factory."""

    keys: list[SigningKey]
    url: str = ""
    fetches: int = 0
    extra_jwks: list[dict[str, Any]] = field(default_factory=list)

    def jwks(self) -> dict[str, Any]:
        return {"keys": [k.public_jwk() for k in self.keys] + self.extra_jwks}

    def claims(self, **overrides: Any) -> dict[str, Any]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": ISSUER,
            "aud": AUDIENCE,
            "sub": "grace@corp.example",
            "iat": now,
            "exp": now + 300,
            "roles": ["support"],
        }
        claims.update(overrides)
        return {k: v for k, v in claims.items() if v is not None}

    def token(self, key: SigningKey | None = None, *, kid: str | None = None, **claims: Any) -> str:
        key = key or self.keys[0]
        return jwt.encode(
            self.claims(**claims),
            key.private,
            algorithm=key.alg,
            headers={"kid": kid or key.kid},
        )


@contextmanager
def serving(provider: Provider) -> Iterator[Provider]:
    """The provider's JWKS at ``provider.url``, over HTTP, for as long as the block runs."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            provider.fetches += 1
            body = json.dumps(provider.jwks()).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    provider.url = f"http://127.0.0.1:{server.server_address[1]}/jwks.json"
    try:
        yield provider
    finally:
        server.shutdown()
        server.server_close()
