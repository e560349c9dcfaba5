"""Table's index by group (engine/tables.py): quota shares by their job queue.

ListQuotaShares and the quota-share scheduler read one queue's shares; the
index answers that without walking the shares of every other queue.
"""

from __future__ import annotations

from localbatch.engine.journal import Journal
from localbatch.engine.tables import Resource, Table


def grouped(seq: int, group: str | None) -> Resource:
    resource = Resource(seq, f"arn:r/{seq}", f"r{seq}", {"n": seq})
    resource.group = group
    return resource


def seqs(resources) -> list[int]:
    return [r.seq for r in resources]


def make_table(journal: Journal | None = None) -> Table:
    """Seqs 1-9: group a holds 1, 4, 7; b holds 2, 5, 8; 3, 6, 9 have none."""
    table = Table(journal or Journal(), unique_names=False)
    for seq in range(1, 10):
        table.add(grouped(seq, (None, "a", "b")[seq % 3]))
    return table


def test_in_group_lists_members_in_creation_order():
    table = make_table()
    assert seqs(table.in_group("a")) == [1, 4, 7]
    assert seqs(table.in_group("b")) == [2, 5, 8]
    assert table.in_group("nothing") == ()
    assert seqs(table) == list(range(1, 10))  # ungrouped resources are still in the table


def test_added_out_of_order_still_in_creation_order():
    table = Table(Journal())
    for seq in (5, 2, 9):
        table.add(grouped(seq, "a"))
    assert seqs(table.in_group("a")) == [2, 5, 9]


def test_page_of_a_group_with_continuation():
    table = make_table()
    first, last = table.page(0, 2, group="a")
    assert seqs(first) == [1, 4] and last == 4
    rest, last = table.page(last, 2, group="a")
    assert seqs(rest) == [7] and last is None
    everything, last = table.page(0, 3, group="a")
    assert seqs(everything) == [1, 4, 7] and last is None  # exactly one full page: no next page promised


def test_page_of_a_group_with_keep_promises_a_next_page_only_if_one_matches():
    table = make_table()
    odd = lambda r: r.seq % 2 == 1
    items, last = table.page(0, 1, odd, group="a")
    assert seqs(items) == [1] and last == 1
    items, last = table.page(1, 1, odd, group="a")
    assert seqs(items) == [7] and last is None
    assert table.page(0, 5, odd, group="b") == ([table.get("arn:r/5")], None)


def test_remove_drops_the_resource_from_its_group():
    table = make_table()
    table.remove(table.get("arn:r/4"))
    assert seqs(table.in_group("a")) == [1, 7]
    for resource in list(table.in_group("b")):
        table.remove(resource)
    assert table.in_group("b") == () and "b" not in table._groups


def test_rollback_restores_every_group():
    j = Journal()
    table = make_table(j)
    j.begin()
    table.add(grouped(10, "a"))
    table.add(grouped(11, "c"))
    table.remove(table.get("arn:r/1"))
    for resource in list(table.in_group("b")):
        table.remove(resource)
    assert seqs(table.in_group("a")) == [4, 7, 10]
    j.rollback()
    assert seqs(table.in_group("a")) == [1, 4, 7]
    assert seqs(table.in_group("b")) == [2, 5, 8]
    assert table.in_group("c") == ()


def test_page_without_keep_matches_the_walk_with_keep():
    table = make_table()
    everything = lambda r: True
    for after in range(10):
        for limit in (1, 2, 3, 8, 9, 10):
            assert table.page(after, limit) == table.page(after, limit, everything)
