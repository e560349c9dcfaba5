"""Fair-share maths (spec §1.5, §3.3 [proposed]), free of what a job is.

Everything here counts "capacity units": vCPUs for container jobs,
instances for service jobs. The scheduler that owns the jobs decides what a
unit is; this module only keeps, per share of one queue:

* the step function u(t) of units in use (a point per dispatch and per
  release), from which the decayed usage of spec §3.3 step 2 follows in
  O(log n) at any time, with no per-pass work for shares not asked about;
* the share's waiting items (RUNNABLE jobs) in the order of step 3:
  schedulingPriority desc, createdAt asc, then a tie-breaker int;
* which items hold units now, and which jobs keep the share active
  (the 500-active-shares limit of §7 row 17).

Decayed usage is exact: units are counted in millionths and times in whole
milliseconds, so the integral of step 2 is an integer ratio and two shares
with the same history get the same score, bit for bit, whatever order the
engine met their events in.

    hist(s) = Σ_jobs units × ∫ w(t) dt over [now−D, now] ∩ running interval,
    w(t) = 1 − (now − t)/D,  D = max(shareDecaySeconds, 600 s)
    score(s) = weight(s) × (hist(s)/D + cur(s))

With u(t) = Σ_k δ_k [t ≥ t_k] (δ_k the change at breakpoint t_k):
    hist = u(now−D)·D/2 + Σ_{t_k ≥ now−D} δ_k (x_k − x_k²/(2D)),  x_k = now − t_k
which three running sums (Σδ, Σδt, Σδt²) answer for any now and any D up
to the largest window a policy may ask for (604800 s).
"""

from __future__ import annotations

import heapq
import math
import weakref
from bisect import bisect_left
from typing import Any, Callable, Iterator

from localbatch.engine.jobs import TIEBREAK_BITS, SortedInts

MIN_WINDOW_SECONDS = 600
MAX_WINDOW_SECONDS = 604800
MAX_ACTIVE_SHARES = 500
MAX_PRIORITY = 9999
SCALE = 1_000_000  # units are kept in millionths: sums of usage stay exact integers
_MAX_WINDOW_MS = MAX_WINDOW_SECONDS * 1000
_CREATED_BITS = 42
_CREATED_MASK = (1 << _CREATED_BITS) - 1


# -- the policy ------------------------------------------------------------------------


def decay_window_ms(fairshare_policy: dict[str, Any] | None) -> int:
    """Spec §3.3 step 1: D = max(shareDecaySeconds, 600 s); 0 means the 600 s minimum."""
    seconds = (fairshare_policy or {}).get("shareDecaySeconds") or 0
    return max(int(seconds), MIN_WINDOW_SECONDS) * 1000


def weight_of(fairshare_policy: dict[str, Any] | None, share_identifier: str) -> tuple[float, str | None]:
    """Spec §1.5: (weightFactor, the shareDistribution entry that gave it).

    The exact identifier first, then the `prefix*` entry it matches (the
    policy forbids overlapping entries, so at most one does; the longest wins
    all the same), else 1.0 from no entry (None)."""
    best: tuple[float, str | None] = (1.0, None)
    best_len = -1
    for entry in (fairshare_policy or {}).get("shareDistribution") or ():
        given = entry["shareIdentifier"]
        weight = float(entry.get("weightFactor", 1.0))
        if given == share_identifier:
            return weight, given
        if given.endswith("*") and share_identifier.startswith(given[:-1]) and len(given) > best_len:
            best, best_len = (weight, given), len(given)
    return best


class Weights:
    """weight_of, remembered per identifier for one version of a policy.

    Stored policies are copy-on-write (an update is a new dict), so the dict
    object itself says whether the remembered weights still hold."""

    __slots__ = ("_policy", "_known")

    def __init__(self) -> None:
        self._policy: Any = None
        self._known: dict[str, float] = {}

    def of(self, fairshare_policy: dict[str, Any] | None, share_identifier: str) -> float:
        known = self.known(fairshare_policy)
        weight = known.get(share_identifier)
        if weight is None:
            weight = known[share_identifier] = weight_of(fairshare_policy, share_identifier)[0]
        return weight

    def known(self, fairshare_policy: dict[str, Any] | None) -> dict[str, float]:
        """The weights looked up so far under this version of the policy."""
        if fairshare_policy is not self._policy:
            self._policy = fairshare_policy
            self._known = {}
        return self._known


def reserved_units(fairshare_policy: dict[str, Any] | None, active_shares: int, max_total: float) -> float:
    """Spec §1.5, §3.3 step 4: R = (computeReservation/100)^A × max capacity
    (A = shares using capacity now). Nothing is reserved of unlimited capacity."""
    if max_total == math.inf:
        return 0.0
    fraction = ((fairshare_policy or {}).get("computeReservation") or 0) / 100
    return fraction**active_shares * max_total


def order_key(priority: int | None, created_at: int, tiebreak: int) -> int:
    """Spec §3.3 step 3 as one int: schedulingPriority desc, createdAt asc, tie-breaker asc."""
    return (((MAX_PRIORITY - (priority or 0)) << _CREATED_BITS | created_at) << TIEBREAK_BITS) | tiebreak


def created_at_of(key: int) -> int:
    return (key >> TIEBREAK_BITS) & _CREATED_MASK


def scaled(units: float) -> int:
    return round(units * SCALE)


# -- usage of one share over time ------------------------------------------------------


class Usage:
    """u(t), the units a share holds, as breakpoints with running sums.

    Times are kept relative to the first breakpoint (`origin`) so the sums
    stay small ints. Breakpoints older than the largest possible window only
    matter through u(now−D), so they are folded into `_before` once they
    pile up; that never changes an answer, so it needs no undo.

    Between two breakpoints entering or leaving the window, 2·D·hist is one
    quadratic in n = now − origin (`segment`); it is kept (`_segment`, not
    journaled: every change of the breakpoints forgets it, undo included),
    so a pass at a new engine time evaluates a polynomial per share instead
    of looking the window up and summing it again.
    """

    __slots__ = ("origin", "times", "c0", "c1", "c2", "_before", "_segment")

    def __init__(self) -> None:
        self.origin: int | None = None
        self.times: list[int] = []
        # Inclusive running sums of δ, δ·t, δ·t² (t relative to origin).
        self.c0: list[int] = []
        self.c1: list[int] = []
        self.c2: list[int] = []
        self._before = (0, 0, 0)  # the sums of the folded breakpoints
        self._segment: tuple | None = None

    def current_scaled(self) -> int:
        return self.c0[-1] if self.c0 else self._before[0]

    def current(self) -> float:
        """cur(s): the units held now."""
        return self.current_scaled() / SCALE

    def change(self, now_ms: int, delta_scaled: int, journal: Any) -> None:
        """u(t) moves by `delta_scaled` millionths of a unit at `now_ms` (journaled)."""
        if self.origin is None:
            journal.set(self, "origin", now_ms)
        t = now_ms - self.origin
        s0, s1, s2 = (self.c0[-1], self.c1[-1], self.c2[-1]) if self.c0 else self._before
        self._segment = None
        self.times.append(t)
        self.c0.append(s0 + delta_scaled)
        self.c1.append(s1 + delta_scaled * t)
        self.c2.append(s2 + delta_scaled * t * t)
        journal.record(_drop_last, self)
        if len(self.times) > 64 and self.times[0] < t - _MAX_WINDOW_MS:
            self._fold(t - _MAX_WINDOW_MS)

    def _fold(self, horizon: int) -> None:
        n = bisect_left(self.times, horizon)
        if n * 2 < len(self.times):
            return  # not worth a copy yet
        self._segment = None
        self._before = (self.c0[n - 1], self.c1[n - 1], self.c2[n - 1])
        for column in (self.times, self.c0, self.c1, self.c2):
            del column[:n]

    def segment(self, n: int, window_ms: int) -> tuple:
        """(window, lo, hi, p2, p1, p0, held): for every n' with lo < n' − window ≤ hi
        (the same breakpoints within the window as at n = now − origin),
        2·D·hist = (p2·n' + p1)·n' + p0 exactly; held is cur(s) in millionths.
        Kept in `_segment` until a breakpoint changes."""
        d = window_ms
        times = self.times
        last = len(times)
        c0 = self.c0
        held = c0[-1] if last else self._before[0]
        i = bisect_left(times, n - d)
        lo = times[i - 1] if i else -math.inf
        if i == last:  # nothing changed within the window: u held since then
            found = (d, lo, math.inf, 0, 0, held * d * d, held)
        else:
            c1, c2 = self.c1, self.c2
            if i:
                b0, b1, b2 = c0[i - 1], c1[i - 1], c2[i - 1]
            else:
                b0, b1, b2 = self._before
            # Σ δ(2D·x − x²) with x = n − t, expanded over the three sums and
            # gathered by powers of n (see the module docstring).
            a, b = held - b0, c1[-1] - b1
            found = (d, lo, times[i], -a, 2 * (d * a + b), b0 * d * d - 2 * d * b - (c2[-1] - b2), held)
        self._segment = found
        return found

    def decayed_numerator(self, now_ms: int, window_ms: int) -> int:
        """2·D·hist(s) in millionths of unit·ms, exactly (see the module docstring)."""
        origin = self.origin
        if origin is None:
            return 0
        n = now_ms - origin
        found = self._segment
        if found is None or found[0] != window_ms or not found[1] < n - window_ms <= found[2]:
            found = self.segment(n, window_ms)
        return (found[3] * n + found[4]) * n + found[5]

    def decayed(self, now_ms: int, window_ms: int) -> float:
        """hist(s) in unit·ms: usage over the window, recent usage weighing more."""
        return self.decayed_numerator(now_ms, window_ms) / (2 * window_ms * SCALE)


def _drop_last(usage: Usage) -> None:
    usage._segment = None
    for column in (usage.times, usage.c0, usage.c1, usage.c2):
        column.pop()


def score(weight: float, usage: Usage, now_ms: int, window_ms: int) -> float:
    """Spec §3.3 step 2: weight × (hist/D + cur); the lowest score is served first."""
    d2 = 2 * window_ms * window_ms
    inner = (usage.decayed_numerator(now_ms, window_ms) + d2 * usage.current_scaled()) / (d2 * SCALE)
    return weight * inner


# -- shares and the book of one queue ----------------------------------------------------


class Share:
    """One share identifier of one queue."""

    __slots__ = ("identifier", "waiting", "items", "usage", "holding", "live", "last_end")

    def __init__(self, identifier: str) -> None:
        self.identifier = identifier
        self.waiting = SortedInts()  # order keys of waiting items
        self.items: dict[int, Any] = {}  # order key -> item
        self.usage = Usage()
        self.holding: dict[Any, int] = {}  # item id -> scaled units it holds
        self.live: dict[Any, None] = {}  # ids of jobs not yet ended (they keep the share active)
        self.last_end: int | None = None  # when the last live job ended

    def head(self) -> tuple[int, Any] | None:
        key = self.waiting.min()
        return None if key is None else (key, self.items[key])

    def __repr__(self) -> str:
        return f"<Share {self.identifier} waiting={len(self.waiting)} cur={self.usage.current():g}>"


# Derived answers per book (ShareBook.remembered), kept out of the stored
# state: a call that fails and is rolled back leaves the state as it found it,
# whatever it computed meanwhile.
_MEMOS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


class ShareBook:
    """Every share of one queue, with the indexes a pass and a submit need.

    `add_waiting` / `remove_waiting` journal themselves only when given the
    journal: the container engine calls them from its RUNNABLE index, whose
    own undo already calls the inverse. Everything else is journaled here.
    """

    __slots__ = ("shares", "waiting", "using", "live_shares", "idle", "weights", "__weakref__")

    def __init__(self) -> None:
        self.shares: dict[str, Share] = {}
        self.waiting: dict[str, Share] = {}  # shares with waiting items
        self.using: dict[str, Share] = {}  # shares holding units (cur > 0)
        self.live_shares = 0  # shares with live jobs
        self.idle: dict[str, int] = {}  # no live job: identifier -> when its last job ended
        self.weights = Weights()

    def bump(self) -> None:
        """What the order of a pass reads changed (waiting items, units held),
        or such a change was undone: forget the remembered answer."""
        if self in _MEMOS:
            del _MEMOS[self]

    def remembered(self, key: tuple, compute: Callable[[], Any]) -> Any:
        """compute(), or its answer from the last call if `key` is the same and
        the book did not change since (the caller puts in `key` whatever else
        it reads: the time, the policy)."""
        memo = _MEMOS.get(self)
        if memo is not None and memo[0] == key:
            return memo[1]
        answer = compute()
        _MEMOS[self] = (key, answer)
        return answer

    def share(self, identifier: str, journal: Any) -> Share:
        found = self.shares.get(identifier)
        if found is None:
            found = Share(identifier)
            journal.put(self.shares, identifier, found)
        return found

    # -- waiting items (journaled only when given a journal, see the class docstring) --

    def add_waiting(self, share: Share, key: int, item: Any, journal: Any = None) -> None:
        """File `item` under `share` at `key` (an `order_key`)."""
        if _MEMOS:
            self.bump()
        share.waiting.add(key)
        share.items[key] = item
        if share.identifier not in self.waiting:
            self.waiting[share.identifier] = share
        if journal is not None:
            journal.record(self.remove_waiting, share, key)

    def remove_waiting(self, share: Share, key: int, journal: Any = None) -> None:
        item = share.items.pop(key, None)
        if item is None:
            return
        if _MEMOS:
            self.bump()
        share.waiting.discard(key)
        if not share.waiting:
            self.waiting.pop(share.identifier, None)
        if journal is not None:
            journal.record(self.add_waiting, share, key, item)

    # -- units held --

    def start_using(self, share: Share, item_id: Any, units: float, now_ms: int, journal: Any) -> None:
        if item_id in share.holding:
            return
        amount = scaled(units)
        self.bump()
        journal.record(self.bump)
        journal.put(share.holding, item_id, amount)
        share.usage.change(now_ms, amount, journal)
        if share.identifier not in self.using and share.usage.current_scaled() > 0:
            journal.put(self.using, share.identifier, share)

    def stop_using(self, share: Share, item_id: Any, now_ms: int, journal: Any) -> None:
        amount = share.holding.get(item_id)
        if amount is None:
            return
        self.bump()
        journal.record(self.bump)
        journal.pop(share.holding, item_id)
        share.usage.change(now_ms, -amount, journal)
        if not share.holding and share.identifier in self.using:
            journal.pop(self.using, share.identifier)

    # -- activity (spec §3.3: active while it has unfinished jobs, then for one window) --

    def job_live(self, share: Share, job_id: Any, journal: Any) -> None:
        if job_id in share.live:
            return
        if not share.live:
            journal.set(self, "live_shares", self.live_shares + 1)
            if share.identifier in self.idle:
                journal.pop(self.idle, share.identifier)
        journal.put(share.live, job_id, None)

    def job_ended(self, share: Share, job_id: Any, now_ms: int, journal: Any) -> None:
        if job_id not in share.live:
            return
        journal.pop(share.live, job_id)
        if not share.live:
            journal.set(self, "live_shares", self.live_shares - 1)
            journal.set(share, "last_end", now_ms)
            journal.put(self.idle, share.identifier, now_ms)

    def is_active(self, identifier: str, now_ms: int, window_ms: int) -> bool:
        share = self.shares.get(identifier)
        if share is None:
            return False
        if share.live:
            return True
        return share.last_end is not None and now_ms < share.last_end + window_ms

    def admits(self, identifier: str, now_ms: int, window_ms: int) -> bool:
        """Whether a job for `identifier` keeps the active shares within
        MAX_ACTIVE_SHARES (spec §7 row 17): an active share always may."""
        return self.is_active(identifier, now_ms, window_ms) or self.active_count(now_ms, window_ms) < MAX_ACTIVE_SHARES

    def active_count(self, now_ms: int, window_ms: int) -> int:
        """Shares with unfinished jobs, plus those whose last job ended less than a window ago."""
        idle = self.idle
        horizon = now_ms - window_ms
        # Entries go in as shares turn idle, so oldest first: expired ones are
        # dropped for good (dropping them changes no answer, so no undo).
        while idle:
            identifier = next(iter(idle))
            if idle[identifier] > horizon:
                break
            del idle[identifier]
        return self.live_shares + len(idle)


# -- the order of a pass (spec §3.3 steps 4-5) ------------------------------------------------


class SharePass:
    """The shares of one pass, lowest score first.

    `next()` names the share to serve and its best waiting item; the caller
    then either dispatches it (and calls `served`, once the item left the
    waiting set and its units count in the share's usage) or gives up on
    the share for this pass (`skip`). hist does not move within a pass, so
    it is computed once per share; a share is re-ranked after each serve.
    Ties: the candidate created first, then the identifier.

    The heap ranks by weight × (2·D²·(hist/D + cur)) in millionths: the score
    times a constant of the pass, so the order is the scores' order, at the
    cost of one int-to-float conversion per share.
    """

    __slots__ = ("_heap", "_book", "_policy", "_now", "_window", "_d2", "_hist", "_weight", "_skipped")

    def __init__(self, book: ShareBook, fairshare_policy: dict[str, Any] | None, now_ms: int) -> None:
        self._book = book
        self._policy = fairshare_policy
        self._now = now_ms
        window = self._window = decay_window_ms(fairshare_policy)
        d2 = self._d2 = 2 * window * window
        hist: dict[str, int] = {}
        self._hist = hist
        weight = self._weight = book.weights.of
        known = book.weights.known(fairshare_policy)
        heap = []
        append = heap.append
        known_weight = known.get
        shift, mask = TIEBREAK_BITS, _CREATED_MASK
        # The hot loop of every pass and of every frontOfQueue at a new engine
        # time: one rank per waiting share (500 at most). Usage.decayed_numerator
        # is written out here: a call per share was a good part of the cost.
        for identifier, share in book.waiting.items():
            key = share.waiting.min()
            if key is None:
                continue
            usage = share.usage
            origin = usage.origin
            if origin is None:
                numerator = held = 0
            else:
                n = now_ms - origin
                found = usage._segment
                if found is None or found[0] != window or not found[1] < n - window <= found[2]:
                    found = usage.segment(n, window)
                _, _, _, p2, p1, p0, held = found
                numerator = (p2 * n + p1) * n + p0
            hist[identifier] = numerator
            factor = known_weight(identifier)
            if factor is None:
                factor = weight(fairshare_policy, identifier)
            append((factor * float(numerator + d2 * held), (key >> shift) & mask, identifier, key, share))
        heapq.heapify(heap)
        self._heap = heap
        self._skipped: list[tuple] = []

    def _rank(self, share: Share, extra_scaled: int = 0) -> float:
        hist = self._hist.get(share.identifier)
        if hist is None:
            hist = self._hist[share.identifier] = share.usage.decayed_numerator(self._now, self._window)
        held = share.usage.current_scaled() + extra_scaled
        return self._weight(self._policy, share.identifier) * float(hist + self._d2 * held)

    def score(self, share: Share, extra_scaled: int = 0) -> float:
        """Spec §3.3 step 2 for `share` in this pass (with `extra_scaled` more units in use)."""
        return self._rank(share, extra_scaled) / (self._d2 * SCALE)

    def _entry(self, share: Share, extra_scaled: int = 0, after: int | None = None) -> tuple | None:
        if after is None:
            key = share.waiting.min()
        else:
            key = next(share.waiting.ascending(after), None)
        if key is None:
            return None
        return (self._rank(share, extra_scaled), created_at_of(key), share.identifier, key, share)

    def next(self) -> tuple[Share, Any] | None:
        heap = self._heap
        while heap:
            _, _, _, key, share = heap[0]
            item = share.items.get(key)
            if item is not None:
                return share, item
            # The share's head left the waiting set since it was ranked: rank it again.
            entry = self._entry(share)
            if entry is None:
                heapq.heappop(heap)
            else:
                heapq.heapreplace(heap, entry)
        return None

    def served(self) -> None:
        _, _, _, _, share = heapq.heappop(self._heap)
        entry = self._entry(share)
        if entry is not None:
            heapq.heappush(self._heap, entry)

    def skip(self) -> None:
        # Kept: the share sits out this pass, not the order that follows it (`order_after`).
        self._skipped.append(heapq.heappop(self._heap))

    def order_after(self, units_of: Callable[[Any], float], limit: int) -> list[Any]:
        """What `simulated_order` would answer now, from where this pass
        stopped: its shares are ranked already (the units served in the pass
        count in their usage, and decayed usage does not move within a pass),
        so no share is scored again. Reads only; the pass is left as it is."""
        heap = self._heap + self._skipped
        if self._skipped:
            heapq.heapify(heap)
        return _ordered(self, heap, units_of, limit)


def simulated_order(
    book: ShareBook,
    fairshare_policy: dict[str, Any] | None,
    now_ms: int,
    units_of: Callable[[Any], float],
    limit: int,
) -> list[Any]:
    """The first `limit` waiting items in the order a pass would serve them
    if capacity were unlimited (no reservation hold-back, no blocked head).
    Reads only."""
    trial = SharePass(book, fairshare_policy, now_ms)
    return _ordered(trial, trial._heap, units_of, limit)


def _ordered(trial: SharePass, heap: list[tuple], units_of: Callable[[Any], float], limit: int) -> list[Any]:
    """Pop `heap` (entries of `trial`) as a pass with unlimited capacity would serve them.

    Each share's later items come from one iterator over its waiting keys
    (a share may give most of the 100), and its rank from the pass's
    decayed usage and weight: nothing here scores a share from scratch.
    Most shares give one item, so a share's iterator starts at its first
    key and steps past the one served (starting it after that key instead
    would copy the share's block of keys)."""
    extra: dict[str, int] = {}
    following: dict[str, Iterator[int]] = {}
    weights = trial._book.weights.known(trial._policy)
    hist, d2 = trial._hist, trial._d2
    out: list[Any] = []
    append = out.append
    replace, pop = heapq.heapreplace, heapq.heappop
    # The share at the top is popped, or replaced by its next entry in one
    # sift: identifiers are unique in the heap, so its order is strict and
    # how it is laid out never changes what comes out.
    while heap and len(out) < limit:
        _, _, identifier, key, share = heap[0]
        item = share.items.get(key)
        if item is not None:
            append(item)
            extra[identifier] = added = extra.get(identifier, 0) + round(units_of(item) * SCALE)  # scaled()
            keys = following.get(identifier)
            if keys is None:
                keys = following[identifier] = share.waiting.ascending()
                following_key = next(keys, None)
                while following_key is not None and following_key <= key:
                    following_key = next(keys, None)
            else:
                following_key = next(keys, None)
        else:  # its head left the waiting set since it was ranked (only before its first item)
            added = extra.get(identifier, 0)
            keys = following[identifier] = share.waiting.ascending()
            following_key = next(keys, None)
        if following_key is None:
            pop(heap)
            continue
        weight = weights.get(identifier)
        numerator = hist.get(identifier)
        if weight is None or numerator is None:
            rank = trial._rank(share, added)
        else:
            usage = share.usage
            held = usage.c0[-1] if usage.c0 else usage._before[0]  # Usage.current_scaled()
            rank = weight * float(numerator + d2 * (held + added))
        replace(heap, (rank, (following_key >> TIEBREAK_BITS) & _CREATED_MASK, identifier, following_key, share))
    return out


def ranked_usage(book: ShareBook, limit: int) -> list[tuple[str, float]]:
    """(identifier, units held) of the shares using capacity, most first, ties by identifier."""
    # Every snapshot asks (up to 500 shares): Usage.current_scaled written out.
    used = [(-(u.c0[-1] if u.c0 else u._before[0]), s.identifier) for s in book.using.values() for u in (s.usage,)]
    used.sort()
    return [(identifier, -amount / SCALE) for amount, identifier in used[:limit]]


def waiting_items(share: Share) -> Iterator[Any]:
    """A share's waiting items in their order (step 3)."""
    items = share.items
    return (items[key] for key in share.waiting.ascending())


def watch_decay(backend: Any, queue_arn: str, engine: str, stopped_with_room: bool) -> None:
    """Spec §3.1: every tick dispatches. A pass that stopped on a job that does
    not fit while capacity is free (and other shares wait) may go otherwise
    once decay alone reorders the shares, with no event in between: such a
    queue is watched, and Backend.run_until asks for its pass whenever time
    moves. `engine` is "container" or "service"."""
    watching = backend.decay_watch
    if stopped_with_room:
        if watching.get(queue_arn) != engine:
            backend.journal.put(watching, queue_arn, engine)
    elif queue_arn in watching:
        backend.journal.pop(watching, queue_arn)
