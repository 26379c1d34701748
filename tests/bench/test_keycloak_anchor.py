"""The pure parts of `make bench-keycloak` (no Keycloak is started here: the bench itself is not
part of `make test`). What they guard: that Keycloak is asked for the same work as ours (the
realm sends through the sink, allows the reset and the password grant), that "equal argon2id"
really is identity's parameters and is checked against what Keycloak stored, that the JDK chosen
can run it, that the flow finds the pages' links, and that each flow waits for its own email."""

from pathlib import Path

import pytest
from devinfra.errors import InfraError

from bench.keycloak import config, dist, flows
from bench.keycloak.run import identity_argon2
from bench.smtp_sink import Accepted

# As Keycloak 26.7's keycloak.v2 login theme renders them (trimmed).
LOGIN_PAGE = (
    '<div class="kc-form-options"><a tabindex="5" href="/realms/bench-default/login-actions/'
    'reset-credentials?client_id=bench&amp;tab_id=XEzwqBpe03s&amp;client_data=eyJydSI6Imh0In0">'
    "Forgot Password?</a></div>"
)
FORGOT_PAGE = (
    '<form id="kc-reset-password-form" class="pf-v5-c-form pf-v5-u-w-100" '
    'action="http://127.0.0.1:39059/realms/bench-default/login-actions/reset-credentials?'
    'session_code=KUDe&amp;execution=280c&amp;client_id=bench&amp;tab_id=wp1d" method="post">'
    '<input type="text" id="username" name="username" autofocus></form>'
)
# Keycloak's admin API, GET /users/{id}/credentials: credentialData is a JSON string.
STORED = {
    "hashIterations": 2,
    "algorithm": "argon2",
    "additionalParameters": {
        "hashLength": ["32"],
        "memory": ["19456"],
        "type": ["id"],
        "version": ["1.3"],
        "parallelism": ["1"],
    },
}


def test_the_realm_sends_resets_through_the_sink_and_allows_both_logins() -> None:
    users = [config.user("a@example.com", "a@example.com", "pw")]
    realm = config.realm("r", smtp_host="127.0.0.1", smtp_port=2525, users=users)
    assert realm["resetPasswordAllowed"] is True
    assert realm["smtpServer"]["host"] == "127.0.0.1"
    assert realm["smtpServer"]["port"] == "2525"
    assert realm["passwordPolicy"] == "hashAlgorithm(argon2)"
    (client,) = realm["clients"]
    assert client["clientId"] == config.CLIENT_ID and client["publicClient"] is True
    assert client["standardFlowEnabled"] and client["directAccessGrantsEnabled"]
    assert config.REDIRECT_URI in client["redirectUris"]
    # A user missing a required profile field or with a required action cannot use the
    # password grant ("Account is not fully set up"): every user is complete.
    (user,) = realm["users"]
    assert user["emailVerified"] and user["firstName"] and user["lastName"]
    assert user["requiredActions"] == []
    assert user["credentials"] == [{"type": "password", "value": "pw", "temporary": False}]


def test_equal_parameters_are_identitys_and_match_what_keycloak_stores() -> None:
    equal = identity_argon2()
    assert equal == config.Argon2(memory_kib=19 * 1024, iterations=2, parallelism=1)
    assert equal.provider_options() == [
        "--spi-password-hashing--argon2--memory=19456",
        "--spi-password-hashing--argon2--iterations=2",
        "--spi-password-hashing--argon2--parallelism=1",
    ]
    assert config.stored_argon2(STORED) == equal
    assert config.stored_argon2(STORED) != config.KEYCLOAK_DEFAULT_ARGON2
    assert config.stored_argon2({**STORED, "algorithm": "pbkdf2-sha512"}) is None


def test_start_options_point_keycloak_at_the_bench_database() -> None:
    options = config.start_options(
        http_port=18080,
        management_port=19000,
        dsn="postgresql://postgres@127.0.0.1:54321/keycloak",
        extra=["--x=1"],
    )
    assert options[:2] == ["start", "--optimized"]
    assert "--db-url=jdbc:postgresql://127.0.0.1:54321/keycloak" in options
    assert "--db-username=postgres" in options
    assert "--hostname=http://127.0.0.1:18080" in options
    assert "--http-management-port=19000" in options
    assert options[-1] == "--x=1"


def _jdk(root: Path, name: str, version: str) -> Path:
    home = root / name
    (home / "bin").mkdir(parents=True)
    (home / "bin" / "java").write_text("")
    (home / "release").write_text(f'IMPLEMENTOR="x"\nJAVA_VERSION="{version}"\n')
    return home


def test_the_newest_jdk_is_picked_and_one_too_old_is_refused(tmp_path: Path) -> None:
    old = _jdk(tmp_path, "java-8", "1.8.0_392")
    debian = _jdk(tmp_path, "java-17", "17.0.15")
    temurin = _jdk(tmp_path, "temurin-25", "25.0.3")
    assert dist.java_major(old) == 8
    assert dist.pick_java([debian, temurin, old]) == (temurin, 25)
    assert dist.pick_java([old, debian]) == (debian, 17)
    with pytest.raises(InfraError, match="Java 17"):
        dist.pick_java([old, tmp_path / "not-a-jdk"])


def test_keycloak_version_comes_from_the_pom() -> None:
    assert dist.keycloak_version().startswith("26.")


def test_the_flow_follows_keycloaks_forgot_link_and_form_unescaped() -> None:
    assert flows.forgot_link(LOGIN_PAGE) == (
        "/realms/bench-default/login-actions/reset-credentials"
        "?client_id=bench&tab_id=XEzwqBpe03s&client_data=eyJydSI6Imh0In0"
    )
    action = flows.reset_form_action(FORGOT_PAGE)
    assert action.endswith("session_code=KUDe&execution=280c&client_id=bench&tab_id=wp1d")
    with pytest.raises(ValueError):
        flows.forgot_link("<html>an error page</html>")
    page = '<input type="hidden" name="csrf_token" value="abc_DEF-1">'
    assert flows.csrf_token(page) == "abc_DEF-1"


class FakeSink:
    def __init__(self) -> None:
        self.pending: list[Accepted] = [Accepted(1.0, "a@x", "<old>", None)]

    def read_new(self) -> list[Accepted]:
        new, self.pending = self.pending, []
        return new


async def test_each_flow_waits_for_its_own_email_in_order() -> None:
    sink = FakeSink()
    watch = flows.MailWatch(sink)  # an email from before is not a flow's
    first, second, other = watch.expect("a@x"), watch.expect("a@x"), watch.expect("b@x")
    failed = watch.expect("c@x")
    failed.cancel()  # that flow failed and sent nothing
    then = watch.expect("c@x")
    sink.pending = [
        Accepted(10.0, "a@x", "<1>", None),
        Accepted(10.1, "c@x", "<2>", None),
        Accepted(10.2, "z@x", "<3>", None),  # nobody waits for it
    ]
    watch.check()
    assert first.result() == 10.0 and then.result() == 10.1
    assert not second.done() and not other.done()
    sink.pending = [Accepted(11.0, "b@x", "<4>", None), Accepted(12.0, "a@x", "<5>", None)]
    watch.check()
    assert other.result() == 11.0 and second.result() == 12.0
