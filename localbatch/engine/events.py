"""The deterministic event queue: a heap of [due_ms, seq, action, args].

`seq` breaks ties, so events due at the same millisecond run in the order
they were scheduled, on every run. A cancelled event keeps its place in the
heap with its action cleared, which is cheaper than removing it.
"""

from __future__ import annotations

import heapq
import itertools
from typing import Any, Callable

from localbatch.engine.journal import Journal

Event = list  # [due_ms, seq, action | None, args]


def _unpush(heap: list, entry: Event) -> None:
    # Rollback of a push: the entry may have moved, so cancel it in place.
    entry[2] = None


class EventQueue:
    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._heap: list[Event] = []
        self._seq = itertools.count()

    def schedule(self, due_ms: int, action: Callable[..., Any], *args: Any) -> Event:
        entry: Event = [due_ms, next(self._seq), action, args]
        heapq.heappush(self._heap, entry)
        self._journal.record(_unpush, self._heap, entry)
        return entry

    def cancel(self, entry: Event | None) -> None:
        if entry is not None and entry[2] is not None:
            self._journal.record(entry.__setitem__, 2, entry[2])
            entry[2] = None

    def next_due_ms(self) -> int | None:
        heap = self._heap
        while heap and heap[0][2] is None:
            self._journal.record(heapq.heappush, heap, heapq.heappop(heap))
        return heap[0][0] if heap else None

    def pop_due(self, now_ms: int) -> Event | None:
        """The next live event due at or before `now_ms`, removed from the queue."""
        heap = self._heap
        while heap and heap[0][0] <= now_ms:
            entry = heapq.heappop(heap)
            self._journal.record(heapq.heappush, heap, entry)
            if entry[2] is not None:
                return entry
        return None

    def __len__(self) -> int:
        return sum(1 for e in self._heap if e[2] is not None)
