"""The rendered overlays and Helm chart against the Kubernetes API schemas (kubernetes-validate,
strict: an unknown field fails), for the oldest and the newest Kubernetes we support. The
optional components' custom resources (Strimzi KafkaTopic and KafkaUser, ServiceMonitor,
PrometheusRule) have no schema there: they are checked field by field in test_k8s_components.py,
test_k8s_kafka_users.py, test_alert_rules.py and (the chart's) test_helm_chart.py."""

from typing import Any

import pytest
from kubernetes_validate import utils as kubernetes_validate

from .conftest import RENDERINGS

KUBERNETES_VERSIONS = ("1.30.0", "1.37.0")
CUSTOM_KINDS = {"KafkaTopic", "KafkaUser", "ServiceMonitor", "PrometheusRule"}


def failures(docs: list[dict[str, Any]], version: str) -> list[str]:
    found = []
    for doc in docs:
        where = f"{doc['kind']}/{doc['metadata']['name']}"
        try:
            kubernetes_validate.validate(doc, version, strict=True)
        except kubernetes_validate.SchemaNotFoundError:
            if doc["kind"] not in CUSTOM_KINDS:
                found.append(f"{where}: no schema in Kubernetes {version}")
        except kubernetes_validate.ValidationError as error:
            path = ".".join(str(p) for p in error.path)
            found.append(f"{where}: {path}: {error.message}")
    return found


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
@pytest.mark.parametrize("overlay", RENDERINGS)
def test_overlay_validates_strictly(
    overlay: str, version: str, rendered: dict[str, list[dict[str, Any]]]
) -> None:
    assert not failures(rendered[overlay], version)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_overlay_with_optional_components_validates(
    version: str, rendered_with_crds: list[dict[str, Any]]
) -> None:
    assert not failures(rendered_with_crds, version)


@pytest.mark.parametrize("version", KUBERNETES_VERSIONS)
def test_chart_with_optional_parts_validates(
    version: str, helm_rendered_with_crds: list[dict[str, Any]]
) -> None:
    assert not failures(helm_rendered_with_crds, version)


def test_strict_validation_catches_an_unknown_field(
    rendered: dict[str, list[dict[str, Any]]],
) -> None:
    deployment = next(d for d in rendered["prod"] if d["kind"] == "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replica": 2}}
    assert failures([broken], "1.37.0")
