"""Engine building blocks on their own: the undo journal, tables and their
paging, and the event queue (with rollback of each)."""

from __future__ import annotations

import pytest

from localbatch.config import EngineConfig
from localbatch.engine.backend import Backend
from localbatch.engine.events import EventQueue
from localbatch.engine.journal import Journal
from localbatch.engine.tables import Resource, Table


class Thing:
    pass


# -- Journal -----------------------------------------------------------------


def test_rollback_undoes_every_primitive_in_reverse_order():
    j = Journal()
    obj = Thing()
    obj.kept = "old"
    mapping = {"a": 1, "b": 2}
    items = [1]
    j.begin()
    j.set(obj, "kept", "new")
    j.set(obj, "fresh", 1)  # did not exist before
    j.set(obj, "kept", "newer")  # a second change of the same attribute
    j.put(mapping, "a", 10)
    j.put(mapping, "c", 3)  # new key
    assert j.pop(mapping, "b") == 2
    assert j.pop(mapping, "missing") is None
    j.append(items, 2)
    j.append(items, 3)
    assert (obj.kept, obj.fresh, mapping, items) == ("newer", 1, {"a": 10, "c": 3}, [1, 2, 3])
    j.rollback()
    assert obj.kept == "old"
    assert not hasattr(obj, "fresh")
    assert mapping == {"a": 1, "b": 2}
    assert items == [1]


def test_record_runs_custom_undo_on_rollback():
    j = Journal()
    undone = []
    j.begin()
    j.record(undone.append, "first")
    j.record(undone.append, "second")
    j.rollback()
    assert undone == ["second", "first"]


def test_commit_keeps_changes_and_a_later_rollback_undoes_nothing():
    j = Journal()
    mapping = {}
    assert not j.active
    j.begin()
    assert j.active
    j.put(mapping, "k", 1)
    j.commit()
    assert not j.active
    j.rollback()
    assert mapping == {"k": 1}


def test_mutations_outside_a_transaction_are_not_recorded():
    j = Journal()
    obj = Thing()
    mapping = {}
    items = []
    j.set(obj, "x", 1)
    j.put(mapping, "k", 1)
    j.append(items, 1)
    j.record(pytest.fail, "never undone")
    j.rollback()
    assert (obj.x, mapping, items) == (1, {"k": 1}, [1])


def test_rollback_only_undoes_the_current_transaction():
    j = Journal()
    mapping = {}
    j.begin()
    j.put(mapping, "first", 1)
    j.commit()
    j.begin()
    j.put(mapping, "second", 2)
    j.put(mapping, "first", 100)
    j.rollback()
    assert mapping == {"first": 1}


# -- Table -------------------------------------------------------------------


def make_table(n: int = 0, *, unique_names: bool = True, journal: Journal | None = None) -> Table:
    table = Table(journal or Journal(), unique_names=unique_names)
    for seq in range(1, n + 1):
        table.add(Resource(seq, f"arn:r/{seq}", f"r{seq}", {"n": seq}))
    return table


def seqs(resources) -> list[int]:
    return [r.seq for r in resources]


def assert_consistent(table: Table) -> None:
    assert table._seqs == sorted(table._by_seq)
    assert set(table.by_arn.values()) == set(table._by_seq.values())
    assert all(table._by_seq[r.seq] is r for r in table.by_arn.values())
    for name, resource in table.by_name.items():
        assert resource.name == name and table.by_arn[resource.arn] is resource
    assert len(table) == len(table._seqs) == len(table.by_arn)


def test_get_by_arn_or_unique_name():
    table = make_table(3)
    r2 = table.get("arn:r/2")
    assert r2 is table.get("r2")
    assert r2.data == {"n": 2}
    assert table.get("r9") is None
    assert table.get("arn:r/9") is None
    assert list(seqs(table)) == [1, 2, 3]
    assert len(table) == 3
    assert_consistent(table)


def test_table_without_unique_names_finds_by_arn_only():
    table = Table(Journal(), unique_names=False)
    first = Resource(1, "arn:jd/x:1", "x", {})
    second = Resource(2, "arn:jd/x:2", "x", {})
    table.add(first)
    table.add(second)
    assert table.get("x") is None
    assert table.by_name == {}
    assert table.get("arn:jd/x:2") is second
    table.remove(first)
    assert seqs(table) == [2]


def test_page_in_creation_order_with_continuation():
    table = make_table(5)
    page, last = table.page(0, 2)
    assert seqs(page) == [1, 2] and last == 2
    page, last = table.page(last, 2)
    assert seqs(page) == [3, 4] and last == 4
    page, last = table.page(last, 2)
    assert seqs(page) == [5] and last is None


def test_page_promises_a_next_page_only_if_another_match_exists():
    table = make_table(4)
    page, last = table.page(0, 4)
    assert seqs(page) == [1, 2, 3, 4] and last is None  # exactly full, nothing after
    odd = lambda r: r.seq % 2 == 1
    page, last = table.page(0, 2, odd)
    assert seqs(page) == [1, 3] and last is None  # seq 4 exists but does not match
    page, last = table.page(0, 1, odd)
    assert seqs(page) == [1] and last == 1
    page, last = table.page(last, 1, odd)
    assert seqs(page) == [3] and last is None


def test_page_with_keep_predicate_skips_non_matches():
    table = make_table(10)
    even = lambda r: r.seq % 2 == 0
    page, last = table.page(0, 3, even)
    assert seqs(page) == [2, 4, 6] and last == 6
    page, last = table.page(last, 3, even)
    assert seqs(page) == [8, 10] and last is None
    page, last = table.page(0, 5, lambda r: False)
    assert page == [] and last is None


def test_page_starts_by_bisect_and_stops_early():
    # A page deep into a large table looks at the page's items and one more,
    # never at what comes before.
    table = make_table(10_000)
    looked = []

    def keep(resource):
        looked.append(resource.seq)
        return True

    page, last = table.page(9_000, 3, keep)
    assert seqs(page) == [9_001, 9_002, 9_003] and last == 9_003
    assert looked == [9_001, 9_002, 9_003, 9_004]


def test_page_after_a_removed_or_missing_seq_continues_after_it():
    table = make_table(6)
    table.remove(table.get("r3"))
    table.remove(table.get("r4"))
    page, last = table.page(3, 10)  # the token pointed at a resource since deleted
    assert seqs(page) == [5, 6] and last is None
    page, last = table.page(100, 10)
    assert page == [] and last is None
    assert_consistent(table)


def test_remove_drops_every_index():
    table = make_table(3)
    r2 = table.get("r2")
    table.remove(r2)
    assert table.get("r2") is None and table.get("arn:r/2") is None
    assert seqs(table) == [1, 3]
    assert seqs(table.page(0, 10)[0]) == [1, 3]
    assert_consistent(table)


def test_remove_keeps_a_newer_resource_with_the_same_name():
    table = make_table(0)
    old = Resource(1, "arn:old", "n", {})
    new = Resource(2, "arn:new", "n", {})
    table.add(old)
    table.add(new)  # name index now points at the newer one
    table.remove(old)
    assert table.get("n") is new


def test_iteration_survives_removal_while_iterating():
    table = make_table(4)
    for resource in table:
        table.remove(resource)
    assert len(table) == 0
    assert_consistent(table)


def test_rollback_of_add_and_remove_restores_every_index():
    j = Journal()
    table = make_table(3, journal=j)
    j.begin()
    table.add(Resource(4, "arn:r/4", "r4", {}))
    table.remove(table.get("r2"))
    table.remove(table.get("r1"))
    table.add(Resource(5, "arn:r/5", "r2", {}))  # the freed name, taken again
    assert seqs(table) == [3, 4, 5]
    j.rollback()
    assert seqs(table) == [1, 2, 3]
    assert table.get("r2").seq == 2
    assert table.get("r4") is None and table.get("arn:r/5") is None
    assert seqs(table.page(0, 10)[0]) == [1, 2, 3]
    assert_consistent(table)


# -- EventQueue ----------------------------------------------------------------


def drain(queue: EventQueue, now_ms: int) -> list:
    out = []
    while (entry := queue.pop_due(now_ms)) is not None:
        out.append(entry[3][0])
    return out


def test_events_pop_in_due_order_ties_in_schedule_order():
    q = EventQueue(Journal())
    for due, label in [(30, "c"), (10, "a"), (20, "b1"), (20, "b2"), (10, "a2"), (40, "d")]:
        q.schedule(due, print, label)
    assert q.next_due_ms() == 10
    assert drain(q, 20) == ["a", "a2", "b1", "b2"]
    assert q.next_due_ms() == 30
    assert drain(q, 29) == []
    assert drain(q, 1000) == ["c", "d"]
    assert q.next_due_ms() is None
    assert len(q) == 0


def test_cancelled_events_never_pop_and_do_not_count():
    q = EventQueue(Journal())
    first = q.schedule(10, print, "first")
    q.schedule(20, print, "second")
    q.cancel(first)
    q.cancel(first)  # twice is harmless
    q.cancel(None)  # so is nothing
    assert len(q) == 1
    assert q.next_due_ms() == 20
    assert drain(q, 100) == ["second"]


def test_rollback_of_schedule_cancel_and_pop():
    j = Journal()
    q = EventQueue(j)
    kept = q.schedule(10, print, "kept")
    other = q.schedule(20, print, "other")
    j.begin()
    q.schedule(5, print, "new")  # undone: never runs
    q.cancel(other)  # undone: runs again
    assert drain(q, 10) == ["new", "kept"]  # undone: back in the queue
    j.rollback()
    assert len(q) == 2
    assert drain(q, 100) == ["kept", "other"]
    assert kept[2] is print


def test_next_due_ms_skipping_cancelled_heads_is_undone_by_rollback():
    j = Journal()
    q = EventQueue(j)
    head = q.schedule(1, print, "head")
    q.schedule(2, print, "next")
    j.begin()
    q.cancel(head)
    assert q.next_due_ms() == 2
    j.rollback()
    assert q.next_due_ms() == 1
    assert drain(q, 5) == ["head", "next"]


# -- Backend.run_until -----------------------------------------------------------


def test_backend_runs_each_event_at_its_own_time_then_settles_at_target():
    backend = Backend("123456789012", "us-east-1", EngineConfig())
    backend.now_ms = 1_000
    seen = []

    def record(label):
        seen.append((label, backend.now_ms))
        if label == "a":
            backend.schedule_in(0, record, "a-now")  # same instant: runs in this pass
            backend.schedule_in(500, record, "a-later")

    backend.after_events.append(lambda b: seen.append(("hook", b.now_ms)))
    backend.schedule_in(2_000, record, "b")
    backend.schedule_in(1_000, record, "a")
    backend.schedule_in(10_000, record, "too-late")
    backend.run_until(5_000)
    assert seen == [
        ("a", 2_000),
        ("hook", 2_000),
        ("a-now", 2_000),
        ("hook", 2_000),
        ("a-later", 2_500),
        ("hook", 2_500),
        ("b", 3_000),
        ("hook", 3_000),
    ]
    assert backend.now_ms == 5_000
    assert backend.events.next_due_ms() == 11_000


def test_backend_time_never_goes_back_for_an_overdue_event():
    backend = Backend("123456789012", "us-east-1", EngineConfig())
    backend.now_ms = 5_000
    seen = []
    backend.events.schedule(1_000, lambda: seen.append(backend.now_ms))
    backend.run_until(4_000)
    assert seen == [5_000] and backend.now_ms == 5_000


def test_backend_arns_and_sequence():
    backend = Backend("111122223333", "eu-west-1", EngineConfig(resource_latency=2.5))
    assert backend.arn("job-queue/q") == "arn:aws:batch:eu-west-1:111122223333:job-queue/q"
    assert backend.resource_latency_ms == 2_500
    assert [backend.next_seq() for _ in range(3)] == [1, 2, 3]
