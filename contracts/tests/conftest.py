from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from uuid import uuid4

import pytest
from pwreset_contracts import ResetRequestedV1, SealedValue


@pytest.fixture
def make_reset_requested() -> Callable[[], ResetRequestedV1]:
    def make() -> ResetRequestedV1:
        now = datetime.now(UTC)
        return ResetRequestedV1(
            request_id=uuid4(),
            account_id=uuid4(),
            email="ada@example.com",
            requested_at=now,
            expires_at=now + timedelta(minutes=30),
            sealed_link=SealedValue(kid="k1", nonce="bm9uY2U", ciphertext="Y2lwaGVy"),
        )

    return make
