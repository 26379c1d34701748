"""What the deployment tests share, as fixtures: the tools the root dev dependency group installs
(kubectl, hadolint), helm (scripts/install-go-tools.sh), and the rendered manifests: the
kustomize overlays and the Helm chart, under one dict so that one set of assertions runs over
both (`RENDERINGS`)."""

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml
from devinfra.paths import cache_dir

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
SERVICES = ("identity", "reset", "notifier")
HTTP_SERVICES = ("identity", "reset")
OVERLAYS = ("dev", "prod")
CHART = REPO / "deploy" / "helm" / "pwreset"
PROD_VALUES = CHART / "ci" / "prod-values.yaml"
# Every rendering the workload, probe, security-context, NetworkPolicy and schema tests check:
# the kustomize overlays and the chart with its default and its production values.
RENDERINGS = (*OVERLAYS, "helm-default", "helm-prod")
# The optional parts of both, all on: prod with the Strimzi topics (instead of the Job) and users.
HELM_ALL_OPTIONAL = (
    "--set", "strimzi.topics.enabled=true", "--set", "strimzi.users.enabled=true",
    "--set", "topics.job.enabled=false", "--set", "prometheusRule.enabled=true",
)  # fmt: skip


def base_name(name: str) -> str:
    """A ConfigMap's name without kustomize's content-hash suffix (the chart has none)."""
    return re.sub(r"-[a-z0-9]{10}$", "", name)


def tool(name: str) -> str:
    """A console script of the venv running the tests (kubectl, hadolint), else one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: run `uv sync` (root dev dependency group)")
    return found


def helm_binary() -> str:
    """Built by scripts/install-go-tools.sh (make setup); a missing tool fails, never skips."""
    found = shutil.which("helm") or str(cache_dir() / "bin" / "helm")
    if not Path(found).is_file():
        pytest.fail("helm is missing: run scripts/install-go-tools.sh (make setup does)")
    return found


def run_helm(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [helm_binary(), *args], capture_output=True, text=True, timeout=120, check=False
    )


def helm_template(*args: str) -> list[dict[str, Any]]:
    """`helm template` of the chart into namespace pwreset, parsed: what `helm install` sends."""
    result = run_helm("template", "pwreset", str(CHART), "--namespace", "pwreset", *args)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _kustomize(directory: Path) -> list[dict[str, Any]]:
    """`kubectl kustomize DIR`, parsed: what `kubectl apply -k DIR` would send."""
    result = subprocess.run(
        [tool("kubectl"), "kustomize", str(directory)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def _with_components(root: Path, overlay: str, components: list[str]) -> Path:
    """A throw-away kustomization: an overlay plus optional components, as an operator adds them."""
    spec = {
        "apiVersion": "kustomize.config.k8s.io/v1beta1",
        "kind": "Kustomization",
        "namespace": "pwreset",
        # kustomize takes only relative paths to other kustomizations.
        "resources": [os.path.relpath(K8S / "overlays" / overlay, root)],
        "components": [os.path.relpath(K8S / "components" / c, root) for c in components],
    }
    (root / "kustomization.yaml").write_text(yaml.safe_dump(spec))
    return root


@pytest.fixture(scope="session")
def rendered() -> dict[str, list[dict[str, Any]]]:
    """Each overlay, and the chart with its default and its production values, as rendered."""
    docs = {name: _kustomize(K8S / "overlays" / name) for name in OVERLAYS}
    docs["helm-default"] = helm_template()
    docs["helm-prod"] = helm_template("--values", str(PROD_VALUES))
    return docs


@pytest.fixture(scope="session")
def rendered_with_crds(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """prod (which has the ServiceMonitor component) plus the Strimzi topics and users."""
    root = tmp_path_factory.mktemp("prod-with-components")
    return _kustomize(_with_components(root, "prod", ["strimzi-topics", "strimzi-kafka-users"]))


@pytest.fixture(scope="session")
def helm_rendered_with_crds() -> list[dict[str, Any]]:
    """The chart's counterpart of rendered_with_crds."""
    return helm_template("--values", str(PROD_VALUES), *HELM_ALL_OPTIONAL)


@pytest.fixture(scope="session")
def hadolint() -> str:
    return tool("hadolint")
