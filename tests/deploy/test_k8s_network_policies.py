"""The rendered NetworkPolicies, evaluated the way the API defines them (a pod selected by any
policy is isolated; traffic passes when some rule of a selecting policy allows it, and a
connection needs the source's egress and the destination's ingress), on the pods the overlays
actually run: the kustomize overlays and the Helm chart alike."""

from typing import Any

import pytest

from .conftest import RENDERINGS

INGRESS_NAMESPACE = "ingress-nginx"
MONITORING_NAMESPACE = "monitoring"
IDENTITY_INTERNAL_PORT = 8001  # identity's internal API, for reset only
RESET_INTERNAL_PORT = 8001  # reset's internal API, for identity's "This wasn't me" only
METRICS_PORT = 9100  # /metrics, on no other port; the monitoring namespace only
IDENTITY_ADMIN_PORT = 8002  # identity's admin API, for the support tools' namespace only
SUPPORT_NAMESPACE = "support-tools"
# Every pod but identity and reset: none of them calls identity.
OTHER_PODS = ("notifier", "identity-migrate", "reset-migrate", "notifier-migrate", "create-topics")
Labels = dict[str, str]


def selects(selector: dict[str, Any], labels: Labels) -> bool:
    assert "matchExpressions" not in selector, "the evaluator reads matchLabels only"
    return selector.get("matchLabels", {}).items() <= labels.items()


class Policies:
    def __init__(self, docs: list[dict[str, Any]]) -> None:
        self.items = [d for d in docs if d["kind"] == "NetworkPolicy"]
        (self.namespace,) = {d["metadata"]["namespace"] for d in self.items}
        self.pods: dict[str, Labels] = {
            d["metadata"]["name"]: d["spec"]["template"]["metadata"]["labels"]
            for d in docs
            if d["kind"] in ("Deployment", "Job")
        }

    def _peer_matches(self, peers: list[dict[str, Any]] | None, labels: Labels, ns: str) -> bool:
        if not peers:
            return True
        for peer in peers:
            pod_ok = "podSelector" not in peer or selects(peer["podSelector"], labels)
            if "namespaceSelector" in peer:
                ns_ok = selects(peer["namespaceSelector"], {"kubernetes.io/metadata.name": ns})
            else:
                ns_ok = ns == self.namespace  # a bare podSelector means this namespace
            if "ipBlock" not in peer and pod_ok and ns_ok:
                return True
        return False

    def _allows(self, direction: str, pod: Labels, peer: Labels, peer_ns: str, port: int) -> bool:
        key, peers_key = direction.lower(), "from" if direction == "Ingress" else "to"
        selecting = [
            p for p in self.items
            if direction in p["spec"]["policyTypes"] and selects(p["spec"]["podSelector"], pod)
        ]  # fmt: skip
        if not selecting:
            return True
        for policy in selecting:
            for rule in policy["spec"].get(key, []):
                ports = rule.get("ports")
                port_ok = not ports or any(p["port"] == port for p in ports)
                if port_ok and self._peer_matches(rule.get(peers_key), peer, peer_ns):
                    return True
        return False

    def connect(self, source: str, destination: str, port: int) -> bool:
        """Pod to pod inside the namespace."""
        src, dst = self.pods[source], self.pods[destination]
        return self._allows("Egress", src, dst, self.namespace, port) and self._allows(
            "Ingress", dst, src, self.namespace, port
        )

    def from_namespace(self, namespace: str, destination: str, port: int) -> bool:
        return self._allows("Ingress", self.pods[destination], {"any": "pod"}, namespace, port)

    def egress_outside(self, source: str, port: int) -> bool:
        """To an address outside the cluster (PostgreSQL, Kafka, the SMTP relay, DNS)."""
        return self._allows("Egress", self.pods[source], {}, "<external>", port)


@pytest.fixture(params=RENDERINGS)
def policies(request: pytest.FixtureRequest, rendered: dict[str, list[dict[str, Any]]]) -> Policies:
    return Policies(rendered[request.param])


def test_default_deny_both_ways(policies: Policies) -> None:
    deny = [p for p in policies.items if p["spec"]["podSelector"] == {}]
    assert any(
        set(p["spec"]["policyTypes"]) == {"Ingress", "Egress"}
        and not p["spec"].get("ingress") and not p["spec"].get("egress")
        for p in deny
    )  # fmt: skip


def test_only_reset_reaches_identitys_internal_port(policies: Policies) -> None:
    assert policies.connect("reset", "identity", IDENTITY_INTERNAL_PORT)
    for other in OTHER_PODS:
        assert not policies.connect(other, "identity", IDENTITY_INTERNAL_PORT), other
    for namespace in (INGRESS_NAMESPACE, MONITORING_NAMESPACE, "default"):
        assert not policies.from_namespace(namespace, "identity", IDENTITY_INTERNAL_PORT), namespace


def test_identitys_public_port_takes_the_ingress_controller_only(policies: Policies) -> None:
    assert policies.from_namespace(INGRESS_NAMESPACE, "identity", 8000)
    assert not policies.from_namespace(MONITORING_NAMESPACE, "identity", 8000)
    assert not policies.from_namespace("default", "identity", 8000)
    # reset needs only the internal API: nothing in the namespace calls identity's public port.
    for other in ("reset", *OTHER_PODS):
        assert not policies.connect(other, "identity", 8000), other


def test_public_apis_are_open_to_the_ingress_controller_only(policies: Policies) -> None:
    for name in ("identity", "reset"):
        assert policies.from_namespace(INGRESS_NAMESPACE, name, 8000)
        assert not policies.from_namespace("default", name, 8000)
        assert not policies.from_namespace(MONITORING_NAMESPACE, name, 8000)
    assert not policies.from_namespace(INGRESS_NAMESPACE, "notifier", 8000)
    # Nothing in the namespace calls reset's public API: identity uses the internal one.
    for other in ("identity", *OTHER_PODS):
        assert not policies.connect(other, "reset", 8000), other


def test_only_identity_reaches_resets_internal_port(policies: Policies) -> None:
    assert policies.connect("identity", "reset", RESET_INTERNAL_PORT)
    for other in OTHER_PODS:
        assert not policies.connect(other, "reset", RESET_INTERNAL_PORT), other
    for namespace in (INGRESS_NAMESPACE, MONITORING_NAMESPACE, "default"):
        assert not policies.from_namespace(namespace, "reset", RESET_INTERNAL_PORT), namespace


def test_only_the_support_tools_reach_identitys_admin_port(policies: Policies) -> None:
    """The admin API is for support staff's tools: never the ingress (not public), nor any pod
    of the platform; and the support namespace reaches nothing else of identity's."""
    assert policies.from_namespace(SUPPORT_NAMESPACE, "identity", IDENTITY_ADMIN_PORT)
    for namespace in (INGRESS_NAMESPACE, MONITORING_NAMESPACE, "default"):
        assert not policies.from_namespace(namespace, "identity", IDENTITY_ADMIN_PORT), namespace
    for other in ("reset", *OTHER_PODS):
        assert not policies.connect(other, "identity", IDENTITY_ADMIN_PORT), other
    for port in (8000, IDENTITY_INTERNAL_PORT, METRICS_PORT):
        assert not policies.from_namespace(SUPPORT_NAMESPACE, "identity", port), port
    for service in ("reset", "notifier"):
        assert not policies.from_namespace(SUPPORT_NAMESPACE, service, IDENTITY_ADMIN_PORT)


def test_metrics_port_takes_the_monitoring_namespace_only(policies: Policies) -> None:
    for service in ("identity", "reset", "notifier"):
        assert policies.from_namespace(MONITORING_NAMESPACE, service, METRICS_PORT), service
        for namespace in (INGRESS_NAMESPACE, "default"):
            assert not policies.from_namespace(namespace, service, METRICS_PORT), namespace
        for pod in policies.pods:
            if pod != service:
                assert not policies.connect(pod, service, METRICS_PORT), (pod, service)


def test_notifier_takes_nothing_but_metrics_scrapes(policies: Policies) -> None:
    for port in (8000, METRICS_PORT):
        for other in ("identity", "reset", "notifier-migrate"):
            assert not policies.connect(other, "notifier", port), other
        assert not policies.from_namespace(INGRESS_NAMESPACE, "notifier", port)
    assert not policies.from_namespace(MONITORING_NAMESPACE, "notifier", 8000)


def test_egress_is_limited_to_what_each_pod_uses(policies: Policies) -> None:
    for pod in policies.pods:
        assert policies.egress_outside(pod, 53), f"{pod}: DNS"
    for service in ("identity", "reset", "notifier"):
        assert policies.egress_outside(service, 5432) and policies.egress_outside(service, 9092)
        assert policies.egress_outside(f"{service}-migrate", 5432)
        assert not policies.egress_outside(f"{service}-migrate", 9092)
        if service != "identity":
            assert not policies.egress_outside(service, 443), f"{service}: nothing else leaves"
    # identity fetches the identity provider's keys (JWKS) for its admin API, over https.
    assert policies.egress_outside("identity", 443)
    assert not policies.egress_outside("identity", 80)
    assert policies.egress_outside("notifier", 587)
    assert not policies.egress_outside("reset", 587) and not policies.egress_outside(
        "identity", 587
    )
    assert policies.egress_outside("create-topics", 9092)
    assert not policies.egress_outside("create-topics", 5432)
