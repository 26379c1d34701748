"""Support staff's use cases on the fakes: each action checks the role first, needs a reason for
a change, and commits its audit record and AdminActionAudited event with the change, or
neither."""

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from identity_service.domain.second_factor import SecondFactor
from identity_service.domain.support import Action, OpenResetRequest, Role
from identity_service.service_layer.errors import (
    AccountNotFound,
    NotPermitted,
    ReasonRequired,
    TwoFactorNotOn,
)
from identity_service.service_layer.ports import ResetUnavailable
from pwreset_contracts import AdminActionAuditedV1, SecondFactorChangedV1

from .fakes import ADMIN, NOBODY, PASSWORD, SUPPORT, World, link_token

REASON = "lost phone; identity checked by video call, ticket SUP-1"


def audited(world: World) -> list[AdminActionAuditedV1]:
    return [e for e in world.events() if isinstance(e, AdminActionAuditedV1)]


async def test_removing_two_factor_turns_it_off_signs_out_and_tells_the_person() -> None:
    world = World()
    account_id, email, _, codes = await world.totp_account()
    await world.accounts.login(email, PASSWORD, SecondFactor(None, codes[0]))
    assert world.live_sessions(account_id) == 1

    record = await world.support.remove_two_factor(SUPPORT, account_id, REASON)

    account = world.account(account_id)
    assert not account.totp_enabled and account.totp_secret_enc is None
    assert world.tables.recovery_codes.get(account_id, {}) == {}
    assert world.live_sessions(account_id) == 0  # the lost device may hold a session
    (notice,) = [e for e in world.events() if isinstance(e, SecondFactorChangedV1)][-1:]
    assert (notice.change, notice.actor, notice.email) == ("disabled", "support", email)
    assert link_token(notice.sealed_undo_link, notice.undo_link_binding())  # "This wasn't me"
    (event,) = audited(world)
    assert (event.audit_id, event.actor, event.role, event.action) == (
        record.id,
        "grace@corp.example",
        "support",
        "two_factor_removed",
    )
    assert (event.account_id, event.reason) == (account_id, REASON)
    assert world.tables.audit == [record]


async def test_a_change_without_a_reason_is_refused_and_writes_nothing() -> None:
    world = World()
    account_id, _, _, _ = await world.totp_account()
    commits = world.db.commits
    for blank in ("", "   "):
        with pytest.raises(ReasonRequired):
            await world.support.remove_two_factor(SUPPORT, account_id, blank)
        with pytest.raises(ReasonRequired):
            await world.support.sign_out_everywhere(SUPPORT, account_id, blank)
        with pytest.raises(ReasonRequired):
            await world.support.cancel_reset_requests(SUPPORT, account_id, blank)
    assert world.account(account_id).totp_enabled
    assert world.db.commits == commits and world.tables.audit == []


async def test_a_caller_without_a_role_may_do_nothing() -> None:
    world = World()
    account_id, email, _, _ = await world.totp_account()
    calls = [
        world.support.find_account(NOBODY, email, None),
        world.support.security_state(NOBODY, account_id, None),
        world.support.remove_two_factor(NOBODY, account_id, REASON),
        world.support.sign_out_everywhere(NOBODY, account_id, REASON),
        world.support.cancel_reset_requests(NOBODY, account_id, REASON),
        world.support.audit_log(NOBODY, None, None, 10),
    ]
    for call in calls:
        with pytest.raises(NotPermitted):
            await call
    assert world.account(account_id).totp_enabled and world.tables.audit == []


async def test_support_may_not_read_the_audit_log_but_admins_may() -> None:
    world = World()
    account_id, _ = await world.new_account()
    await world.support.sign_out_everywhere(SUPPORT, account_id, REASON)
    with pytest.raises(NotPermitted):
        await world.support.audit_log(SUPPORT, None, None, 10)
    page = await world.support.audit_log(ADMIN, account_id, None, 10)
    assert [(r.actor, r.action, r.role) for r in page.records] == [
        ("grace@corp.example", Action.SIGNED_OUT_EVERYWHERE, Role.SUPPORT)
    ]
    # The admin's read is on the record too.
    assert world.tables.audit[-1].action == Action.AUDIT_LOG_READ
    assert world.tables.audit[-1].actor == "ada@corp.example"


async def test_the_audit_log_pages_newest_first_without_gaps_or_repeats() -> None:
    world = World()
    account_id, _ = await world.new_account()
    for n in range(7):
        await world.support.sign_out_everywhere(SUPPORT, account_id, f"{REASON} #{n}")
    seen: list[str | None] = []
    before = None
    while True:
        page = await world.support.audit_log(ADMIN, account_id, before, 3)
        seen += [r.reason for r in page.records]
        if page.next_before is None:
            break
        before = page.next_before
    assert seen == [f"{REASON} #{n}" for n in reversed(range(7))]


async def test_removing_two_factor_from_an_account_without_it_changes_and_records_nothing() -> None:
    world = World()
    account_id, _ = await world.new_account()
    with pytest.raises(TwoFactorNotOn):
        await world.support.remove_two_factor(SUPPORT, account_id, REASON)
    assert world.tables.audit == [] and world.events() == []


async def test_an_unknown_account_is_not_found_and_nothing_is_recorded() -> None:
    world = World()
    nobody = uuid.uuid4()
    with pytest.raises(AccountNotFound):
        await world.support.remove_two_factor(SUPPORT, nobody, REASON)
    with pytest.raises(AccountNotFound):
        await world.support.security_state(SUPPORT, nobody, None)
    with pytest.raises(AccountNotFound):
        await world.support.cancel_reset_requests(SUPPORT, nobody, REASON)
    assert world.tables.audit == []


async def test_the_security_state_shows_counts_and_times_and_no_secret() -> None:
    world = World()
    account_id, email, _, codes = await world.totp_account()
    now = world.clock.datetime()
    request = OpenResetRequest(uuid.uuid4(), now, now + timedelta(minutes=30), True, 1)
    world.resets.open[account_id] = [request]

    state = await world.support.security_state(SUPPORT, account_id, "ticket SUP-2")

    facts = state.facts
    assert (facts.email, facts.two_factor_enabled, facts.recovery_codes_left) == (
        email,
        True,
        len(codes),
    )
    assert facts.live_sessions == 0 and not facts.second_factor_locked
    assert [c.kind for c in facts.recent_changes] == ["second_factor_enabled"]
    assert state.open_reset_requests == (request,)
    text = repr(state)
    assert "secret" not in text.lower().replace("second_factor", "")
    assert world.tables.audit[-1].action == Action.SECURITY_STATE_VIEWED
    assert world.tables.audit[-1].reason == "ticket SUP-2"


async def test_the_security_state_still_shows_when_the_reset_service_is_away() -> None:
    world = World()
    account_id, _ = await world.new_account()
    world.resets.unavailable = True
    state = await world.support.security_state(SUPPORT, account_id, None)
    assert state.open_reset_requests is None and state.facts.account_id == account_id


async def test_cancelling_reset_requests_records_it_only_once_the_reset_service_did_it() -> None:
    world = World()
    account_id, _ = await world.new_account()
    now = datetime.now(UTC)
    world.resets.open[account_id] = [
        OpenResetRequest(uuid.uuid4(), now, now + timedelta(minutes=30), False, 0)
    ] * 2
    world.resets.unavailable = True
    with pytest.raises(ResetUnavailable):
        await world.support.cancel_reset_requests(SUPPORT, account_id, REASON)
    assert world.tables.audit == []
    world.resets.unavailable = False
    cancelled, record = await world.support.cancel_reset_requests(SUPPORT, account_id, REASON)
    assert cancelled == 2 and world.tables.audit == [record]
    assert record.action == Action.RESET_REQUESTS_CANCELLED


async def test_sign_out_everywhere_voids_sessions_and_logins_in_flight() -> None:
    world = World()
    account_id, email = await world.new_account()
    await world.accounts.login(email, PASSWORD, SecondFactor(None, None))
    epoch = world.account(account_id).credentials_epoch
    await world.support.sign_out_everywhere(SUPPORT, account_id, REASON)
    assert world.live_sessions(account_id) == 0
    assert world.account(account_id).credentials_epoch == epoch + 1


async def test_looking_an_account_up_normalises_the_address_and_is_recorded() -> None:
    world = World()
    account_id, email = await world.new_account()
    assert await world.support.find_account(SUPPORT, email.upper(), None) == account_id
    assert await world.support.find_account(SUPPORT, "nobody@example.com", None) is None
    assert [(r.action, r.account_id) for r in world.tables.audit] == [
        (Action.ACCOUNT_LOOKED_UP, account_id),
        (Action.ACCOUNT_LOOKED_UP, None),
    ]
