"""What every rendered workload must have: probes, requests and limits, the restricted
security context, no service-account token, a writable /tmp only; plus Services, PDBs, HPAs,
migration Jobs, and secrets that are only ever referenced."""

import base64
import secrets
from pathlib import Path
from typing import Any

import pytest
import yaml
from identity_service.core.config import Settings as IdentitySettings
from notifier_service.core.config import Settings as NotifierSettings
from pydantic import ValidationError
from reset_service.core.config import Settings as ResetSettings

from .conftest import RENDERINGS, base_name

REPO = Path(__file__).resolve().parents[2]
SERVICES = ("identity", "reset", "notifier")
HTTP_SERVICES = ("identity", "reset")
SETTINGS = {"identity": IdentitySettings, "reset": ResetSettings, "notifier": NotifierSettings}
# Read by servicekit.runtime.cli, not by a Settings class.
CLI_VARIABLES = {"HOST", "PORT", "LOG_LEVEL", "SHUTDOWN_DRAIN_SECONDS", "SHUTDOWN_GRACE_SECONDS"}
# Whatever a person must not read in a manifest.
SECRET_VARIABLES = {
    "DATABASE_URL", "INTERNAL_API_TOKEN", "TOTP_ENCRYPTION_KEY", "RECOVERY_CODE_HASH_KEY",
    "TOKEN_HASH_KEYS", "LINK_SEAL_KEYS", "NOTICE_SEAL_KEYS", "SMTP_USERNAME", "SMTP_PASSWORD",
    "KAFKA_SASL_PASSWORD",
}  # fmt: skip
POD_KINDS = {"Deployment", "Job"}
HTTP_PORT = {"name": "http", "port": 8000, "targetPort": "http", "protocol": "TCP"}
# Internal APIs apart, so a NetworkPolicy can admit only the one caller (reset -> identity,
# identity -> reset for "This wasn't me").
INTERNAL_PORT = {"name": "internal", "port": 8001, "targetPort": "internal", "protocol": "TCP"}
# identity's admin API apart, so a NetworkPolicy can admit only the support tools' namespace.
ADMIN_PORT = {"name": "admin", "port": 8002, "targetPort": "admin", "protocol": "TCP"}
# /metrics only, so a NetworkPolicy can admit only the monitoring namespace.
METRICS_PORT = {"name": "metrics", "port": 9100, "targetPort": "metrics", "protocol": "TCP"}
SERVICE_PORTS = {
    "identity": [HTTP_PORT, INTERNAL_PORT, ADMIN_PORT, METRICS_PORT],
    "reset": [HTTP_PORT, INTERNAL_PORT, METRICS_PORT],
    "notifier": [HTTP_PORT, METRICS_PORT],
}


def by_kind(docs: list[dict[str, Any]], kind: str) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == kind}


def config_data(docs: list[dict[str, Any]]) -> dict[str, dict[str, str]]:
    """Each ConfigMap's data by its base name (without kustomize's hash suffix)."""
    return {base_name(n): c.get("data", {}) for n, c in by_kind(docs, "ConfigMap").items()}


def pod_templates(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {
        f"{d['kind']}/{d['metadata']['name']}": d["spec"]["template"]
        for d in docs
        if d["kind"] in POD_KINDS
    }


@pytest.fixture(params=RENDERINGS)
def docs(
    request: pytest.FixtureRequest, rendered: dict[str, list[dict[str, Any]]]
) -> list[dict[str, Any]]:
    return rendered[request.param]


def test_every_pod_runs_restricted(docs: list[dict[str, Any]]) -> None:
    templates = pod_templates(docs)
    assert len(templates) >= 7  # 3 services, 3 migrations, topic creation
    for where, template in templates.items():
        spec = template["spec"]
        assert spec["automountServiceAccountToken"] is False, where
        pod = spec["securityContext"]
        assert pod["runAsNonRoot"] is True and pod["runAsUser"] > 0, where
        assert pod["seccompProfile"] == {"type": "RuntimeDefault"}, where
        volumes = {v["name"]: v for v in spec["volumes"]}
        for container in spec["containers"]:
            context = container["securityContext"]
            assert context["allowPrivilegeEscalation"] is False, where
            assert context["readOnlyRootFilesystem"] is True, where
            assert context["capabilities"] == {"drop": ["ALL"]}, where
            for quantity in ("requests", "limits"):
                assert set(container["resources"][quantity]) == {"cpu", "memory"}, where
            mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
            assert "emptyDir" in volumes[mounts["/tmp"]], f"{where}: /tmp is an emptyDir"  # noqa: S108 - the mount point checked
            image = container["image"]
            assert ":" in image and not image.endswith(":latest"), f"{where}: {image}"


def test_services_have_all_three_probes(docs: list[dict[str, Any]]) -> None:
    deployments = by_kind(docs, "Deployment")
    for name in SERVICES:
        (container,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        assert container["startupProbe"]["httpGet"]["path"] == "/healthz/live"
        assert container["livenessProbe"]["httpGet"]["path"] == "/healthz/live"
        assert container["readinessProbe"]["httpGet"]["path"] == "/healthz/ready"
        for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
            assert container[probe]["httpGet"]["port"] == "http"
        assert {"name": "http", "containerPort": 8000, "protocol": "TCP"} in container["ports"]
        assert container["args"] == ["serve", "--host", "0.0.0.0", "--port", "8000"]  # noqa: S104 - expected args
        assert container["image"].startswith(f"pwreset/{name}:")


def test_migration_jobs_run_the_service_image_with_its_settings(docs: list[dict[str, Any]]) -> None:
    deployments, jobs = by_kind(docs, "Deployment"), by_kind(docs, "Job")
    for name in SERVICES:
        (service,) = deployments[name]["spec"]["template"]["spec"]["containers"]
        job = jobs[f"{name}-migrate"]
        (migrate,) = job["spec"]["template"]["spec"]["containers"]
        assert migrate["args"] == ["migrate"] and migrate["image"] == service["image"]
        # Settings validate everything at start, in `migrate` too: the same env is needed.
        assert migrate["env"] == service["env"] and migrate["envFrom"] == service["envFrom"]
        assert job["spec"]["template"]["spec"]["restartPolicy"] == "Never"
        assert job["spec"]["backoffLimit"] <= 5 and job["spec"]["activeDeadlineSeconds"] > 0
    (topics,) = jobs["create-topics"]["spec"]["template"]["spec"]["containers"]
    assert topics["image"].startswith("apache/kafka:")


def test_services_select_only_the_service_pods(docs: list[dict[str, Any]]) -> None:
    deployments, services = by_kind(docs, "Deployment"), by_kind(docs, "Service")
    job_labels = [
        t["metadata"]["labels"] for k, t in pod_templates(docs).items() if k.startswith("Job/")
    ]
    for name in SERVICES:
        selector = services[name]["spec"]["selector"]
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert selector.items() <= labels.items()
        assert not any(selector.items() <= j.items() for j in job_labels), (
            "a Job pod in the Service"
        )
        assert services[name]["spec"]["ports"] == SERVICE_PORTS[name], name


def test_identity_serves_its_internal_api_on_its_own_port_and_reset_calls_that(
    docs: list[dict[str, Any]],
) -> None:
    """The NetworkPolicy admits reset to identity:8001 only: the container must listen there,
    the Service must forward there, and reset's IDENTITY_URL must name it."""
    config = config_data(docs)
    (container,) = by_kind(docs, "Deployment")["identity"]["spec"]["template"]["spec"]["containers"]
    assert {"name": "internal", "containerPort": 8001, "protocol": "TCP"} in container["ports"]
    assert config["identity-config"]["INTERNAL_PORT"] == "8001"
    ports = {p["name"]: p for p in by_kind(docs, "Service")["identity"]["spec"]["ports"]}
    assert ports["internal"]["targetPort"] == "internal"
    assert config["reset-config"]["IDENTITY_URL"] == f"http://identity:{ports['internal']['port']}"
    # Probes stay on the public port, which keeps answering /healthz/.
    for probe in ("startupProbe", "livenessProbe", "readinessProbe"):
        assert container[probe]["httpGet"]["port"] == "http"


def test_reset_serves_its_internal_api_on_its_own_port_and_identity_calls_that(
    docs: list[dict[str, Any]],
) -> None:
    config = config_data(docs)
    (container,) = by_kind(docs, "Deployment")["reset"]["spec"]["template"]["spec"]["containers"]
    assert {"name": "internal", "containerPort": 8001, "protocol": "TCP"} in container["ports"]
    assert config["reset-config"]["INTERNAL_PORT"] == "8001"
    assert config["identity-config"]["RESET_URL"] == "http://reset:8001"


def test_every_service_serves_metrics_on_the_metrics_port_only(docs: list[dict[str, Any]]) -> None:
    config = config_data(docs)
    for name in SERVICES:
        (container,) = by_kind(docs, "Deployment")[name]["spec"]["template"]["spec"]["containers"]
        assert {"name": "metrics", "containerPort": 9100, "protocol": "TCP"} in container["ports"]
        assert config[f"{name}-config"]["METRICS_PORT"] == "9100"


def test_every_service_has_a_disruption_budget(docs: list[dict[str, Any]]) -> None:
    deployments, budgets = by_kind(docs, "Deployment"), by_kind(docs, "PodDisruptionBudget")
    for name in SERVICES:
        spec = budgets[name]["spec"]
        labels = deployments[name]["spec"]["template"]["metadata"]["labels"]
        assert spec["selector"]["matchLabels"].items() <= labels.items()
        assert spec["maxUnavailable"] == 1  # never blocks a node drain, even at one replica


# The longest the lifespan's exit takes: each worker gets servicekit's Worker.stop_timeout_seconds.
WORKERS_STOP_SECONDS = 20


@pytest.mark.parametrize("name", HTTP_SERVICES)
def test_the_grace_period_covers_the_whole_graceful_shutdown(
    name: str, docs: list[dict[str, Any]]
) -> None:
    """A rolled pod must end by itself, not by the SIGKILL at the end of its grace period:
    preStop sleep, then the drain (readiness 503, still serving), then requests in flight,
    then the workers (docs/delivery.md, "Rolling restarts"; tests/faults/test_rolling_restart)."""
    config = config_data(docs)[f"{name}-config"]
    spec = by_kind(docs, "Deployment")[name]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    pre_stop = float(container["lifecycle"]["preStop"]["exec"]["command"][-1])
    drain = float(config["SHUTDOWN_DRAIN_SECONDS"])
    grace = float(config["SHUTDOWN_GRACE_SECONDS"])
    assert pre_stop >= 5 and drain >= 5  # endpoints and proxies see the pod leave first
    assert spec["terminationGracePeriodSeconds"] >= pre_stop + drain + grace + WORKERS_STOP_SECONDS
    assert container["readinessProbe"]["httpGet"]["path"] == "/healthz/ready"


def test_http_services_autoscale_and_the_notifier_stays_within_partitions(
    docs: list[dict[str, Any]],
) -> None:
    deployments, autoscalers = by_kind(docs, "Deployment"), by_kind(docs, "HorizontalPodAutoscaler")
    assert set(autoscalers) == set(HTTP_SERVICES)
    for name in HTTP_SERVICES:
        spec = autoscalers[name]["spec"]
        assert spec["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert 1 <= spec["minReplicas"] < spec["maxReplicas"]
        assert "replicas" not in deployments[name]["spec"], "the HPA owns the replica count"
    partitions = int(
        next(
            c
            for c in by_kind(docs, "ConfigMap").values()
            if "TOPIC_PARTITIONS" in c.get("data", {})
        )["data"]["TOPIC_PARTITIONS"]
    )
    assert 1 <= deployments["notifier"]["spec"]["replicas"] <= partitions


@pytest.mark.parametrize("production", ["prod", "helm-prod"])
def test_prod_runs_at_least_two_of_each(
    production: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    docs = rendered[production]
    assert all(
        h["spec"]["minReplicas"] >= 2 for h in by_kind(docs, "HorizontalPodAutoscaler").values()
    )
    assert by_kind(docs, "Deployment")["notifier"]["spec"]["replicas"] >= 2
    config = config_data(docs)
    assert all(config[f"{s}-config"]["ENVIRONMENT"] == "production" for s in SERVICES)
    assert config["reset-config"]["PUBLIC_BASE_URL"].startswith("https://")
    assert config["notifier-config"]["SMTP_SECURITY"] != "none"


def test_secrets_are_only_referenced_never_written(docs: list[dict[str, Any]]) -> None:
    assert not by_kind(docs, "Secret"), "no Secret object is rendered from this repository"
    for config in by_kind(docs, "ConfigMap").values():
        assert not SECRET_VARIABLES & set(config.get("data", {})), config["metadata"]["name"]
    for where, template in pod_templates(docs).items():
        for container in template["spec"]["containers"]:
            for variable in container.get("env", []):
                if variable["name"] in SECRET_VARIABLES:
                    assert "value" not in variable, f"{where}: {variable['name']} written out"
                    assert "secretKeyRef" in variable["valueFrom"], where


def test_documented_secrets_are_exactly_the_referenced_ones(docs: list[dict[str, Any]]) -> None:
    example = [
        d for d in yaml.safe_load_all((REPO / "deploy/k8s/secret.example.yaml").read_text()) if d
    ]
    documented = {(d["metadata"]["name"], key) for d in example for key in d["stringData"]}
    referenced = set()
    for template in pod_templates(docs).values():
        spec = template["spec"]
        for container in spec["containers"]:
            for variable in container.get("env", []):
                ref = variable.get("valueFrom", {}).get("secretKeyRef")
                if ref:
                    referenced.add((ref["name"], ref["key"]))
        for volume in spec.get("volumes", []):
            if "secret" in volume:
                items = volume["secret"].get("items") or [{"key": "client.properties"}]
                referenced |= {(volume["secret"]["secretName"], i["key"]) for i in items}
    assert documented == referenced
    for kustomization in (REPO / "deploy/k8s").rglob("kustomization.yaml"):
        listed = yaml.safe_load(kustomization.read_text()).get("resources", [])
        assert not [r for r in listed if "secret" in r], kustomization


@pytest.mark.parametrize("name", SERVICES)
def test_every_variable_is_a_setting(name: str, docs: list[dict[str, Any]]) -> None:
    configs = {c["metadata"]["name"]: c for c in by_kind(docs, "ConfigMap").values()}
    (container,) = by_kind(docs, "Deployment")[name]["spec"]["template"]["spec"]["containers"]
    names = {v["name"] for v in container["env"]}
    for source in container["envFrom"]:
        names |= set(configs[source["configMapRef"]["name"]]["data"])
    fields = {f.upper() for f in SETTINGS[name].model_fields}
    assert not names - fields - CLI_VARIABLES, "read by nothing (a typo?)"
    assert {v for v in SECRET_VARIABLES if v.lower() in SETTINGS[name].model_fields} <= names


def rendered_environment(docs: list[dict[str, Any]], workload: str) -> dict[str, str]:
    """What the workload's container sees: its ConfigMaps, its literal values, and for each
    required secretKeyRef a well-formed stand-in (real values never enter the repository)."""
    configs = {c["metadata"]["name"]: c["data"] for c in by_kind(docs, "ConfigMap").values()}
    kind, name = workload.split("/")
    (container,) = by_kind(docs, kind)[name]["spec"]["template"]["spec"]["containers"]
    environment: dict[str, str] = {}
    for source in container.get("envFrom", []):
        environment |= configs[source["configMapRef"]["name"]]
    for variable in container.get("env", []):
        if "value" in variable:
            environment[variable["name"]] = variable["value"]
        elif not variable["valueFrom"]["secretKeyRef"].get("optional", False):
            environment[variable["name"]] = stand_in_secret(variable["name"])
    return environment


def stand_in_secret(name: str) -> str:
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).rstrip(b"=").decode()
    if name == "DATABASE_URL":
        return "postgresql://service:stand-in@postgres.example.com:5432/service"
    if name.endswith("_KEYS"):
        return f"k1:{key}"
    return key  # single keys (32 bytes, base64url) and INTERNAL_API_TOKEN alike


@pytest.mark.parametrize("name", SERVICES)
def test_the_settings_load_from_the_rendered_environment(
    name: str, docs: list[dict[str, Any]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the service and its migration would start: production settings refuse a missing or
    development value (identity in production, for one, needs INTERNAL_PORT)."""
    for workload in (f"Deployment/{name}", f"Job/{name}-migrate"):
        with monkeypatch.context() as env:
            for variable, value in rendered_environment(docs, workload).items():
                env.setenv(variable, value)
            SETTINGS[name]()


def test_the_settings_load_check_catches_identity_without_its_internal_port(
    rendered: dict[str, list[dict[str, Any]]], monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = rendered_environment(rendered["prod"], "Deployment/identity")
    del environment["INTERNAL_PORT"]
    monkeypatch.delenv("INTERNAL_PORT", raising=False)
    for variable, value in environment.items():
        monkeypatch.setenv(variable, value)
    with pytest.raises(ValidationError, match="INTERNAL_PORT"):
        IdentitySettings()


def test_namespaces_enforce_the_restricted_pod_security_standard(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    """The overlays create the namespace; Helm installs into one made beforehand
    (docs/operations.md, "Install with Helm", labels it the same way)."""
    for overlay in ("dev", "prod"):
        docs = rendered[overlay]
        (namespace,) = by_kind(docs, "Namespace").values()
        assert namespace["metadata"]["labels"]["pod-security.kubernetes.io/enforce"] == "restricted"
        assert all(d["metadata"].get("namespace") == namespace["metadata"]["name"]
                   for d in docs if d["kind"] != "Namespace"), overlay  # fmt: skip
