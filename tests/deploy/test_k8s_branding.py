"""The branding example overlay (deploy/k8s/overlays/branded): all three services read the one
branding ConfigMap, mount the template overrides they render at TEMPLATE_OVERRIDE_DIR, and
start in production with them; every override file replaces a shipped template and renders
without falling back."""

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from identity_service.core.config import Settings as IdentitySettings
from notifier_service.core.config import Settings as NotifierSettings
from notifier_service.domain.emails import email_templates, render_reset_email
from prometheus_client import REGISTRY
from reset_service.core.config import Settings as ResetSettings
from servicekit.web.branding import BrandingSettings
from servicekit.web.pages import SHARED_TEMPLATES, PageTemplates

from .conftest import K8S, _kustomize, base_name, helm_template
from .test_k8s_workloads import by_kind, rendered_environment

SETTINGS = {"identity": IdentitySettings, "reset": ResetSettings, "notifier": NotifierSettings}
SERVICES = tuple(SETTINGS)
REPO = Path(__file__).resolve().parents[2]
SHIPPED = {
    "identity": [REPO / "services/identity/src/identity_service/templates", SHARED_TEMPLATES],
    "reset": [REPO / "services/reset/src/reset_service/templates", SHARED_TEMPLATES],
    "notifier": [REPO / "services/notifier/src/notifier_service/templates"],
}


@pytest.fixture(scope="module")
def docs() -> list[dict[str, Any]]:
    return _kustomize(K8S / "overlays" / "branded")


def config_maps(docs: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {base_name(name): doc for name, doc in by_kind(docs, "ConfigMap").items()}


def mounted_overrides(docs: list[dict[str, Any]], service: str) -> tuple[str, dict[str, str]]:
    """Where the service's container mounts the overrides, and the files it sees there."""
    spec = by_kind(docs, "Deployment")[service]["spec"]["template"]["spec"]
    (container,) = spec["containers"]
    (mount,) = [m for m in container["volumeMounts"] if m["name"] == "template-overrides"]
    assert mount["readOnly"] is True
    (volume,) = [v for v in spec["volumes"] if v["name"] == "template-overrides"]
    data = by_kind(docs, "ConfigMap")[volume["configMap"]["name"]]["data"]
    files = {item["path"]: data[item["key"]] for item in volume["configMap"]["items"]}
    return mount["mountPath"], files


def fallbacks() -> float:
    total = 0.0
    for metric in REGISTRY.collect():
        if metric.name == "template_override_fallbacks":
            total += sum(s.value for s in metric.samples if s.name.endswith("_total"))
    return total


@pytest.mark.parametrize("service", SERVICES)
def test_each_service_reads_the_branding_and_mounts_its_overrides(
    service: str, docs: list[dict[str, Any]], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    branding = config_maps(docs)["branding"]["data"]
    (container,) = by_kind(docs, "Deployment")[service]["spec"]["template"]["spec"]["containers"]
    sources = [base_name(s["configMapRef"]["name"]) for s in container["envFrom"]]
    assert "branding" in sources
    path, files = mounted_overrides(docs, service)
    assert path == branding["TEMPLATE_OVERRIDE_DIR"]
    assert files, service
    # Each file replaces a template the service ships (a misspelt name would replace nothing).
    shipped = {p.name for directory in SHIPPED[service] for p in directory.iterdir()}
    assert set(files) <= shipped, set(files) - shipped
    # The service starts in production with them (https URLs, a colour, a directory).
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    environment = rendered_environment(docs, f"Deployment/{service}")
    for variable, value in {**environment, "TEMPLATE_OVERRIDE_DIR": str(tmp_path)}.items():
        monkeypatch.setenv(variable, value)
    settings = SETTINGS[service]()
    assert settings.environment == "production"
    assert settings.branding.product_name == branding["PRODUCT_NAME"]
    assert settings.branding.logo_origin == "https://cdn.acme.example"


def test_the_overrides_render_without_falling_back(
    docs: list[dict[str, Any]], tmp_path: Path
) -> None:
    branding = config_maps(docs)["branding"]["data"]
    before = fallbacks()
    for service in ("reset", "notifier"):
        directory = tmp_path / service
        directory.mkdir()
        for name, text in mounted_overrides(docs, service)[1].items():
            (directory / name).write_text(text)
        settings = SETTINGS[service](
            product_name=branding["PRODUCT_NAME"],
            support_url=branding["SUPPORT_URL"],
            legal_footer=branding["LEGAL_FOOTER"],
            template_override_dir=directory,
        )
        if service == "reset":
            pages = PageTemplates(SHIPPED["reset"][0]).bound(settings.branding)
            html = pages.render("forgot_password.html", {"csrf_token": "t", "login_url": "/"})
            assert "Service status" in html and branding["LEGAL_FOOTER"] in html
        else:
            link = "https://reset.acme.example/reset-password?token=t"
            email = render_reset_email(
                link=link,
                expires_at=datetime.now(UTC),
                minutes_valid=30,
                templates=email_templates(settings.branding),
            )
            assert "because of your Acme Cloud account" in email.text
            assert "because of your Acme Cloud account" in email.html
            assert link in email.text
    assert fallbacks() == before


HELM_BRANDING = (
    "--set", "branding.productName=Acme Cloud",
    "--set", "branding.logoUrl=https://cdn.acme.example/logo.svg",
    "--set-string", "branding.templateOverrides.pages._page_footer\\.html=<footer>ok</footer>",
    "--set-string", "branding.templateOverrides.emails._email_footer\\.txt=-- ok",
)  # fmt: skip


def test_the_charts_branding_defaults_are_the_services_own() -> None:
    defaults = BrandingSettings()
    for doc in helm_template():
        if doc["kind"] == "ConfigMap" and doc["metadata"]["name"].endswith("-config"):
            if doc["metadata"]["name"] == "topics-config":
                continue
            data = doc["data"]
            assert data["PRODUCT_NAME"] == defaults.product_name
            assert data["PRIMARY_COLOUR"] == defaults.primary_colour
            assert data["LEGAL_FOOTER"] == defaults.legal_footer
            assert "LOGO_URL" not in data and "TEMPLATE_OVERRIDE_DIR" not in data
        if doc["kind"] == "Deployment":
            spec = doc["spec"]["template"]["spec"]
            assert all(v["name"] != "template-overrides" for v in spec["volumes"])


def test_the_chart_mounts_each_services_overrides_at_its_override_dir() -> None:
    docs = helm_template(*HELM_BRANDING)
    config_maps = by_kind(docs, "ConfigMap")
    assert config_maps["page-template-overrides"]["data"] == {
        "_page_footer.html": "<footer>ok</footer>"
    }
    assert config_maps["email-template-overrides"]["data"] == {"_email_footer.txt": "-- ok"}
    expected = {"identity": "page", "reset": "page", "notifier": "email"}
    for service, kind in expected.items():
        spec = by_kind(docs, "Deployment")[service]["spec"]["template"]["spec"]
        (container,) = spec["containers"]
        env = {e["name"]: e.get("value") for e in container["env"]}
        (mount,) = [m for m in container["volumeMounts"] if m["name"] == "template-overrides"]
        assert mount["mountPath"] == env["TEMPLATE_OVERRIDE_DIR"] and mount["readOnly"] is True
        (volume,) = [v for v in spec["volumes"] if v["name"] == "template-overrides"]
        assert volume["configMap"]["name"] == f"{kind}-template-overrides"
        assert config_maps[f"{service}-config"]["data"]["LOGO_URL"] == (
            "https://cdn.acme.example/logo.svg"
        )
        # The migration Job has no mount, so it is not told to read one.
        (job,) = by_kind(docs, "Job")[f"{service}-migrate"]["spec"]["template"]["spec"][
            "containers"
        ]
        assert "TEMPLATE_OVERRIDE_DIR" not in {e["name"] for e in job["env"]}
