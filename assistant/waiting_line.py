"""The line of questions waiting for the answer model.

An in-process model on two cores writes one answer at a time (llama.cpp would interleave two, each at half
speed); an OpenAI-compatible server writes as many as it has slots. Questions beyond that wait here, first
come first served, instead of inside llama.cpp, so that a waiting user can be told their place and roughly how
long it will take, and a cancelled question leaves the line without ever reaching the model.
"""

from __future__ import annotations

import math
import statistics
import threading
import time
from collections import deque
from contextlib import contextmanager
from typing import Iterator

# Estimates come from the most recent answers: the model's speed depends on the machine and what runs beside it.
_RECENT = 20


class Place:
    """One question's place in the line, from joining it to leaving it (answered, failed or cancelled)."""

    def __init__(self, line: "WaitingLine"):
        self._line = line
        self.writing_since: float | None = None

    def admitted(self, timeout: float) -> bool:
        """Wait up to `timeout` seconds for the model; True once this question may use it."""
        return self._line._admit(self, timeout)

    @property
    def ahead(self) -> int:
        """Questions before this one that wait for the model (not counting those it is writing now)."""
        return self._line._ahead(self)

    def estimate_s(self) -> float | None:
        """Seconds until this question reaches the model, from recent answers' durations; None before any."""
        return self._line._estimate(self)


class WaitingLine:
    def __init__(self, slots: int):
        self.slots = slots  # answers written at once
        self._changed = threading.Condition()
        self._waiting: list[Place] = []
        self._writing: list[Place] = []
        self._durations: deque[float] = deque(maxlen=_RECENT)

    @contextmanager
    def place(self) -> Iterator[Place]:
        """Join the line; leave it when the block ends, however it ends (a closed stream is a cancel)."""
        place = Place(self)
        with self._changed:
            self._waiting.append(place)
        finished = False
        try:
            yield place
            finished = True
        finally:
            with self._changed:
                if place in self._waiting:
                    self._waiting.remove(place)
                if place in self._writing:
                    self._writing.remove(place)
                    if finished:  # a cancelled answer's duration says nothing about the next one's
                        self._durations.append(time.monotonic() - place.writing_since)
                self._changed.notify_all()

    @property
    def waiting(self) -> int:
        with self._changed:
            return len(self._waiting)

    def _admit(self, place: Place, timeout: float) -> bool:
        with self._changed:
            if place in self._writing:
                return True
            deadline = time.monotonic() + timeout
            while self._waiting.index(place) >= self.slots - len(self._writing):
                left = deadline - time.monotonic()
                if left <= 0 or not self._changed.wait(left):
                    return False
            self._waiting.remove(place)
            self._writing.append(place)
            place.writing_since = time.monotonic()
            self._changed.notify_all()
            return True

    def _ahead(self, place: Place) -> int:
        with self._changed:
            return self._waiting.index(place) if place in self._waiting else 0

    def _estimate(self, place: Place) -> float | None:
        with self._changed:
            if not self._durations or place not in self._waiting:
                return None
            typical = statistics.median(self._durations)
            # Answers ahead go through `slots` at a time; the longest-running one, which frees the first slot, is part
            # done.
            rounds = math.floor(self._waiting.index(place) / self.slots) + 1
            begun = max((time.monotonic() - p.writing_since for p in self._writing), default=0.0)
            return max(rounds * typical - min(begun, typical), 1.0)
