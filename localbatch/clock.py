"""Engine time.

Engine time is the wall clock read at call time (`time.time_ns()`, which
freezegun and time-machine both patch) plus an offset that only the
controller moves. It is the only place localbatch reads the wall clock, and
it never goes backwards: a wall clock that jumps back is clamped to the last
reading, so timestamps already handed out stay ordered. A skip made while
clamped counts from that last reading, so `lb.advance(10)` always moves
engine time 10 s past what callers last saw.
"""

from __future__ import annotations

import time

from localbatch.errors import LocalBatchError


class Clock:
    def __init__(self) -> None:
        self._offset_ms = 0
        self._last_ms = 0

    @property
    def skipped_ms(self) -> int:
        """How far engine time is ahead of the wall clock (what advances added)."""
        return self._offset_ms

    def now_ms(self) -> int:
        now = time.time_ns() // 1_000_000 + self._offset_ms
        if now < self._last_ms:
            return self._last_ms
        self._last_ms = now
        return now

    def skip_ms(self, delta_ms: int) -> None:
        """Move engine time forward by `delta_ms` without touching the wall clock."""
        if delta_ms < 0:
            raise LocalBatchError(f"engine time cannot go backwards (asked to move {delta_ms} ms)")
        unclamped = time.time_ns() // 1_000_000 + self._offset_ms
        # While the wall clock is behind the last reading (it jumped back),
        # the skip counts from the engine time callers saw, not from the
        # wall clock; otherwise the clamp would swallow it.
        behind = max(0, self._last_ms - unclamped)
        self._offset_ms += behind + delta_ms

    def skip_to_ms(self, target_ms: int) -> None:
        """Move engine time forward to at least `target_ms`."""
        now = self.now_ms()
        if target_ms > now:
            self.skip_ms(target_ms - now)


def seconds_to_ms(seconds: float) -> int:
    if seconds < 0:
        raise LocalBatchError(f"cannot advance by a negative time ({seconds} s)")
    return round(seconds * 1000)
