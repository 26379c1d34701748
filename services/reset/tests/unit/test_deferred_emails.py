"""SendDueEmails on fakes: a pending email goes out once its account has room, takes a slot
like any email, and is dropped if its request was used meanwhile."""

from datetime import timedelta

from reset_service.service_layer.password_resets import PasswordResets

from .fakes import WINDOW, Clock, FakeDatabase, FakeIdentity, Hit, emails

IP = "198.51.100.7"


async def over_the_limit(identity: FakeIdentity, resets: PasswordResets) -> None:
    identity.add("ada@example.com")
    for _ in range(4):  # three emails now, the fourth waits
        await resets.request("ada@example.com", IP)


async def test_a_pending_email_goes_out_when_its_account_has_room_again(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets, clock: Clock
) -> None:
    await over_the_limit(identity, resets)
    [(pending, _)] = db.tables.deferred.values()
    assert await resets.send_due_emails() == 0  # not due yet: nothing moves
    assert len(emails(db)) == 3
    clock.advance(seconds=WINDOW.total_seconds())
    assert await resets.send_due_emails() == 1
    assert db.tables.outbox[-1] == (pending.event_id, pending.record)  # the very event waiting
    assert not db.tables.deferred
    # It took a slot of the account's limit, like an email sent at once.
    assert sum(1 for h in db.tables.hits if h.scope == "account" and h.at == clock.now) == 1
    assert await resets.send_due_emails() == 0  # and went out once


async def test_a_pending_email_whose_window_is_full_again_waits_again(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets, clock: Clock
) -> None:
    await over_the_limit(identity, resets)
    [(pending, due_at)] = db.tables.deferred.values()
    clock.now = due_at
    # The slots were taken meanwhile (another replica counted them a second ago).
    taken = due_at - timedelta(seconds=1)
    db.tables.hits += [Hit("account", pending.limit_subject, taken) for _ in range(3)]
    db.calls = []
    assert await resets.send_due_emails() == 0
    assert db.tables.deferred[pending.account_id] == (pending, taken + WINDOW)  # waits again
    assert "deferred_emails.postpone" in db.calls and "outbox.add" not in db.calls
    assert len(emails(db)) == 3


async def test_a_pending_email_of_a_used_request_is_dropped_unsent(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets, clock: Clock
) -> None:
    await over_the_limit(identity, resets)
    [(pending, due_at)] = db.tables.deferred.values()
    db.tables.requests[pending.request_id].used_at = clock.now  # reset with a carried code
    clock.now = due_at
    assert await resets.send_due_emails() == 0
    assert not db.tables.deferred
    assert len(emails(db)) == 3
    assert not [h for h in db.tables.hits if h.at == clock.now]  # no slot taken


async def test_the_sender_takes_the_account_lock_before_reading_the_pending_email(
    db: FakeDatabase, identity: FakeIdentity, resets: PasswordResets, clock: Clock
) -> None:
    await over_the_limit(identity, resets)
    clock.advance(seconds=WINDOW.total_seconds())
    db.calls = []
    await resets.send_due_emails()
    # The order a new request takes them in (limit lock, then the pending row): no deadlock.
    assert db.calls == [
        "deferred_emails.due_accounts",
        "rollback",
        "rate_limits.lock:account",
        "deferred_emails.due",
        "requests.get",
        "rate_limits.take:account",
        "outbox.add",
        "deferred_emails.cancel",
        "commit",
    ]
