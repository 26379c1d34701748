"""The Helm chart (deploy/helm/pwreset) on its own and against the kustomize manifests: it lints
strictly, its schema refuses wrong types, every setting the services read is a value whose
default is the service's own, its optional parts switch on and off, and for the same settings it
renders the same objects as the kustomize overlay (the drift test). The workload, probe,
security-context, NetworkPolicy and schema assertions run over both renderings in
test_k8s_workloads.py, test_k8s_network_policies.py and test_k8s_schemas.py."""

import copy
from pathlib import Path
from typing import Any

import pytest
import yaml
from identity_service.core.config import Settings as IdentitySettings
from notifier_service.core.config import Settings as NotifierSettings
from reset_service.core.config import Settings as ResetSettings

from .conftest import CHART, K8S, PROD_VALUES, base_name, helm_template, run_helm
from .test_k8s_workloads import CLI_VARIABLES, SECRET_VARIABLES, rendered_environment

SETTINGS = {"identity": IdentitySettings, "reset": ResetSettings, "notifier": NotifierSettings}
# Labels Helm adds and kustomize does not; part-of is on the base's objects only in kustomize
# (its components' custom resources lack it), on every object in the chart.
HELM_ONLY_LABELS = {
    "helm.sh/chart", "app.kubernetes.io/managed-by", "app.kubernetes.io/instance",
    "app.kubernetes.io/part-of",
}  # fmt: skip
Docs = list[dict[str, Any]]


@pytest.mark.parametrize("values", [[], ["--values", str(PROD_VALUES)]], ids=["default", "prod"])
def test_the_chart_lints_strictly(values: list[str]) -> None:
    result = run_helm("lint", "--strict", str(CHART), *values)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize(
    ("setting", "complaint"),
    [
        ("notifier.replicas=three", "notifier.replicas: Invalid type"),
        ("identity.autoscaling.enabled=yes", "identity.autoscaling.enabled: Invalid type"),
        ("reset.config.RESET_TTL_SECONDS=half-an-hour", "RESET_TTL_SECONDS: Invalid type"),
        ("networkPolicy.enabled=1", "networkPolicy.enabled: Invalid type"),
        ("kafka.securityProtocol=TLS", "kafka.securityProtocol"),
        ("identity.config.PASSWORD_MIN_LENGHT=12", "PASSWORD_MIN_LENGHT is not allowed"),
    ],
)
def test_the_schema_refuses_wrong_types_and_unknown_settings(
    setting: str, complaint: str, tmp_path: Path
) -> None:
    for command in ("template", "lint"):
        args = [command, *(["pwreset"] if command == "template" else []), str(CHART)]
        result = run_helm(*args, "--set", setting)
        assert result.returncode != 0, f"{command} accepted {setting}"
        assert complaint in result.stdout + result.stderr, result.stdout + result.stderr


def test_a_quoted_number_is_refused_where_the_number_passes() -> None:
    bad = run_helm("lint", str(CHART), "--set-string", "notifier.config.SMTP_PORT=587")
    assert bad.returncode != 0 and "SMTP_PORT: Invalid type" in bad.stdout + bad.stderr
    assert run_helm("lint", str(CHART), "--set", "notifier.config.SMTP_PORT=587").returncode == 0


def deployments(docs: Docs) -> dict[str, dict[str, Any]]:
    return {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}


def chart_config(name: str) -> dict[str, Any]:
    return yaml.safe_load((CHART / "values.yaml").read_text())[name]["config"]


def kustomize_config(name: str) -> dict[str, str]:
    lines = (K8S / "base" / name / "config.env").read_text().splitlines()
    pairs = [line.split("=", 1) for line in lines if line and not line.startswith("#")]
    return {key: value for key, value in pairs}


@pytest.mark.parametrize("name", SETTINGS)
def test_every_setting_is_a_value_with_the_services_default(
    name: str, rendered: dict[str, Docs]
) -> None:
    """Every field of the service's Settings is in its ConfigMap or comes from a Secret; a value
    the kustomize base does not set defaults to the service's own default."""
    (config,) = [
        c["data"] for c in rendered["helm-default"]
        if c["kind"] == "ConfigMap" and c["metadata"]["name"] == f"{name}-config"
    ]  # fmt: skip
    fields = SETTINGS[name].model_fields
    optional_unset = {
        # None by default, set only with their feature: a client certificate (the kafka values),
        # SMTP credentials (the Secret's optional keys).
        "KAFKA_SSL_CERTFILE", "KAFKA_SSL_KEYFILE",
        # `make run` only: production refuses any value.
        "ADMIN_DEV_TOKEN",
        # Branding (values `branding`, test_k8s_branding): a logo, a support link, a From name,
        # and template overrides (TEMPLATE_OVERRIDE_DIR on the Deployment where they are mounted).
        "LOGO_URL", "SUPPORT_URL", "MAIL_FROM_NAME", "TEMPLATE_OVERRIDE_DIR",
    }  # fmt: skip
    missing = {f.upper() for f in fields} - set(config) - SECRET_VARIABLES - optional_unset
    assert not missing, f"settings the chart cannot set: {missing}"
    # What kustomize sets, in its base or its prod overlay: the chart's default is one of those.
    (prod,) = [
        c["data"] for c in rendered["prod"]
        if c["kind"] == "ConfigMap" and base_name(c["metadata"]["name"]) == f"{name}-config"
    ]  # fmt: skip
    kustomize = {key: {value, prod.get(key)} for key, value in kustomize_config(name).items()}
    for key, value in prod.items():
        kustomize.setdefault(key, {value})
    for key, value in chart_config(name).items():
        if key in kustomize:
            assert config[key] in kustomize[key], key
        elif key in CLI_VARIABLES:
            continue
        else:
            default = fields[key.lower()].default
            if isinstance(default, bool | str | None):
                assert value == default, key
            else:
                assert float(value) == float(default), key


def normalised(docs: Docs) -> dict[tuple[str, str], dict[str, Any]]:
    """What legitimately differs, removed: Helm's labels, kustomize's ConfigMap hash suffix
    (and the references to it), the chart's config checksum annotation (its way to roll pods
    on a settings change), and the Namespace, which the overlay creates and Helm does not."""
    found = {}
    for original in docs:
        if original["kind"] == "Namespace":
            continue
        doc = copy.deepcopy(original)
        meta = doc["metadata"]
        meta["name"] = base_name(meta["name"]) if doc["kind"] == "ConfigMap" else meta["name"]
        labels = {k: v for k, v in meta.get("labels", {}).items() if k not in HELM_ONLY_LABELS}
        meta.pop("labels", None)
        if labels:
            meta["labels"] = labels
        template = doc.get("spec", {}).get("template")
        if template:
            template["metadata"].pop("annotations", None)
            template["metadata"]["labels"].pop("app.kubernetes.io/part-of", None)
            spec = template["spec"]
            for container in spec["containers"]:
                for source in container.get("envFrom", []):
                    ref = source["configMapRef"]
                    ref["name"] = base_name(ref["name"])
            for volume in spec.get("volumes", []):
                if "configMap" in volume:
                    volume["configMap"]["name"] = base_name(volume["configMap"]["name"])
        found[(doc["kind"], meta["name"])] = doc
    return found


def assert_same_objects(kustomize: Docs, helm: Docs) -> None:
    ours, theirs = normalised(helm), normalised(kustomize)
    assert set(ours) == set(theirs)
    for key, expected in theirs.items():
        actual = ours[key]
        if key[0] == "ConfigMap":
            # The chart writes every setting; the overlay only those it changes. The shared ones
            # must agree (the defaults of the rest: test_every_setting_is_a_value_...).
            data = actual.pop("data")
            assert expected.pop("data").items() <= data.items(), key
        assert actual == expected, key


def test_the_chart_and_the_prod_overlay_render_the_same_objects(
    rendered: dict[str, Docs],
) -> None:
    assert_same_objects(rendered["prod"], rendered["helm-prod"])


def test_with_the_optional_parts_both_render_the_same_objects(
    rendered_with_crds: Docs, helm_rendered_with_crds: Docs
) -> None:
    """Strimzi topics (no create-topics Job) and users, ServiceMonitors; the PrometheusRule is
    compared with its component's file below, as no overlay includes it."""
    helm = [d for d in helm_rendered_with_crds if d["kind"] != "PrometheusRule"]
    assert_same_objects(rendered_with_crds, helm)


def test_the_drift_check_sees_a_changed_field(rendered: dict[str, Docs]) -> None:
    helm = copy.deepcopy(rendered["helm-prod"])
    deployment = next(d for d in helm if d["kind"] == "Deployment")
    deployment["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["periodSeconds"] = 9
    with pytest.raises(AssertionError):
        assert_same_objects(rendered["prod"], helm)


def test_the_alert_rules_are_the_components_with_prometheus_templates_intact() -> None:
    component = yaml.safe_load(
        (K8S / "components/prometheus-rules/prometheusrule.yaml").read_text()
    )
    (rule,) = [d for d in helm_template("--set", "prometheusRule.enabled=true")
               if d["kind"] == "PrometheusRule"]  # fmt: skip
    assert rule["spec"] == component["spec"]
    assert rule["metadata"]["name"] == component["metadata"]["name"]
    assert rule["metadata"]["namespace"] == "pwreset"
    annotations = [r["annotations"]["summary"] for g in rule["spec"]["groups"] for r in g["rules"]]
    assert any("{{ $labels.job }}" in a for a in annotations)


@pytest.mark.parametrize(
    ("switch", "kinds"),
    [
        ("networkPolicy.enabled", {"NetworkPolicy"}),
        ("serviceMonitor.enabled", {"ServiceMonitor"}),
        ("prometheusRule.enabled", {"PrometheusRule"}),
        ("strimzi.topics.enabled", {"KafkaTopic"}),
        ("strimzi.users.enabled", {"KafkaUser"}),
    ],
)
def test_each_optional_part_switches(switch: str, kinds: set[str]) -> None:
    on = {d["kind"] for d in helm_template("--set", f"{switch}=true")}
    off = {d["kind"] for d in helm_template("--set", f"{switch}=false")}
    assert kinds <= on and not kinds & off


def test_without_autoscaling_and_budgets_the_deployments_carry_their_replicas() -> None:
    docs = helm_template(
        "--set", "identity.autoscaling.enabled=false", "--set", "reset.autoscaling.enabled=false",
        "--set", "identity.replicas=4", "--set", "identity.pdb.enabled=false",
        "--set", "reset.pdb.enabled=false", "--set", "notifier.pdb.enabled=false",
    )  # fmt: skip
    kinds = {d["kind"] for d in docs}
    assert "HorizontalPodAutoscaler" not in kinds and "PodDisruptionBudget" not in kinds
    deployments = {d["metadata"]["name"]: d for d in docs if d["kind"] == "Deployment"}
    assert deployments["identity"]["spec"]["replicas"] == 4
    assert deployments["reset"]["spec"]["replicas"] == 2


def test_topics_job_off_drops_what_only_it_uses() -> None:
    docs = helm_template("--set", "topics.job.enabled=false")
    names = {(d["kind"], d["metadata"]["name"]) for d in docs}
    gone = {
        ("Job", "create-topics"), ("NetworkPolicy", "create-topics"),
        ("ConfigMap", "topics-config"), ("ConfigMap", "create-topics-script"),
    }  # fmt: skip
    assert not gone & names


def test_kafka_without_sasl_or_custom_ca_still_starts_each_service(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """KAFKA_SECURITY_PROTOCOL=SSL with the system's CAs: no SASL user, password or CA mount,
    and the production settings still load."""
    docs = helm_template(
        "--values", str(PROD_VALUES), "--set", "kafka.securityProtocol=SSL",
        "--set", "kafka.caSecret.name=",
    )  # fmt: skip
    for name in SETTINGS:
        environment = rendered_environment(docs, f"Deployment/{name}")
        assert environment["KAFKA_SECURITY_PROTOCOL"] == "SSL"
        assert not {"KAFKA_SASL_USERNAME", "KAFKA_SASL_PASSWORD", "KAFKA_SSL_CAFILE"} & set(
            environment
        )
        deployment = deployments(docs)[name]
        volumes = {v["name"] for v in deployment["spec"]["template"]["spec"]["volumes"]}
        assert volumes == {"tmp"}
        with monkeypatch.context() as env:
            for variable in SECRET_VARIABLES:
                env.delenv(variable, raising=False)
            for variable, value in environment.items():
                env.setenv(variable, value)
            SETTINGS[name]()


def test_a_client_certificate_is_mounted_where_the_settings_name_it() -> None:
    docs = helm_template("--set", "kafka.clientCertSecret.name=kafka-client-tls")
    configs = {c["metadata"]["name"]: c["data"] for c in docs if c["kind"] == "ConfigMap"}
    for name in SETTINGS:
        deployment = deployments(docs)[name]
        spec = deployment["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        mounts = {m["mountPath"]: m["name"] for m in container["volumeMounts"]}
        volumes = {v["name"]: v for v in spec["volumes"]}
        for setting, key in (("KAFKA_SSL_CERTFILE", "tls.crt"), ("KAFKA_SSL_KEYFILE", "tls.key")):
            folder, _, file = configs[f"{name}-config"][setting].rpartition("/")
            secret = volumes[mounts[folder]]["secret"]
            assert secret["secretName"] == "kafka-client-tls"
            assert {"key": key, "path": file} in secret["items"]


def test_existing_secret_names_are_values() -> None:
    docs = helm_template(
        "--set", "reset.existingSecret=vault-reset", "--set",
        "sharedSecrets.linkSealKeys.existingSecret=vault-seal",
        "--set", "kafka.users.reset.existingSecret=vault-kafka-reset",
    )  # fmt: skip
    (container,) = deployments(docs)["reset"]["spec"]["template"]["spec"]["containers"]
    refs = {v["name"]: v["valueFrom"]["secretKeyRef"]["name"] for v in container["env"]}
    assert refs["DATABASE_URL"] == refs["TOKEN_HASH_KEYS"] == "vault-reset"
    assert refs["LINK_SEAL_KEYS"] == "vault-seal"
    assert refs["KAFKA_SASL_PASSWORD"] == "vault-kafka-reset"
