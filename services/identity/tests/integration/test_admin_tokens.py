"""The admin API's token check against a real JWKS endpoint (devinfra.idp: fresh key pairs, the
public halves over HTTP on loopback). Each test attacks one rule: a token is refused for a wrong
issuer or audience, once expired, for an unknown key id, an algorithm outside the allow-list
(none, HS256 "signed" with the public key), a forged signature or an edited subject; and forged
key ids cannot make identity hammer the provider."""

import asyncio
import base64
import json
import time
import uuid
from collections.abc import AsyncIterator, Iterator

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from devinfra.idp import AUDIENCE, ISSUER, Provider, SigningKey, serving
from identity_service.adapters.admin_tokens import DevAdminTokens, JwksCache, JwtAdminTokens
from identity_service.bootstrap import jwks_refresher
from identity_service.core.config import Settings
from identity_service.domain.support import Role
from identity_service.service_layer.errors import AdminAuthUnavailable, AdminTokenRejected

ALGORITHMS = ("RS256", "PS256", "ES256", "EdDSA")


@pytest.fixture(scope="module")
def provider() -> Iterator[Provider]:
    with serving(Provider([SigningKey.rsa(), SigningKey.ec()])) as running:
        yield running


@pytest.fixture
async def jwks(provider: Provider) -> AsyncIterator[JwksCache]:
    cache = JwksCache(provider.url, ttl=600, min_refetch_interval=30)
    yield cache
    await cache.aclose()


def tokens(jwks: JwksCache, role_claim: str = "roles") -> JwtAdminTokens:
    return JwtAdminTokens(
        jwks,
        issuer=ISSUER,
        audience=AUDIENCE,
        algorithms=ALGORITHMS,
        role_claim=role_claim,
        leeway_seconds=5,
    )


async def refused(jwks: JwksCache, token: str) -> str:
    with pytest.raises(AdminTokenRejected) as caught:
        await tokens(jwks).caller(token)
    return caught.value.reason


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _unsigned(header: dict, claims: dict, signature: bytes = b"") -> str:
    return ".".join(
        [_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode()), _b64(signature)]
    )


async def test_a_token_of_the_provider_names_its_subject_and_roles(
    provider: Provider, jwks: JwksCache
) -> None:
    for key in provider.keys:  # RSA and EC
        caller = await tokens(jwks).caller(provider.token(key, roles=["support", "admin"]))
        assert caller.subject == "grace@corp.example"
        assert caller.roles == {Role.SUPPORT, Role.ADMIN}


async def test_a_wrong_issuer_is_refused(provider: Provider, jwks: JwksCache) -> None:
    assert await refused(jwks, provider.token(iss="https://idp.evil.example/")) == "wrong issuer"


async def test_a_wrong_audience_is_refused(provider: Provider, jwks: JwksCache) -> None:
    # A token the provider issued for another application of the company.
    assert await refused(jwks, provider.token(aud="wiki")) == "wrong audience"


async def test_an_expired_token_is_refused(provider: Provider, jwks: JwksCache) -> None:
    old = int(time.time()) - 3600
    assert await refused(jwks, provider.token(iat=old, exp=old + 300)) == "token expired"


async def test_a_token_without_expiry_or_subject_is_refused(
    provider: Provider, jwks: JwksCache
) -> None:
    assert await refused(jwks, provider.token(exp=None)) == "claim missing: exp"
    assert await refused(jwks, provider.token(sub=None)) == "claim missing: sub"
    assert await refused(jwks, provider.token(sub="  ")) == "no usable subject"


async def test_a_token_without_our_roles_grants_none(provider: Provider, jwks: JwksCache) -> None:
    """Valid, but may do nothing (the admin API answers 403: tests/e2e and the unit tests)."""
    for roles in (None, [], ["viewer", "SUPPORT"], "superuser", {"support": True}):
        caller = await tokens(jwks).caller(provider.token(roles=roles))
        assert caller.roles == frozenset()


async def test_the_role_claim_can_be_nested(provider: Provider, jwks: JwksCache) -> None:
    token = provider.token(roles=None, realm_access={"roles": ["admin", "offline_access"]})
    caller = await tokens(jwks, "realm_access.roles").caller(token)
    assert caller.roles == {Role.ADMIN}


async def test_an_unknown_key_id_is_refused(provider: Provider, jwks: JwksCache) -> None:
    assert await refused(jwks, provider.token(kid="not-a-key-of-ours")) == "unknown key id"


async def test_a_key_pair_of_the_attackers_own_under_our_key_id_is_refused(
    provider: Provider, jwks: JwksCache
) -> None:
    theirs = SigningKey.rsa()
    forged = provider.token(theirs, kid=provider.keys[0].kid, roles=["admin"])
    assert await refused(jwks, forged) == "invalid token"


async def test_a_subject_edited_after_signing_is_refused(
    provider: Provider, jwks: JwksCache
) -> None:
    header, _, signature = provider.token(roles=["support"]).split(".")
    claims = provider.claims(sub="ada.admin@corp.example", roles=["admin"])
    spoofed = f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"
    assert await refused(jwks, spoofed) == "invalid token"


async def test_alg_none_is_refused(provider: Provider, jwks: JwksCache) -> None:
    header = {"alg": "none", "typ": "JWT", "kid": provider.keys[0].kid}
    assert await refused(jwks, _unsigned(header, provider.claims())) == "algorithm not allowed"
    header["alg"] = "None"
    assert await refused(jwks, _unsigned(header, provider.claims())) == "algorithm not allowed"


async def test_hs256_signed_with_the_public_key_is_refused(
    provider: Provider, jwks: JwksCache
) -> None:
    """The classic algorithm confusion: the public key (which anyone can fetch) used as the
    HMAC secret, in the hope the verifier hands the same key to HS256."""
    key = provider.keys[0]
    public_pem = key.private.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    claims = provider.claims(roles=["admin"])
    header = {"alg": "HS256", "typ": "JWT", "kid": key.kid}
    import hashlib
    import hmac

    for secret in (public_pem, json.dumps(key.public_jwk()).encode(), key.public_jwk()["n"]):
        secret_bytes = secret if isinstance(secret, bytes) else secret.encode()
        signing_input = ".".join(
            [_b64(json.dumps(header).encode()), _b64(json.dumps(claims).encode())]
        )
        signature = hmac.new(secret_bytes, signing_input.encode(), hashlib.sha256).digest()
        token = f"{signing_input}.{_b64(signature)}"
        assert await refused(jwks, token) == "algorithm not allowed"


async def test_a_symmetric_key_slipped_into_the_jwks_is_never_used(
    provider: Provider, jwks: JwksCache
) -> None:
    """Even a JWKS that carries an `oct` key (a misconfigured provider) signs nothing for us."""
    secret = uuid.uuid4().hex
    kid = "shared-secret"
    provider.extra_jwks.append(
        {"kty": "oct", "kid": kid, "alg": "RS256", "k": _b64(secret.encode())}
    )
    try:
        forged = jwt.encode(
            provider.claims(roles=["admin"]), secret, algorithm="HS256", headers={"kid": kid}
        )
        assert await refused(jwks, forged) == "algorithm not allowed"
        header = {"alg": "RS256", "kid": kid}
        assert await refused(jwks, _unsigned(header, provider.claims(), b"x" * 32)) == (
            "key not usable for signatures"
        )
    finally:
        provider.extra_jwks.clear()


async def test_an_algorithm_other_than_the_keys_own_is_refused(
    provider: Provider, jwks: JwksCache
) -> None:
    """The RSA key is published for RS256: a PS256 signature by the same key is not taken."""
    key = provider.keys[0]
    token = jwt.encode(provider.claims(), key.private, algorithm="PS256", headers={"kid": key.kid})
    assert await refused(jwks, token) == "algorithm does not match the key"


async def test_garbage_is_refused_without_an_error(jwks: JwksCache) -> None:
    for token in ("", "a.b", "a.b.c", "....", "ey" * 10_000, "eyJhbGciOiJSUzI1NiJ9.e30."):
        with pytest.raises(AdminTokenRejected):
            await tokens(jwks).caller(token)


async def test_forged_key_ids_cannot_make_us_hammer_the_provider(provider: Provider) -> None:
    """60 tokens at once with made-up key ids: one refetch for all of them (concurrent callers
    share it), then none until ADMIN_JWKS_MIN_REFETCH_SECONDS have passed."""
    now = [1000.0]
    cache = JwksCache(provider.url, ttl=600, min_refetch_interval=30, clock=lambda: now[0])
    try:
        await tokens(cache).caller(provider.token())
        start = provider.fetches
        floods = [provider.token(kid=uuid.uuid4().hex) for _ in range(60)]

        async def flood() -> None:
            results = await asyncio.gather(
                *(tokens(cache).caller(t) for t in floods), return_exceptions=True
            )
            assert all(isinstance(r, AdminTokenRejected) for r in results)

        await flood()  # within the interval of the first fetch: none
        assert provider.fetches == start
        now[0] += 31
        await flood()
        assert provider.fetches == start + 1
        await flood()
        now[0] += 29
        await flood()
        assert provider.fetches == start + 1
        now[0] += 2
        await flood()
        assert provider.fetches == start + 2
    finally:
        await cache.aclose()


async def test_a_rotated_in_key_is_fetched_once_and_then_trusted(provider: Provider) -> None:
    cache = JwksCache(provider.url, ttl=600, min_refetch_interval=0.2)
    try:
        await tokens(cache).caller(provider.token())
        new = SigningKey.ec()
        provider.keys.append(new)
        await asyncio.sleep(0.3)
        caller = await tokens(cache).caller(provider.token(new, roles=["admin"]))
        assert caller.roles == {Role.ADMIN}
    finally:
        provider.keys.remove(new)
        await cache.aclose()


async def test_no_reachable_provider_is_unavailable_not_a_pass() -> None:
    cache = JwksCache("http://127.0.0.1:9/jwks.json", ttl=600, min_refetch_interval=30)
    try:
        token = jwt.encode(
            {"sub": "x"}, SigningKey.ec().private, algorithm="ES256", headers={"kid": "k"}
        )
        with pytest.raises(AdminAuthUnavailable):
            await tokens(cache).caller(token)
    finally:
        await cache.aclose()


async def test_the_development_token_is_compared_whole(provider: Provider, jwks: JwksCache) -> None:
    dev = DevAdminTokens("dev-only-admin-token-0123456789", tokens(jwks))
    caller = await dev.caller("dev-only-admin-token-0123456789")
    assert caller.subject == "dev-admin" and caller.roles == {Role.ADMIN}
    for near in ("dev-only-admin-token-012345678", "dev-only-admin-token-0123456789 ", ""):
        with pytest.raises(AdminTokenRejected):
            await dev.caller(near)
    # The provider's tokens still work beside it.
    assert (await dev.caller(provider.token())).roles == {Role.SUPPORT}


async def test_the_background_refresh_has_the_keys_ready_before_the_first_request(
    provider: Provider,
) -> None:
    """identity's jwks-refresh worker (bootstrap.jwks_refresher) fetches at start and every half
    cache lifetime: a request then finds the keys without a fetch of its own."""
    cache = JwksCache(provider.url, ttl=600, min_refetch_interval=30)
    settings = Settings(
        admin_port=8201,
        admin_jwks_url=provider.url,
        admin_jwt_issuer=ISSUER,
        admin_jwt_audience=AUDIENCE,
        admin_jwks_cache_seconds=30,
    )
    stop = asyncio.Event()
    before = provider.fetches
    worker = asyncio.create_task(jwks_refresher(cache, settings)(stop))
    try:
        for _ in range(100):
            if provider.fetches > before:
                break
            await asyncio.sleep(0.05)
        fetched = provider.fetches
        assert fetched == before + 1
        caller = await tokens(cache).caller(provider.token())
        assert caller.subject == "grace@corp.example" and provider.fetches == fetched
    finally:
        stop.set()
        await asyncio.wait_for(worker, 5)
        await cache.aclose()
