"""The admin API's settings fail at start when they would weaken it."""

import pytest
from identity_service.core.config import Settings
from pydantic import ValidationError

IDP = {
    "admin_port": 8201,
    "admin_jwks_url": "https://idp.corp.example/realms/staff/certs",
    "admin_jwt_issuer": "https://idp.corp.example/realms/staff",
    "admin_jwt_audience": "pwreset-admin",
}


@pytest.mark.parametrize(
    "algorithms", ["HS256", "RS256,HS256", "none", "RS256,none", " ", "hs512", "rs256"]
)
def test_symmetric_or_no_signature_cannot_be_allowed(algorithms: str) -> None:
    with pytest.raises(ValidationError, match="ADMIN_JWT_ALGORITHMS"):
        Settings(**IDP, admin_jwt_algorithms=algorithms)


def test_the_admin_port_needs_a_way_to_check_callers() -> None:
    with pytest.raises(ValidationError, match="ADMIN_PORT needs"):
        Settings(admin_port=8201)
    with pytest.raises(ValidationError, match="go together"):
        Settings(admin_port=8201, admin_jwks_url=IDP["admin_jwks_url"])
    assert Settings(**IDP).admin_jwt_configured
    assert Settings(admin_port=8201, admin_dev_token="a-development-token").admin_dev_token


def test_the_admin_port_is_a_port_of_its_own() -> None:
    with pytest.raises(ValidationError, match="must differ"):
        Settings(**IDP | {"internal_port": 8201})


def test_a_short_development_token_is_refused_and_a_blank_one_is_unset() -> None:
    with pytest.raises(ValidationError, match="at least 16"):
        Settings(admin_dev_token="short")
    assert Settings(admin_dev_token="  ").admin_dev_token is None
