"""docs/events/ is generated from the contracts and must be kept up to date."""

from pathlib import Path

import pytest
from pwreset_contracts import SCHEMA_MODELS, docs, load_schema

DOCS = Path(__file__).resolve().parents[2] / "docs" / "events"


def test_the_committed_pages_are_up_to_date() -> None:
    stale = docs.stale_pages(docs.render(), DOCS)
    assert stale == [], (
        f"docs/events is out of date ({', '.join(stale)}): "
        "run `uv run python -m pwreset_contracts.docs` and commit the result"
    )


@pytest.mark.parametrize("name", sorted(SCHEMA_MODELS))
def test_each_page_documents_every_field_and_the_topic_settings(name: str) -> None:
    page = docs.render()[f"{name}.md"]
    assert f"| Topic | `{name}` |" in page
    assert "| Partitions | 3 |" in page
    for field in load_schema(name)["properties"]:
        assert f"| `{field}` |" in page
    assert '"topic": "' + name + '"' in page  # the example record


def test_retention_is_shown_in_words() -> None:
    index = docs.render()["README.md"]
    assert "| reset | notifier | 30 minutes |" in index
    assert "| identity | notifier | 7 days |" in index


def test_check_mode_fails_on_a_changed_missing_or_leftover_page(tmp_path: Path) -> None:
    assert docs.main(["--out", str(tmp_path)]) == 0
    assert docs.main(["--check", "--out", str(tmp_path)]) == 0

    (tmp_path / "README.md").write_text("edited by hand")
    (tmp_path / "identity.password-changed.v1.md").unlink()
    (tmp_path / "password-reset.cancelled.v1.md").write_text("a contract that is gone")
    assert docs.stale_pages(docs.render(), tmp_path) == [
        "README.md",
        "identity.password-changed.v1.md",
        "password-reset.cancelled.v1.md",
    ]
    assert docs.main(["--check", "--out", str(tmp_path)]) == 1

    assert docs.main(["--out", str(tmp_path)]) == 0
    assert docs.stale_pages(docs.render(), tmp_path) == []
