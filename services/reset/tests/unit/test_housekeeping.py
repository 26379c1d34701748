"""PruneRateLimits on fakes: hits out of every window are forgotten, the others kept."""

from datetime import timedelta

from reset_service.service_layer.password_resets import PasswordResets

from .fakes import WINDOW, Clock, FakeDatabase


async def test_pruning_forgets_only_hits_out_of_the_window(
    db: FakeDatabase, resets: PasswordResets, clock: Clock
) -> None:
    start = clock.now
    await resets.request("old@example.com", "198.51.100.7")
    clock.advance(minutes=10)
    await resets.request("new@example.com", "198.51.100.7")
    clock.now = start + WINDOW + timedelta(seconds=1)
    db.calls = []
    await resets.prune_rate_limits()
    assert db.calls == ["rate_limits.prune", "commit"]
    assert [h.at for h in db.tables.hits] == [start + timedelta(minutes=10)] * 2  # ip, account
