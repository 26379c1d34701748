"""One row per metric, its reference beside it, the ratio, the target and PASS/MISS; as a table
for the terminal and as JSON (with the machine) under bench/results/."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any


@dataclass
class Row:
    metric: str
    measured: str
    reference: str = ""
    ratio: float | None = None
    target: str = ""
    passed: bool | None = None  # None: reported for information, no target
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def verdict(self) -> str:
        return {True: "PASS", False: "MISS", None: ""}[self.passed]


def at_least(ratio: float, bound: float) -> bool:
    return not math.isnan(ratio) and ratio >= bound


def ratio_text(ratio: float | None) -> str:
    return "" if ratio is None or math.isnan(ratio) else f"{ratio:.2f}x"


def table(rows: list[Row]) -> str:
    headings = ("metric", "measured", "reference (same run)", "ratio", "target", "result")
    cells = [
        (r.metric, r.measured, r.reference, ratio_text(r.ratio), r.target, r.verdict) for r in rows
    ]
    widths = [max(len(str(c[i])) for c in [headings, *cells]) for i in range(len(headings))]

    def line(values: tuple[str, ...]) -> str:
        return " | ".join(str(v).ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    rule = "-+-".join("-" * w for w in widths)
    return "\n".join([line(headings), rule, *(line(c) for c in cells)])


def write_json(path: Path, rows: list[Row], meta: dict[str, Any]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    document = {**meta, "rows": [{**asdict(r), "result": r.verdict} for r in rows]}
    path.write_text(json.dumps(document, indent=2, default=str) + "\n")
