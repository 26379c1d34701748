"""CI's compatibility gate: every published schema against its released copy in the repo."""

from pathlib import Path

from pwreset_contracts import compat
from pwreset_contracts.schemas_on_disk import schema_names

RELEASED_DIR = Path(__file__).resolve().parents[1] / "released"


def test_every_schema_has_a_released_copy() -> None:
    released = sorted(path.stem for path in RELEASED_DIR.glob("*.json"))
    assert released == schema_names()
    assert len(released) == 5


def test_no_schema_breaks_the_consumers_of_its_released_version() -> None:
    report = compat.check_released(RELEASED_DIR)
    breaks = [f"{name}: {item}" for name, items in report.items() for item in items]
    assert breaks == [], "breaking schema changes (see contracts/README.md, 'Releasing'):\n" + (
        "\n".join(breaks)
    )
