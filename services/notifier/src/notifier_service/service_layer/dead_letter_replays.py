"""Replaying dead letters: each selected record goes back to its origin topic only if that can
still lead to an email; the rest is reported with the reason it was left alone. The notifier's
delivery ledger stays the judge of "sent once": even a record replayed twice is mailed once."""

from collections.abc import Awaitable, Callable
from datetime import datetime

from notifier_service.domain.dead_letter_replay import DeadLetter, Selection, Verdict, verdict

Delivered = Callable[[str], Awaitable[bool]]
Reopen = Callable[[str], Awaitable[None]]
Publish = Callable[[list[DeadLetter]], Awaitable[None]]


async def replay(
    letters: list[DeadLetter],
    selection: Selection,
    *,
    delivered: Delivered,
    reopen: Reopen,
    publish: Publish,
    now: datetime,
    dry_run: bool = False,
) -> list[tuple[DeadLetter, Verdict]]:
    decided = []
    for letter in (candidate for candidate in letters if selection.matches(candidate)):
        sent = letter.event is not None and await delivered(letter.event.id)
        decided.append((letter, verdict(letter, now=now, delivered=sent)))
    # The same event dead-lettered twice is replayed once.
    chosen: dict[str, DeadLetter] = {}
    for letter, decision in decided:
        if decision is Verdict.REPLAY and letter.event is not None:
            chosen.setdefault(letter.event.id, letter)
    if chosen and not dry_run:
        # The ledger settled each of them as dead-lettered: open them again, then send.
        for event_id in chosen:
            await reopen(event_id)
        await publish(list(chosen.values()))
    return decided
