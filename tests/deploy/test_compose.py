"""docker-compose.yml: valid against the Compose Specification schema (vendored, see
schemas/README.md), runnable with no .env, wired the way the services read their settings,
and publishing nothing but the two public APIs and Mailpit's UI on loopback."""

import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml
from identity_service.core.config import Settings as IdentitySettings
from notifier_service.core.config import Settings as NotifierSettings
from reset_service.core.config import Settings as ResetSettings

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("identity", "reset", "notifier")
SETTINGS = {"identity": IdentitySettings, "reset": ResetSettings, "notifier": NotifierSettings}
# Read by the shared CLI (servicekit.runtime.cli), not by Settings.
CLI_VARIABLES = {"HOST", "PORT", "LOG_LEVEL"}
TOPICS_SCRIPT = "deploy/k8s/base/topics/create-topics.sh"
INTERPOLATION = re.compile(r"\$\{(\w+)(?::?([-?])([^}]*))?\}")


def interpolate(value: Any) -> Any:
    """Compose's interpolation with an empty environment: `${X:-default}` gives the default."""
    if isinstance(value, str):

        def one(match: re.Match[str]) -> str:
            name, kind, default = match.groups()
            assert kind == "-", f"${{{name}}} has no default: compose up would need a .env"
            return default

        return INTERPOLATION.sub(one, value)
    if isinstance(value, dict):
        return {k: interpolate(v) for k, v in value.items()}
    if isinstance(value, list):
        return [interpolate(v) for v in value]
    return value


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return interpolate(yaml.safe_load((REPO / "docker-compose.yml").read_text()))


@pytest.fixture(scope="module")
def services(compose: dict[str, Any]) -> dict[str, Any]:
    return compose["services"]


def test_valid_against_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads((REPO / "tests/deploy/schemas/compose-spec.json").read_text())
    errors = sorted(jsonschema.Draft7Validator(schema).iter_errors(compose), key=str)
    assert not errors, "\n".join(f"{list(e.path)}: {e.message}" for e in errors)


def test_the_schema_check_rejects_a_broken_file(compose: dict[str, Any]) -> None:
    schema = json.loads((REPO / "tests/deploy/schemas/compose-spec.json").read_text())
    broken = {
        **compose,
        "services": {"x": {"image": "a:1", "depends_on": {"y": {"condition": "up"}}}},
    }
    assert not jsonschema.Draft7Validator(schema).is_valid(broken)


def test_images_are_pinned(services: dict[str, Any]) -> None:
    for name, service in services.items():
        image = service["image"]
        _repository, _, tag = image.partition(":")
        assert tag and tag != "latest", f"{name}: {image}"


def test_our_services_and_migrations_build_from_their_dockerfiles(services: dict[str, Any]) -> None:
    for name in SERVICES:
        for entry in (name, f"{name}-migrate"):
            build = services[entry]["build"]
            assert build == {
                "context": ".",
                "dockerfile": "Dockerfile",
                "args": {"SERVICE": name},
            }
            assert (REPO / build["dockerfile"]).is_file()
            assert services[entry]["image"] == f"pwreset/{name}:dev"
        migrate = services[f"{name}-migrate"]
        assert migrate["command"] == ["migrate"] and migrate["restart"] == "no"
        assert migrate["depends_on"] == {"postgres": {"condition": "service_healthy"}}


def test_start_order_waits_for_health_and_one_shots(services: dict[str, Any]) -> None:
    for name in SERVICES:
        needs = services[name]["depends_on"]
        assert needs[f"{name}-migrate"] == {"condition": "service_completed_successfully"}
        assert needs["kafka-topics"] == {"condition": "service_completed_successfully"}
    assert services["reset"]["depends_on"]["identity"] == {"condition": "service_healthy"}
    assert services["notifier"]["depends_on"]["mailpit"] == {"condition": "service_healthy"}
    assert services["kafka-topics"]["depends_on"] == {"kafka": {"condition": "service_healthy"}}
    for name in ("postgres", "kafka", "mailpit", *SERVICES):
        assert services[name]["healthcheck"]["test"], name
    for name in SERVICES:
        assert "/healthz/ready" in services[name]["healthcheck"]["test"][-1]


def test_only_public_apis_and_mailpit_ui_are_published_on_loopback(
    services: dict[str, Any],
) -> None:
    published = {name: s["ports"] for name, s in services.items() if "ports" in s}
    assert published == {
        "identity": ["127.0.0.1:8001:8000"],
        "reset": ["127.0.0.1:8002:8000"],
        "mailpit": ["127.0.0.1:8025:8025"],
    }


def test_topics_and_databases_come_from_the_shared_scripts(services: dict[str, Any]) -> None:
    topics = services["kafka-topics"]
    assert topics["image"] == services["kafka"]["image"]
    assert f"./{TOPICS_SCRIPT}:/opt/pwreset/create-topics.sh:ro" in topics["volumes"]
    assert topics["entrypoint"] == ["/bin/bash", "/opt/pwreset/create-topics.sh"]
    assert topics["environment"]["TOPIC_PARTITIONS"] == "3"
    init = "./deploy/compose/init-databases.sh:/docker-entrypoint-initdb.d/10-databases.sh:ro"
    assert init in services["postgres"]["volumes"]
    for path in (TOPICS_SCRIPT, "deploy/compose/init-databases.sh"):
        assert (REPO / path).stat().st_mode & 0o111, f"{path} is executable"


def test_each_database_url_names_its_own_database_and_role(services: dict[str, Any]) -> None:
    for name in SERVICES:
        for entry in (name, f"{name}-migrate"):
            url = services[entry]["environment"]["DATABASE_URL"]
            assert re.fullmatch(rf"postgresql://{name}:[^@]+@postgres:5432/{name}", url), url


def test_shared_secrets_are_the_same_value_on_both_sides(services: dict[str, Any]) -> None:
    env = {name: services[name]["environment"] for name in SERVICES}
    assert env["identity"]["INTERNAL_API_TOKEN"] == env["reset"]["INTERNAL_API_TOKEN"]
    assert env["reset"]["LINK_SEAL_KEYS"] == env["notifier"]["LINK_SEAL_KEYS"]
    assert env["identity"]["NOTICE_SEAL_KEYS"] == env["notifier"]["NOTICE_SEAL_KEYS"]


def test_reset_calls_identitys_internal_port_which_the_host_cannot_reach(
    services: dict[str, Any],
) -> None:
    identity = services["identity"]
    internal = identity["environment"]["INTERNAL_PORT"]
    assert internal == "8001"
    assert services["reset"]["environment"]["IDENTITY_URL"] == f"http://identity:{internal}"
    assert identity["expose"] == [internal, "9100"]
    # Published: the public port only (the container's 8000), never the internal one.
    assert [p.rsplit(":", 1)[1] for p in identity["ports"]] == ["8000"]


def test_identity_calls_resets_internal_port_and_metrics_stay_off_the_host(
    services: dict[str, Any],
) -> None:
    reset = services["reset"]
    assert reset["environment"]["INTERNAL_PORT"] == "8001"
    assert services["identity"]["environment"]["RESET_URL"] == "http://reset:8001"
    for name in SERVICES:
        assert services[name]["environment"]["METRICS_PORT"] == "9100", name
        assert "9100" in services[name]["expose"], name
        assert not any(p.endswith(":9100") for p in services[name].get("ports", [])), name


@pytest.mark.parametrize("name", SERVICES)
def test_every_variable_is_a_setting_and_the_settings_load(
    name: str, services: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    settings_class = SETTINGS[name]
    for entry in (name, f"{name}-migrate"):
        environment = services[entry]["environment"]
        unknown = (
            set(environment) - CLI_VARIABLES - {f.upper() for f in settings_class.model_fields}
        )
        assert not unknown, f"{entry}: {unknown} is read by nothing (a typo?)"
        for variable, value in environment.items():
            monkeypatch.setenv(variable, str(value))
        settings_class()  # raises on a value the service would refuse at start


def test_containers_run_read_only_without_privileges(services: dict[str, Any]) -> None:
    for name in SERVICES:
        for entry in (name, f"{name}-migrate"):
            service = services[entry]
            assert service["read_only"] is True
            assert service["cap_drop"] == ["ALL"]
            assert "no-new-privileges:true" in service["security_opt"]
            assert any(t.startswith("/tmp") for t in service["tmpfs"])  # noqa: S108 - the mount point checked
