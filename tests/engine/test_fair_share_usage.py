"""The fair-share maths on its own (spec §1.5, §3.3 [proposed]): weights,
the decay window, decayed usage, the reservation, the order of a pass.
No jobs here: items are plain strings, units plain numbers."""

from __future__ import annotations

from fractions import Fraction

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localbatch.engine.fair_share_usage import (
    SCALE,
    ShareBook,
    SharePass,
    Usage,
    Weights,
    created_at_of,
    decay_window_ms,
    order_key,
    ranked_usage,
    reserved_units,
    score,
    simulated_order,
    weight_of,
)
from localbatch.engine.journal import Journal

T0 = 1_767_225_600_000
POLICY = {
    "shareDecaySeconds": 3600,
    "computeReservation": 0,
    "shareDistribution": [
        {"shareIdentifier": "teamA", "weightFactor": 1.0},
        {"shareIdentifier": "teamB", "weightFactor": 0.5},
        {"shareIdentifier": "research*", "weightFactor": 0.25},
    ],
}


# -- the policy ---------------------------------------------------------------------


@pytest.mark.parametrize(("seconds", "window_ms"), [(0, 600_000), (None, 600_000), (1, 600_000), (600, 600_000),
                                                    (601, 601_000), (604800, 604_800_000)])
def test_decay_window_is_at_least_600_seconds(seconds, window_ms):
    assert decay_window_ms({"shareDecaySeconds": seconds}) == window_ms
    assert decay_window_ms(None) == 600_000


def test_weight_is_exact_entry_then_prefix_then_one():
    assert weight_of(POLICY, "teamA") == (1.0, "teamA")
    assert weight_of(POLICY, "teamB") == (0.5, "teamB")
    assert weight_of(POLICY, "research") == (0.25, "research*")  # the prefix itself matches
    assert weight_of(POLICY, "research42") == (0.25, "research*")
    assert weight_of(POLICY, "teamB2") == (1.0, None)  # exact entries are not prefixes
    assert weight_of(POLICY, "Research1") == (1.0, None)  # case-sensitive
    assert weight_of({}, "x") == (1.0, None)


def test_weights_follow_a_replaced_policy():
    weights = Weights()
    assert weights.of(POLICY, "teamB") == 0.5
    changed = {**POLICY, "shareDistribution": [{"shareIdentifier": "teamB", "weightFactor": 2.0}]}
    assert weights.of(changed, "teamB") == 2.0  # a policy update is a new dict
    assert weights.of(changed, "research7") == 1.0


@pytest.mark.parametrize(
    ("reservation", "expected"),
    [(50, [8.0, 4.0, 2.0, 1.0]), (25, [8.0, 2.0, 0.5, 0.125]), (0, [8.0, 0.0, 0.0, 0.0])],
)
def test_reservation_shrinks_with_each_active_share(reservation, expected):
    # (computeReservation/100)^A of the maximum: 50 -> 50 %, 25 %, 12.5 % for 1, 2, 3 active shares;
    # with none running all of it is "reserve", which shares not yet running may use.
    policy = {"computeReservation": reservation}
    assert [reserved_units(policy, active, 8.0) for active in range(4)] == expected


def test_nothing_is_reserved_of_unlimited_capacity():
    assert reserved_units({"computeReservation": 50}, 1, float("inf")) == 0.0


def test_order_key_is_priority_desc_then_created_then_tiebreak():
    keys = {
        "p5-late": order_key(5, T0 + 10, 1),
        "p5-early": order_key(5, T0, 9),
        "p5-early-first": order_key(5, T0, 2),
        "p9": order_key(9, T0 + 99, 50),
        "p0": order_key(0, T0 - 5, 1),
        "none": order_key(None, T0 - 6, 1),
    }
    assert sorted(keys, key=keys.get) == ["p9", "p5-early-first", "p5-early", "p5-late", "none", "p0"]
    assert created_at_of(keys["p9"]) == T0 + 99


# -- decayed usage ------------------------------------------------------------------------


def brute_hist(intervals: list[tuple[int, int | None, float]], now: int, window: int) -> Fraction:
    """∫ u(t)·(1 − (now − t)/D) dt over [now − D, now], exactly, interval by interval."""
    total = Fraction(0)
    for start, stop, units in intervals:
        stop = now if stop is None else min(stop, now)
        lo, hi = max(start, now - window), stop
        if hi <= lo:
            continue
        # ∫_lo^hi 1 − (now − t)/D dt
        length = hi - lo
        total += Fraction(round(units * SCALE), SCALE) * (
            length - Fraction(2 * now * length - (hi * hi - lo * lo), 2 * window)
        )
    return total


def usage_of(intervals: list[tuple[int, int | None, float]]) -> Usage:
    usage = Usage()
    journal = Journal()
    points = []
    for start, stop, units in intervals:
        points.append((start, units))
        if stop is not None:
            points.append((stop, -units))
    for at, units in sorted(points, key=lambda p: p[0]):
        usage.change(at, round(units * SCALE), journal)
    return usage


def test_one_job_decays_linearly_over_the_window():
    window = 600_000
    usage = usage_of([(T0, T0 + 60_000, 2.0)])  # 2 vCPU for one minute
    # Just ended: 2 vCPU × ∫ over the last minute of w = 2 × (60 − 60²/(2·600)) s.
    assert usage.decayed(T0 + 60_000, window) == pytest.approx(2 * (60_000 - 60_000**2 / (2 * window)))
    assert usage.current() == 0.0
    # Older usage weighs less; once the whole interval is older than the window it is gone.
    assert usage.decayed(T0 + 300_000, window) < usage.decayed(T0 + 60_000, window)
    assert usage.decayed(T0 + 660_000, window) == 0.0
    assert usage.decayed(T0 + 10**9, window) == 0.0


def test_running_job_counts_until_now_and_in_cur():
    usage = usage_of([(T0, None, 4.0)])
    window = 600_000
    assert usage.current() == 4.0
    assert usage.decayed(T0, window) == 0.0
    assert usage.decayed(T0 + 600_000, window) == pytest.approx(4.0 * 300_000)  # u·D/2 once it spans the window
    assert usage.decayed(T0 + 10**8, window) == pytest.approx(4.0 * 300_000)
    assert score(0.5, usage, T0 + 600_000, window) == pytest.approx(0.5 * (4.0 * 300_000 / 600_000 + 4.0))


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 5_000_000), st.integers(0, 3_000_000) | st.none(),
                  st.sampled_from([0.25, 0.5, 1.0, 2.0, 3.0, 16.0, 0.1])),
        max_size=12,
    ),
    st.integers(0, 9_000_000),
    st.sampled_from([600_000, 1_800_000, 3_600_000, 604_800_000]),
)
def test_decayed_usage_is_the_exact_integral(raw, later, window):
    intervals = [(T0 + start, None if length is None else T0 + start + length, units) for start, length, units in raw]
    last = max([s for s, _, _ in intervals] + [e for _, e, _ in intervals if e is not None] + [T0])
    now = last + later
    usage = usage_of(intervals)
    expected = brute_hist(intervals, now, window)
    assert Fraction(usage.decayed_numerator(now, window), 2 * window * SCALE) == expected


def test_same_history_in_any_order_gives_the_same_bits():
    window = 3_600_000
    a = usage_of([(T0, T0 + 1000, 1.0), (T0 + 5, T0 + 2000, 0.25), (T0 + 5, None, 2.0)])
    b = Usage()
    journal = Journal()
    for at, delta in [(T0, 1.0), (T0 + 5, 2.0), (T0 + 5, 0.25), (T0 + 1000, -1.0), (T0 + 2000, -0.25)]:
        b.change(at, round(delta * SCALE), journal)
    for now in (T0 + 2000, T0 + 10**6, T0 + 10**7):
        assert a.decayed_numerator(now, window) == b.decayed_numerator(now, window)
        assert score(0.3, a, now, window) == score(0.3, b, now, window)


def test_old_breakpoints_fold_without_changing_any_answer():
    usage = Usage()
    journal = Journal()
    day = 86_400_000
    intervals = [(T0 + i * day // 2, T0 + i * day // 2 + 3_600_000, 1.0) for i in range(400)]  # 200 days
    intervals.append((T0, None, 0.5))  # one job running all along
    for at, delta in sorted([(s, u) for s, _, u in intervals] + [(e, -u) for _, e, u in intervals if e]):
        usage.change(at, round(delta * SCALE), journal)
    assert len(usage.times) < 100  # 801 breakpoints, most older than any window
    now = T0 + 200 * day
    for window in (600_000, 86_400_000, 604_800_000):
        assert Fraction(usage.decayed_numerator(now, window), 2 * window * SCALE) == brute_hist(intervals, now, window)
    assert usage.current() == 0.5


def brute_numerator(events: list[tuple[int, int]], now: int, window: int) -> int:
    """2·D·hist in millionths of unit·ms from (time, change in millionths) events at or before `now`:
    each change counts Σ δ(2D·x − x²) with x its age, capped at the window."""
    return sum(delta * (2 * window * x - x * x) for at, delta in events for x in [min(now - at, window)])


@settings(max_examples=300, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.sampled_from(["change", "change", "wait", "begin", "rollback", "commit"]),
            st.sampled_from([0, 1, 1_000, 299_999, 300_000, 600_000, 600_001, 1_800_000]),
            st.integers(-3, 3),
            st.sampled_from([600_000, 3_600_000]),
            st.sampled_from(["a", "b"]),
        ),
        max_size=80,
    )
)
def test_kept_segments_never_go_stale(steps):
    # Usage keeps the quadratic of its current window segment between calls
    # (Usage.segment), and SharePass reads it directly. Whatever the breakpoints
    # do meanwhile (added, rolled back, crossing the window's edge as time
    # moves, a new window), every answer is the one recomputed from scratch.
    book = ShareBook()
    journal = Journal()
    shares = {identifier: book.share(identifier, journal) for identifier in "ab"}
    for seq, share in enumerate(shares.values()):
        book.add_waiting(share, order_key(0, T0, seq), share.identifier)
    committed: dict[str, list[tuple[int, int]]] = {"a": [], "b": []}
    pending: dict[str, list[tuple[int, int]]] | None = None
    now = T0
    for action, wait, units, window, identifier in steps:
        now += wait
        if action == "begin" and pending is None:
            journal.begin()
            pending = {key: list(events) for key, events in committed.items()}
        elif action == "rollback" and pending is not None:
            journal.rollback()
            pending = None
        elif action == "commit" and pending is not None:
            journal.commit()
            committed, pending = pending, None
        elif action == "change" and units:
            shares[identifier].usage.change(now, units * SCALE // 4, journal)
            (pending if pending is not None else committed)[identifier].append((now, units * SCALE // 4))
        events = pending if pending is not None else committed
        trial = SharePass(book, {"shareDecaySeconds": window // 1000}, now)
        for key, share in shares.items():
            expected = brute_numerator(events[key], now, window)
            assert share.usage.decayed_numerator(now, window) == expected
            assert trial._hist[key] == expected
            held = sum(delta for _, delta in events[key])
            assert trial.score(share) == float(expected + 2 * window * window * held) / (2 * window * window * SCALE)


def test_usage_changes_roll_back():
    usage = Usage()
    journal = Journal()
    usage.change(T0, 2 * SCALE, journal)
    journal.begin()
    usage.change(T0 + 10, 3 * SCALE, journal)
    usage.change(T0 + 20, -2 * SCALE, journal)
    assert usage.current() == 3.0
    journal.rollback()
    assert usage.current() == 2.0 and usage.times == [0]
    assert usage.decayed(T0 + 100, 600_000) == pytest.approx(2 * (100 - 100**2 / 1_200_000))


# -- the book of a queue ------------------------------------------------------------------


def book_with(waiting: dict[str, int]) -> ShareBook:
    """A book whose shares have `n` waiting 1-unit items each, created in the order given."""
    book = ShareBook()
    journal = Journal()
    seq = 0
    for identifier, count in waiting.items():
        share = book.share(identifier, journal)
        for _ in range(count):
            seq += 1
            book.add_waiting(share, order_key(0, T0, seq), f"{identifier}{seq}")
    return book


def run_pass(book: ShareBook, policy: dict, now: int, free: int) -> list[str]:
    """Serve items until `free` units are used, each 1 unit."""
    journal = Journal()
    trial = SharePass(book, policy, now)
    served = []
    while free and (picked := trial.next()) is not None:
        share, item = picked
        key = share.waiting.min()
        book.remove_waiting(share, key)
        book.start_using(share, item, 1.0, now, journal)
        served.append(item)
        free -= 1
        trial.served()
    return served


def test_weights_one_and_a_half_split_one_to_two():
    # Spec §3.3 check: weights 1.0 vs 0.5, 1-vCPU jobs, 6 free, empty history -> 2 vs 4.
    book = book_with({"teamA": 6, "teamB": 6})
    served = run_pass(book, POLICY, T0, 6)
    assert sum(s.startswith("teamA") for s in served) == 2
    assert sum(s.startswith("teamB") for s in served) == 4
    assert ranked_usage(book, 20) == [("teamB", 4.0), ("teamA", 2.0)]


def test_simulated_order_is_the_pass_order_and_reads_only():
    book = book_with({"teamA": 5, "teamB": 5, "research1": 5})
    order = simulated_order(book, POLICY, T0, lambda item: 1.0, 7)
    assert [len(s.waiting) for s in book.shares.values()] == [5, 5, 5]
    assert run_pass(book, POLICY, T0, 7) == order
    # research1 (0.25) gets 4x teamA's share, teamB (0.5) 2x; equal scores go by identifier.
    assert [sum(i.startswith(p) for i in order) for p in ("teamA", "teamB", "research1")] == [1, 2, 4]
    assert order[:3] == ["research111", "teamA1", "teamB6"]


def test_activity_counts_live_shares_and_those_idle_less_than_a_window():
    book = ShareBook()
    journal = Journal()
    window = 600_000
    a, b = book.share("a", journal), book.share("b", journal)
    book.job_live(a, 1, journal)
    book.job_live(a, 2, journal)
    book.job_live(b, 3, journal)
    assert book.active_count(T0, window) == 2
    book.job_ended(a, 1, T0, journal)
    assert book.is_active("a", T0, window)  # job 2 still live
    book.job_ended(b, 3, T0 + 1000, journal)
    assert book.is_active("b", T0 + 600_999, window) and not book.is_active("b", T0 + 601_000, window)
    assert book.active_count(T0 + 600_999, window) == 2
    assert book.active_count(T0 + 601_000, window) == 1
    assert not book.is_active("never", T0, window)
    book.job_live(b, 4, journal)  # back again
    assert book.active_count(T0 + 700_000, window) == 2


def test_waiting_items_can_journal_themselves():
    book = ShareBook()
    journal = Journal()
    share = book.share("a", journal)
    book.add_waiting(share, order_key(0, T0, 1), "kept")
    journal.begin()
    book.add_waiting(share, order_key(5, T0, 2), "added", journal)
    book.remove_waiting(share, order_key(0, T0, 1), journal)
    assert [share.items[k] for k in share.waiting.ascending()] == ["added"]
    journal.rollback()
    assert [share.items[k] for k in share.waiting.ascending()] == ["kept"]
    assert list(book.waiting) == ["a"]
    book.remove_waiting(share, order_key(0, T0, 1))
    assert not book.waiting and not share.items
