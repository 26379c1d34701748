"""The bench-keycloak table: ours beside Keycloak's, ratio ours ÷ Keycloak, goals of issue 15.

CPU per operation is summed over each system's processes: ours reset + identity + notifier +
PostgreSQL + Kafka, Keycloak's JVM + PostgreSQL (the SMTP sink and the load generator are the
same for both and left out). Every figure is the median over the runs.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

from bench.keycloak.config import Argon2
from bench.keycloak.flows import Outcome
from bench.report import Row, at_least
from bench.stats import median

OURS = ("reset", "identity", "notifier", "postgres", "kafka")
KEYCLOAK = ("keycloak", "postgres")
# Goals (issue 15): ours ÷ Keycloak.
FORGOT_RATE_AT_LEAST = 1.5
FORGOT_CPU_AT_MOST = 0.6
LOGIN_EQUAL_RATE_AT_LEAST = 1.2


@dataclass
class Measured:
    outcomes: dict[tuple[str, str], list[Outcome]] = field(
        default_factory=lambda: defaultdict(list)
    )
    keycloak_default_argon2: Argon2 | None = None
    equal_argon2: Argon2 | None = None
    our_rss: dict[str, float] = field(default_factory=dict)
    keycloak_rss: float = 0.0

    def add(self, kind: str, who: str, outcome: Outcome) -> None:
        self.outcomes[(kind, who)].append(outcome)

    def keep_memory(self, ours: dict[str, float], keycloak: float) -> None:
        """The larger of each process's readings."""
        for name, mib in ours.items():
            self.our_rss[name] = max(mib, self.our_rss.get(name, 0.0))
        self.keycloak_rss = max(keycloak, self.keycloak_rss)

    def rate(self, kind: str, who: str) -> float:
        return median([o.per_second for o in self.outcomes[(kind, who)]])

    def p50(self, kind: str, who: str) -> float:
        return median([o.p50 for o in self.outcomes[(kind, who)]])

    def p99(self, kind: str, who: str) -> float:
        return median([o.p99 for o in self.outcomes[(kind, who)]])

    def failed(self, kind: str) -> int:
        return sum(o.failed for (k, _), runs in self.outcomes.items() if k == kind for o in runs)

    def cpu(self, kind: str, who: str) -> dict[str, float]:
        """Median ms per operation of each process, and `total` over the system's own."""
        runs = self.outcomes[(kind, who)]
        if not runs:
            return {"total": float("nan")}
        own = OURS if who.startswith("ours") else KEYCLOAK
        per = {name: median([o.cpu_ms[name] for o in runs]) for name in runs[0].cpu_ms}
        per["total"] = median([o.cpu_of(own) for o in runs])
        return per

    def raw(self) -> dict[str, Any]:
        return {
            f"{kind} {who}": [o.summary() for o in runs]
            for (kind, who), runs in self.outcomes.items()
        }


def _ratio(ours: float, theirs: float) -> float:
    return ours / theirs if theirs else float("nan")


def _argon2(parameters: Argon2 | None) -> str:
    if parameters is None:
        return "?"
    return f"{parameters.memory_kib / 1024:.0f} MiB, t={parameters.iterations}"


def _our_cpu_text(cpu: dict[str, float]) -> str:
    return (
        f"{cpu['total']:.2f} ms (reset {cpu['reset']:.2f}, identity {cpu['identity']:.2f}, "
        f"notifier {cpu['notifier']:.2f}, PostgreSQL {cpu['postgres']:.2f}, "
        f"Kafka {cpu['kafka']:.2f})"
    )


def _keycloak_cpu_text(cpu: dict[str, float]) -> str:
    return (
        f"Keycloak {cpu['total']:.2f} ms (JVM {cpu['keycloak']:.2f}, "
        f"PostgreSQL {cpu['postgres']:.2f})"
    )


def rows(m: Measured) -> list[Row]:
    result: list[Row] = []
    if m.outcomes[("forgot", "ours")] and m.outcomes[("forgot", "keycloak")]:
        result += _forgot_rows(m)
    if m.outcomes[("login-default", "ours")] and m.outcomes[("login-default", "keycloak")]:
        result += _login_rows(m, "login-default", "each at its default argon2id", None)
    if m.outcomes[("login-equal", "ours")] and m.outcomes[("login-equal", "keycloak")]:
        result += _login_rows(
            m,
            "login-equal",
            f"equal argon2id ({_argon2(m.equal_argon2)})",
            LOGIN_EQUAL_RATE_AT_LEAST,
        )
    if m.keycloak_rss:
        result.append(_memory_row(m))
    return result


def _forgot_rows(m: Measured) -> list[Row]:
    ours, theirs = m.rate("forgot", "ours"), m.rate("forgot", "keycloak")
    our_cpu, their_cpu = m.cpu("forgot", "ours"), m.cpu("forgot", "keycloak")
    failed = m.failed("forgot")
    rate_ratio = _ratio(ours, theirs)
    cpu_ratio = _ratio(our_cpu["total"], their_cpu["total"])
    p50 = (m.p50("forgot", "ours"), m.p50("forgot", "keycloak"))
    p99 = (m.p99("forgot", "ours"), m.p99("forgot", "keycloak"))
    return [
        Row(
            "forgot-password flows/s (page(s) -> submit -> email accepted)",
            f"{ours:.0f} /s",
            f"Keycloak {theirs:.0f} /s",
            rate_ratio,
            f">= {FORGOT_RATE_AT_LEAST}x",
            at_least(rate_ratio, FORGOT_RATE_AT_LEAST) and failed == 0,
            {"failed_flows": failed, "ours_cpu_ms": our_cpu, "keycloak_cpu_ms": their_cpu},
        ),
        Row(
            "CPU per whole reset, all of each system's processes",
            _our_cpu_text(our_cpu),
            _keycloak_cpu_text(their_cpu),
            cpu_ratio,
            f"<= {FORGOT_CPU_AT_MOST}x",
            cpu_ratio <= FORGOT_CPU_AT_MOST,
        ),
        Row(
            "forgot-password flow p50 (first request -> email accepted)",
            f"{p50[0]:.1f} ms",
            f"Keycloak {p50[1]:.1f} ms",
            _ratio(*p50),
        ),
        Row(
            "forgot-password flow p99",
            f"{p99[0]:.1f} ms",
            f"Keycloak {p99[1]:.1f} ms",
            _ratio(*p99),
        ),
        *_pipelined_rows(m, theirs),
    ]


def _pipelined_rows(m: Measured, theirs: float) -> list[Row]:
    """Ours with the next flow started at the page's answer (Keycloak's is the same run as
    above: it answers after sending). No goal: information on what the design sustains."""
    if not m.outcomes[("forgot", "ours-pipelined")]:
        return []
    rate = m.rate("forgot", "ours-pipelined")
    cpu = m.cpu("forgot", "ours-pipelined")
    return [
        Row(
            "  pipelined: next flow at the answer, counted to the last email",
            f"{rate:.0f} /s at {cpu['total']:.2f} ms CPU",
            f"Keycloak {theirs:.0f} /s (sends before answering)",
            _ratio(rate, theirs),
            "",
            None,
            {"ours_cpu_ms": cpu, "p50_ms": m.p50("forgot", "ours-pipelined")},
        )
    ]


def _login_rows(m: Measured, kind: str, what: str, at_least_ratio: float | None) -> list[Row]:
    ours, theirs = m.rate(kind, "ours"), m.rate(kind, "keycloak")
    our_cpu, their_cpu = m.cpu(kind, "ours"), m.cpu(kind, "keycloak")
    failed = m.failed(kind)
    ratio = _ratio(ours, theirs)
    passed = None
    if at_least_ratio is not None:
        passed = at_least(ratio, at_least_ratio) and failed == 0
    if kind == "login-default":
        reference = f"Keycloak {theirs:.1f} /s ({_argon2(m.keycloak_default_argon2)})"
    else:
        reference = f"Keycloak {theirs:.1f} /s"
    return [
        Row(
            f"logins/s, {what}",
            f"{ours:.1f} /s",
            reference,
            ratio,
            f">= {at_least_ratio}x" if at_least_ratio is not None else "",
            passed,
            {"failed_logins": failed, "ours_cpu_ms": our_cpu, "keycloak_cpu_ms": their_cpu},
        ),
        Row(
            "  CPU per login",
            f"{our_cpu['total']:.1f} ms (identity {our_cpu['identity']:.1f})",
            f"Keycloak {their_cpu['total']:.1f} ms (JVM {their_cpu['keycloak']:.1f})",
            _ratio(our_cpu["total"], their_cpu["total"]),
        ),
        Row(
            "  login p50 / p99",
            f"{m.p50(kind, 'ours'):.1f} / {m.p99(kind, 'ours'):.1f} ms",
            f"Keycloak {m.p50(kind, 'keycloak'):.1f} / {m.p99(kind, 'keycloak'):.1f} ms",
            _ratio(m.p50(kind, "ours"), m.p50(kind, "keycloak")),
        ),
    ]


def _memory_row(m: Measured) -> Row:
    services = sum(v for k, v in m.our_rss.items() if k != "kafka")
    kafka = m.our_rss.get("kafka", 0.0)
    return Row(
        "RSS after the runs (PostgreSQL shared, left out)",
        f"{services + kafka:.0f} MiB (3 services {services:.0f}, Kafka {kafka:.0f})",
        f"Keycloak JVM {m.keycloak_rss:.0f} MiB",
        _ratio(services + kafka, m.keycloak_rss),
        "",
        None,
        {"ours_mib": m.our_rss, "keycloak_mib": m.keycloak_rss},
    )
