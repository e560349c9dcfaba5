"""The deterministic event queue: a heap of [due_ms, seq, action, args].

`seq` breaks ties, so events due at the same millisecond run in the order
they were scheduled, on every run. A cancelled event keeps its place in the
heap with its action cleared, which is cheaper than removing it.
"""

from __future__ import annotations

import itertools
from heapq import heappop, heappush
from typing import Any, Callable

from localbatch.engine.journal import Journal

Event = list  # [due_ms, seq, action | None, args]


def _unpush(heap: list, entry: Event) -> None:
    # Rollback of a push: the entry may have moved, so cancel it in place.
    entry[2] = None


class EventQueue:
    __slots__ = ("_heap", "_journal", "_seq")

    def __init__(self, journal: Journal) -> None:
        self._journal = journal
        self._heap: list[Event] = []
        self._seq = itertools.count()

    def schedule(self, due_ms: int, action: Callable[..., Any], *args: Any) -> Event:
        entry: Event = [due_ms, next(self._seq), action, args]
        heap = self._heap
        heappush(heap, entry)
        # Journal.record, inlined: every job event passes here.
        undo = self._journal._undo
        if undo is not None:
            undo.append((_unpush, (heap, entry)))
        return entry

    def cancel(self, entry: Event | None) -> None:
        if entry is not None and entry[2] is not None:
            self._journal.record(entry.__setitem__, 2, entry[2])
            entry[2] = None

    def next_due_ms(self) -> int | None:
        heap = self._heap
        while heap and heap[0][2] is None:
            self._journal.record(heappush, heap, heappop(heap))
        return heap[0][0] if heap else None

    def idle_until(self, now_ms: int) -> bool:
        """True if no entry, live or cancelled, is due at or before `now_ms`."""
        heap = self._heap
        return not heap or heap[0][0] > now_ms

    def only_due(self, now_ms: int) -> Event | None:
        """The entry due at or before `now_ms` if it is the only one, else None."""
        heap = self._heap
        if not heap or heap[0][0] > now_ms:
            return None
        # The root's children are the smallest of the rest.
        if any(heap[i][0] <= now_ms for i in (1, 2) if i < len(heap)):
            return None
        return heap[0]

    def pop_due(self, now_ms: int) -> Event | None:
        """The next live event due at or before `now_ms`, removed from the queue."""
        heap = self._heap
        journal = self._journal
        while heap and heap[0][0] <= now_ms:
            entry = heappop(heap)
            undo = journal._undo
            if undo is not None:
                undo.append((heappush, (heap, entry)))
            if entry[2] is not None:
                return entry
        return None

    def __len__(self) -> int:
        return sum(1 for e in self._heap if e[2] is not None)
