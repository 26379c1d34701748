"""Pause and retry decisions of the at-least-once consumer."""

from servicekit.messaging.consumer.pause_retry import PauseState, WaitStep, next_wait


def test_the_first_failure_pauses_and_its_reason_is_kept() -> None:
    state = PauseState()
    assert state.pause("TransientSmtpError: 451", now=100.0)
    assert not state.pause("DeliveryBusy: event x", now=101.0)
    assert (state.since, state.reason) == (100.0, "TransientSmtpError: 451")
    assert state.problem(now=112.4) == "paused for 12s: TransientSmtpError: 451"


def test_resuming_says_how_long_it_was_paused_and_clears_it() -> None:
    state = PauseState()
    assert state.resume(now=5.0) == 0.0  # not paused: nothing to report
    state.pause("x", now=10.0)
    assert state.resume(now=13.5) == 3.5
    assert not state.paused and state.problem(now=20.0) is None
    assert state.pause("y", now=21.0)  # a later failure pauses again


def test_waiting_polls_in_short_steps_until_the_backoff_is_over() -> None:
    assert next_wait(2.0, paused=True, another_task_polls=False).step is WaitStep.POLL
    assert next_wait(2.0, paused=True, another_task_polls=False).seconds == 0.5
    assert next_wait(0.3, paused=True, another_task_polls=False).seconds == 0.3
    assert next_wait(0.0, paused=True, another_task_polls=False).step is WaitStep.DONE
    assert next_wait(-1.0, paused=False, another_task_polls=True).step is WaitStep.DONE


def test_one_task_polls_for_all_and_none_polls_after_a_resume() -> None:
    """getmany must not run twice at once; and polling pauses the partitions first, so polling
    after another partition's success resumed them would leave them paused for good."""
    other = next_wait(2.0, paused=True, another_task_polls=True)
    assert (other.step, other.seconds) == (WaitStep.NAP, 0.2)
    resumed = next_wait(2.0, paused=False, another_task_polls=False)
    assert resumed.step is WaitStep.NAP
    assert next_wait(0.1, paused=False, another_task_polls=False).seconds == 0.1
