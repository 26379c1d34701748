"""The admin API's bearer tokens: JWTs from the company's identity provider, checked with PyJWT
against the provider's published keys (JWKS), or the static development token of `make run`.

What a token must be to pass (each refusal is tested in tests/integration/test_admin_tokens.py):
signed with an algorithm of ADMIN_JWT_ALGORITHMS, all asymmetric (no ``none``, no HS*: an HS256
token "signed" with the public key, the classic algorithm confusion, is refused before any key
is looked at), by a key of the JWKS with the ``kid`` its header names and of that algorithm;
``exp``, ``iat``, ``sub``, ``iss`` (= ADMIN_JWT_ISSUER) and ``aud`` (has ADMIN_JWT_AUDIENCE)
present and right. Roles come from the claim ADMIN_ROLE_CLAIM; a token with none of ours is
valid but may do nothing (403, decided by the domain).

The keys are fetched asynchronously, in the background (``refresh``, from a worker every half
cache lifetime, so a request seldom waits for the provider), and kept ADMIN_JWKS_CACHE_SECONDS.
A token naming a key id
we do not know makes us fetch once more (the provider rotated its keys), but at most once per
ADMIN_JWKS_MIN_REFETCH_SECONDS, and concurrent callers share one fetch: a flood of tokens with
made-up key ids costs the provider one request per interval.
"""

import asyncio
import hmac
import logging
import time
from collections.abc import Callable, Mapping
from typing import Any

import httpx
import jwt

from identity_service.domain.support import Caller, Role, roles_from_claim
from identity_service.service_layer.errors import AdminAuthUnavailable, AdminTokenRejected

log = logging.getLogger("identity.admin_tokens")

MAX_TOKEN_CHARS = 16 * 1024
MAX_SUBJECT_CHARS = 255
DEV_SUBJECT = "dev-admin"
Jwk = dict[str, Any]


class JwksCache:
    def __init__(
        self,
        url: str,
        *,
        ttl: float,
        min_refetch_interval: float,
        timeout: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._url = url
        self._ttl = ttl
        self._min_interval = min_refetch_interval
        self._clock = clock
        self._http = httpx.AsyncClient(timeout=timeout, follow_redirects=False)
        self._keys: dict[str, Jwk] = {}
        self._fetched_at: float | None = None  # last successful fetch
        self._tried_at: float | None = None  # last attempt, successful or not
        self._lock = asyncio.Lock()
        self.fetches = 0  # attempts, for the tests and the log

    async def aclose(self) -> None:
        await self._http.aclose()

    async def refresh(self) -> None:
        """Fetch the keys now (the background worker); a failure keeps the ones we have."""
        async with self._lock:
            await self._fetch()

    async def key(self, kid: str) -> Jwk | None:
        """The key with this id, or None when the provider does not have it."""
        if self._fresh() and kid in self._keys:
            return self._keys[kid]
        async with self._lock:
            # Another caller may have fetched while this one waited.
            if self._fresh() and kid in self._keys:
                return self._keys[kid]
            if self._may_fetch():
                await self._fetch()
            if self._fetched_at is None:
                raise AdminAuthUnavailable("the identity provider's keys could not be fetched")
            return self._keys.get(kid)

    def _fresh(self) -> bool:
        return self._fetched_at is not None and self._clock() - self._fetched_at < self._ttl

    def _may_fetch(self) -> bool:
        if self._tried_at is None or not self._fresh():
            # Stale keys: fetch, but not faster than the interval if the provider is down.
            return self._tried_at is None or self._clock() - self._tried_at >= min(
                self._min_interval, self._ttl
            )
        return self._clock() - self._tried_at >= self._min_interval  # an unknown kid

    async def _fetch(self) -> None:
        self._tried_at = self._clock()
        self.fetches += 1
        try:
            response = await self._http.get(self._url, headers={"Accept": "application/json"})
            response.raise_for_status()
            document = response.json()
        except (httpx.HTTPError, ValueError) as exc:
            # Keys fetched before stay in use: a provider hiccup does not lock support out.
            log.warning("JWKS fetch failed", extra={"fields": {"error": type(exc).__name__}})
            return
        keys = document.get("keys") if isinstance(document, dict) else None
        if not isinstance(keys, list):
            log.warning("JWKS document without a keys list")
            return
        self._keys = {
            k["kid"]: k for k in keys if isinstance(k, dict) and isinstance(k.get("kid"), str)
        }
        self._fetched_at = self._clock()


class JwtAdminTokens:
    def __init__(
        self,
        jwks: JwksCache,
        *,
        issuer: str,
        audience: str,
        algorithms: tuple[str, ...],
        role_claim: str,
        leeway_seconds: int,
    ) -> None:
        self._jwks = jwks
        self._issuer = issuer
        self._audience = audience
        self._algorithms = list(algorithms)
        self._role_path = role_claim.split(".")
        self._leeway = leeway_seconds

    async def caller(self, token: str) -> Caller:
        if len(token) > MAX_TOKEN_CHARS:
            raise AdminTokenRejected("token too long")
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise AdminTokenRejected("malformed token") from exc
        alg, kid = header.get("alg"), header.get("kid")
        # Before any key is touched: an algorithm we do not allow (none, HS256 with our public
        # key as its secret) never reaches a verifier.
        if alg not in self._algorithms:
            raise AdminTokenRejected("algorithm not allowed")
        if not isinstance(kid, str) or not kid:
            raise AdminTokenRejected("no key id")
        jwk = await self._jwks.key(kid)
        if jwk is None:
            raise AdminTokenRejected("unknown key id")
        claims = self._verified_claims(token, jwk, alg)
        subject = claims.get("sub")
        if not isinstance(subject, str) or not subject.strip() or len(subject) > MAX_SUBJECT_CHARS:
            raise AdminTokenRejected("no usable subject")
        return Caller(subject=subject, roles=roles_from_claim(self._role_claim(claims)))

    def _verified_claims(self, token: str, jwk: Jwk, alg: str) -> dict[str, Any]:
        if jwk.get("kty") == "oct" or jwk.get("use", "sig") != "sig":
            raise AdminTokenRejected("key not usable for signatures")
        if jwk.get("alg", alg) != alg:
            raise AdminTokenRejected("algorithm does not match the key")
        try:
            key = jwt.PyJWK(jwk, algorithm=alg)
            claims: dict[str, Any] = jwt.decode(
                token,
                key=key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                leeway=self._leeway,
                options={"require": ["exp", "iat", "iss", "aud", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise AdminTokenRejected("token expired") from exc
        except jwt.InvalidIssuerError as exc:
            raise AdminTokenRejected("wrong issuer") from exc
        except jwt.InvalidAudienceError as exc:
            raise AdminTokenRejected("wrong audience") from exc
        except jwt.MissingRequiredClaimError as exc:
            raise AdminTokenRejected(f"claim missing: {exc.claim}") from exc
        except (jwt.PyJWTError, ValueError, TypeError) as exc:
            raise AdminTokenRejected("invalid token") from exc
        return claims

    def _role_claim(self, claims: Mapping[str, Any]) -> object:
        value: object = claims
        for part in self._role_path:
            value = value.get(part) if isinstance(value, Mapping) else None
        return value


class DevAdminTokens:
    """`make run` only (production refuses ADMIN_DEV_TOKEN): one static token, subject
    ``dev-admin`` with role admin; otherwise the identity provider's tokens, if configured."""

    def __init__(self, token: str, fallback: JwtAdminTokens | None) -> None:
        self._token = token.encode()
        self._fallback = fallback

    async def caller(self, token: str) -> Caller:
        if hmac.compare_digest(token.encode(), self._token):
            return Caller(subject=DEV_SUBJECT, roles=frozenset({Role.ADMIN}))
        if self._fallback is None:
            raise AdminTokenRejected("invalid token")
        return await self._fallback.caller(token)
