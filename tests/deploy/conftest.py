"""What the deployment tests share, as fixtures: the tools the root dev dependency group installs
(kubectl, hadolint) and the rendered kustomize overlays."""

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
K8S = REPO / "deploy" / "k8s"
SERVICES = ("identity", "reset", "notifier")
HTTP_SERVICES = ("identity", "reset")
OVERLAYS = ("dev", "prod")


def tool(name: str) -> str:
    """A console script of the venv running the tests (kubectl, hadolint), else one on PATH."""
    beside = Path(sys.executable).parent / name
    if beside.is_file() and os.access(beside, os.X_OK):
        return str(beside)
    found = shutil.which(name)
    if found is None:
        raise RuntimeError(f"{name} not found: run `uv sync` (root dev dependency group)")
    return found


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
    """Each overlay as rendered."""
    return {name: _kustomize(K8S / "overlays" / name) for name in OVERLAYS}


@pytest.fixture(scope="session")
def rendered_with_crds(tmp_path_factory: pytest.TempPathFactory) -> list[dict[str, Any]]:
    """prod (which has the ServiceMonitor component) plus the Strimzi topics and users."""
    root = tmp_path_factory.mktemp("prod-with-components")
    return _kustomize(_with_components(root, "prod", ["strimzi-topics", "strimzi-kafka-users"]))


@pytest.fixture(scope="session")
def hadolint() -> str:
    return tool("hadolint")
