"""The alert rules (deploy/k8s/components/prometheus-rules) as Prometheus sees them: `promtool
check rules` accepts them, `promtool test rules` makes each alert fire on the series that should
wake someone and stay quiet on a near miss, and every metric they query is one the services
serve (docs/operations.md lists them)."""

import re
import shutil
import subprocess
from pathlib import Path
from typing import Any

import pytest
import yaml
from devinfra.paths import cache_dir

REPO = Path(__file__).resolve().parents[2]
COMPONENT = REPO / "deploy/k8s/components/prometheus-rules"
OPERATIONS = REPO / "docs/operations.md"


def promtool() -> str:
    """Built by scripts/install-go-tools.sh (make setup); a missing tool fails, never skips."""
    found = shutil.which("promtool") or str(cache_dir() / "bin" / "promtool")
    if not Path(found).is_file():
        pytest.fail("promtool is missing: run scripts/install-go-tools.sh (make setup does)")
    return found


def groups() -> list[dict[str, Any]]:
    return yaml.safe_load((COMPONENT / "prometheusrule.yaml").read_text())["spec"]["groups"]


def write_rules(folder: Path, *, annotations: bool) -> Path:
    kept = [
        {
            **group,
            "rules": [
                {k: v for k, v in rule.items() if annotations or k != "annotations"}
                for rule in group["rules"]
            ],
        }
        for group in groups()
    ]
    path = folder / "rules.yaml"
    path.write_text(yaml.safe_dump({"groups": kept}, sort_keys=False))
    return path


def run(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [promtool(), *args], cwd=cwd, capture_output=True, text=True, timeout=120, check=False
    )


def test_promtool_accepts_the_rules_and_their_templates(tmp_path: Path) -> None:
    rules = write_rules(tmp_path, annotations=True)
    done = run("check", "rules", str(rules), cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"SUCCESS: {sum(len(g['rules']) for g in groups())} rules found" in done.stdout


def test_each_alert_fires_when_it_should_and_stays_quiet_otherwise(tmp_path: Path) -> None:
    write_rules(tmp_path, annotations=False)
    cases = COMPONENT / "tests" / "alerts_test.yaml"
    shutil.copy(cases, tmp_path / cases.name)
    done = run("test", "rules", cases.name, cwd=tmp_path)
    assert done.returncode == 0, done.stdout + done.stderr
    tested = {t["name"].rsplit(" ", 2)[0] for t in yaml.safe_load(cases.read_text())["tests"]}
    alerts = {rule["alert"] for group in groups() for rule in group["rules"]}
    assert tested == alerts, "every alert has its firing and its quiet case"


def test_a_broken_rule_is_caught(tmp_path: Path) -> None:
    """The checks above could fail: a rule whose threshold moved no longer passes its tests."""
    rules = write_rules(tmp_path, annotations=False)
    rules.write_text(rules.read_text().replace("> 60", "> 600"))
    shutil.copy(COMPONENT / "tests" / "alerts_test.yaml", tmp_path / "alerts_test.yaml")
    done = run("test", "rules", "alerts_test.yaml", cwd=tmp_path)
    assert done.returncode != 0
    assert "PwresetEmailsLate" in done.stdout + done.stderr


def test_every_metric_an_alert_queries_is_documented_as_served() -> None:
    documented = set(re.findall(r"^\| `([a-z_]+)` \|", OPERATIONS.read_text(), flags=re.MULTILINE))
    outside = {"up", "kube_pod_status_ready"}  # Prometheus itself, kube-state-metrics
    promql = {"sum", "max", "by", "rate", "increase", "histogram_quantile", "le", "job"}
    promql |= {"namespace", "pod", "worker"}  # labels
    for group in groups():
        for rule in group["rules"]:
            bare = re.sub(r'\{[^}]*\}|\[[^\]]*\]|"[^"]*"', " ", rule["expr"])
            names = set(re.findall(r"[a-z_][a-z0-9_]*", bare)) - promql - outside
            names = {n.removesuffix("_bucket") for n in names}
            assert names <= documented, f"{rule['alert']}: {names - documented}"


def test_the_component_renders_into_the_prod_overlay_shape() -> None:
    kustomization = yaml.safe_load((COMPONENT / "kustomization.yaml").read_text())
    assert kustomization["kind"] == "Component"
    (rule,) = [yaml.safe_load((COMPONENT / r).read_text()) for r in kustomization["resources"]]
    assert rule["apiVersion"] == "monitoring.coreos.com/v1" and rule["kind"] == "PrometheusRule"


def test_the_operations_guide_lists_every_alert_as_the_rules_define_it() -> None:
    listed = re.findall(r"^\| `(Pwreset\w+)` \| (\w+) \|", OPERATIONS.read_text(), re.MULTILINE)
    rules = [(r["alert"], r["labels"]["severity"]) for g in groups() for r in g["rules"]]
    assert listed == rules
