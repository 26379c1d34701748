"""A reason the admin API's document calls valid is one the use case keeps (Schemathesis found
"\\u0085" accepted by the schema and refused by the use case as blank, then a reason ending in
NUL, which PostgreSQL's text refused: a 500)."""

import pytest
from identity_service.api.admin_schemas import ChangeReason
from identity_service.domain.support import Action, checked_reason
from pydantic import ValidationError


@pytest.mark.parametrize(
    "blank", ["\u0085", " \t\n", "\x1c\x1d", "\u2003\u3000", "\x00", "SUP-1\x00", "\u0085é"]
)
def test_a_reason_of_blanks_or_controls_is_invalid(blank: str) -> None:
    with pytest.raises(ValidationError):
        ChangeReason(reason=blank)


@pytest.mark.parametrize(
    "reason", ["SUP-4711", " x ", "é", "本人確認済み", "\ufeff", "SUP-1\n\tcalled back"]
)
def test_a_valid_reason_is_kept_by_the_use_case(reason: str) -> None:
    accepted = ChangeReason(reason=reason).reason
    assert checked_reason(Action.TWO_FACTOR_REMOVED, accepted)
