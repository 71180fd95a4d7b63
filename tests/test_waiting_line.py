"""The line of questions waiting for the model: first come first served, as many at once as it has slots, a
cancelled question leaves without a trace, and the estimate comes from answers actually timed."""

from __future__ import annotations

import time
from contextlib import ExitStack

import pytest

from assistant.waiting_line import WaitingLine


def test_one_slot_admits_in_order_and_counts_who_is_ahead():
    line = WaitingLine(slots=1)
    with ExitStack() as stack:
        first, second, third = (stack.enter_context(line.place()) for _ in range(3))
        assert first.admitted(0)
        assert not second.admitted(0) and not third.admitted(0)
        assert (second.ahead, third.ahead) == (0, 1)  # the one being answered is not "ahead in line"
        assert not third.admitted(0.05)  # waits for the second, not only for a free slot
        assert line.waiting == 2


def test_leaving_lets_the_next_one_in():
    line = WaitingLine(slots=1)
    first_stack = ExitStack()
    first = first_stack.enter_context(line.place())
    assert first.admitted(0)
    with line.place() as second:
        assert not second.admitted(0)
        first_stack.close()  # the first answer is done
        assert second.admitted(0)
        assert line.waiting == 0


def test_slots_admit_that_many_at_once():
    line = WaitingLine(slots=2)
    with ExitStack() as stack:
        places = [stack.enter_context(line.place()) for _ in range(3)]
        assert [p.admitted(0) for p in places] == [True, True, False]
        assert places[2].ahead == 0


def test_a_cancelled_question_leaves_the_line_and_teaches_no_estimate():
    line = WaitingLine(slots=1)
    with line.place() as writing:
        assert writing.admitted(0)
        with pytest.raises(GeneratorExit):  # how a closed stream leaves: an exception inside the block
            with line.place() as cancelled:
                assert not cancelled.admitted(0)
                raise GeneratorExit
        assert line.waiting == 0
        with line.place() as later:
            assert later.ahead == 0 and later.estimate_s() is None  # no answer has been timed yet


def test_the_estimate_follows_timed_answers():
    line = WaitingLine(slots=1)
    for _ in range(3):
        with line.place() as place:
            assert place.admitted(0)
            time.sleep(0.6)
    with ExitStack() as stack:
        writing = stack.enter_context(line.place())
        assert writing.admitted(0)
        next_one, after_it = stack.enter_context(line.place()), stack.enter_context(line.place())
        assert next_one.estimate_s() == pytest.approx(1.0)  # 0.6 s left of the answer being written: the floor
        assert after_it.estimate_s() == pytest.approx(1.2, abs=0.1)  # the one before it, then its own wait
