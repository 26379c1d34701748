"""Support's actions on real PostgreSQL: the audit row and its event commit with the change or
not at all, the table cannot be rewritten, the security state carries no secret, and the log
pages without gaps while support works side by side."""

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import asyncpg
import pytest
from identity_service.bootstrap import unit_of_work
from identity_service.domain.second_factor import SecondFactor
from identity_service.domain.support import Action, Caller, OpenResetRequest, Role
from identity_service.service_layer.accounts import AccountService
from identity_service.service_layer.errors import TwoFactorNotOn
from identity_service.service_layer.notices import ChangeNotice, Notices
from identity_service.service_layer.support import Support
from pwreset_contracts import AdminActionAuditedV1

from .conftest import NOTICE_KEYS, PASSWORD, MakeTotpAccount, latest_outbox_record, new_email

pytestmark = pytest.mark.integration
SUPPORT = Caller("grace@corp.example", frozenset({Role.SUPPORT}))
ADMIN = Caller("ada@corp.example", frozenset({Role.ADMIN}))
REASON = "lost phone, checked by video call (SUP-1)"


class OpenRequests:
    def __init__(self) -> None:
        self.cancelled = 0

    async def open_requests(self, account_id: uuid.UUID) -> list[OpenResetRequest]:
        now = datetime.now(UTC)
        return [OpenResetRequest(uuid.uuid4(), now, now + timedelta(minutes=30), False, 0)]

    async def cancel_open(self, account_id: uuid.UUID) -> int:
        self.cancelled += 1
        return 1


@pytest.fixture
def support(pool: asyncpg.Pool) -> Support:
    def now() -> datetime:
        return datetime.now(UTC)

    notice = ChangeNotice("https://id.example.com", NOTICE_KEYS, timedelta(days=7))
    return Support(unit_of_work(pool), OpenRequests(), Notices(notice, now), now, lockout_after=100)


async def test_removal_commits_the_change_its_audit_row_and_both_events_together(
    pool: asyncpg.Pool,
    support: Support,
    make_service: Callable[..., AccountService],
    make_totp_account: MakeTotpAccount,
) -> None:
    accounts = make_service()
    account_id, _, _, _ = await make_totp_account(accounts)
    record = await support.remove_two_factor(SUPPORT, account_id, REASON)

    row = await pool.fetchrow("SELECT * FROM admin_audit WHERE id = $1", record.id)
    assert (row["actor"], row["role"], row["action"], row["account_id"], row["reason"]) == (
        "grace@corp.example",
        "support",
        "two_factor_removed",
        account_id,
        REASON,
    )
    assert not await pool.fetchval("SELECT totp_enabled FROM accounts WHERE id = $1", account_id)
    event, _ = await latest_outbox_record(pool, account_id)
    assert isinstance(event, AdminActionAuditedV1) and event.audit_id == record.id
    kinds = await pool.fetch(
        "SELECT headers FROM outbox WHERE key = $1 ORDER BY id", str(account_id).encode()
    )
    assert sum("second-factor-changed" in r["headers"] for r in kinds) == 2  # on, then off

    # A second removal finds it off: nothing more is written.
    count = await pool.fetchval("SELECT count(*) FROM admin_audit")
    with pytest.raises(TwoFactorNotOn):
        await support.remove_two_factor(SUPPORT, account_id, REASON)
    assert await pool.fetchval("SELECT count(*) FROM admin_audit") == count


async def test_the_audit_log_cannot_be_changed_or_emptied(
    pool: asyncpg.Pool, support: Support, make_service: Callable[..., AccountService]
) -> None:
    account_id = await make_service().create_account(new_email(), PASSWORD)
    record = await support.sign_out_everywhere(SUPPORT, account_id, REASON)
    for statement in (
        "UPDATE admin_audit SET actor = 'someone else' WHERE id = $1",
        "DELETE FROM admin_audit WHERE id = $1",
    ):
        with pytest.raises(asyncpg.RaiseError, match="append-only"):
            await pool.execute(statement, record.id)
    with pytest.raises(asyncpg.RaiseError, match="append-only"):
        await pool.execute("TRUNCATE admin_audit")
    assert await pool.fetchval("SELECT actor FROM admin_audit WHERE id = $1", record.id) == (
        "grace@corp.example"
    )


async def test_the_security_state_reads_counts_and_times_only(
    support: Support,
    make_service: Callable[..., AccountService],
    make_totp_account: MakeTotpAccount,
) -> None:
    accounts = make_service()
    account_id, email, _, codes = await make_totp_account(accounts)
    await accounts.login(email, PASSWORD, SecondFactor(None, codes[0]))
    state = await support.security_state(SUPPORT, account_id, None)
    facts = state.facts
    assert facts.two_factor_enabled and facts.recovery_codes_left == len(codes) - 1
    assert facts.live_sessions == 1 and len(facts.sessions) == 1
    assert facts.password_changed_at is not None
    assert [c.kind for c in facts.recent_changes] == ["second_factor_enabled"]
    assert state.open_reset_requests is not None and len(state.open_reset_requests) == 1
    shown = repr(state)
    for secret in ("hash", "secret_enc", "token"):
        assert secret not in shown


async def test_thirty_actions_side_by_side_page_back_whole(
    support: Support, make_service: Callable[..., AccountService]
) -> None:
    account_id = await make_service().create_account(new_email(), PASSWORD)
    await asyncio.gather(
        *(support.sign_out_everywhere(SUPPORT, account_id, f"{REASON} #{n}") for n in range(30))
    )
    reasons: list[str | None] = []
    before = None
    while True:
        page = await support.audit_log(ADMIN, account_id, before, 7)
        reasons += [r.reason for r in page.records if r.action is Action.SIGNED_OUT_EVERYWHERE]
        if page.next_before is None:
            break
        before = page.next_before
    assert sorted(reasons, key=str) == sorted((f"{REASON} #{n}" for n in range(30)), key=str)


async def test_twenty_removals_side_by_side_remove_once_record_once_and_email_once(
    pool: asyncpg.Pool,
    support: Support,
    make_service: Callable[..., AccountService],
    make_totp_account: MakeTotpAccount,
) -> None:
    """Two support staff on one ticket (or a double click) must not send two emails or leave two
    records of one removal."""
    account_id, _, _, _ = await make_totp_account(make_service())
    results = await asyncio.gather(
        *(support.remove_two_factor(SUPPORT, account_id, REASON) for _ in range(20)),
        return_exceptions=True,
    )
    done = [r for r in results if not isinstance(r, BaseException)]
    assert len(done) == 1
    assert all(isinstance(r, TwoFactorNotOn) for r in results if isinstance(r, BaseException))
    assert (
        await pool.fetchval("SELECT count(*) FROM admin_audit WHERE account_id = $1", account_id)
        == 1
    )
    notices = await pool.fetch(
        "SELECT headers FROM outbox WHERE key = $1", str(account_id).encode()
    )
    assert sum("second-factor-changed" in r["headers"] for r in notices) == 2  # on, then off once
