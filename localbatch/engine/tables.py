"""Resources of one kind, in creation order, found by ARN or by name.

Describe and list calls page through resources in creation order (spec
§6.3). Each resource carries a creation sequence number; a page starts with
a bisect on that number, so fetching page k costs the same whether the
backend holds ten resources or ten thousand.
"""

from __future__ import annotations

from bisect import bisect_right
from typing import Any, Callable, Iterator

from localbatch.engine.journal import Journal


class Resource:
    """One stored resource: `data` is its describe output, without copies."""

    # (the `data` it was made for, a function copying it), set by
    # api._common.fresh. A cache, not state: it is rebuilt whenever `data`
    # is replaced, so the journal never needs to undo it.
    copy_plan: tuple[dict[str, Any], Callable[[Any], Any]] | None = None
    # The key `Table.in_group` finds this resource under (a quota share's
    # job queue ARN), set before `Table.add` and never changed; None: no group.
    group: str | None = None

    def __init__(self, seq: int, arn: str, name: str, data: dict[str, Any]) -> None:
        self.seq = seq
        self.arn = arn
        self.name = name
        self.data = data


def _insort(seqs: list[int], seq: int) -> None:
    seqs.insert(bisect_right(seqs, seq), seq)


def _discard(seqs: list[int], seq: int) -> None:
    i = bisect_right(seqs, seq) - 1
    if i >= 0 and seqs[i] == seq:
        del seqs[i]


class Table:
    def __init__(self, journal: Journal, *, unique_names: bool = True) -> None:
        self._journal = journal
        self._unique_names = unique_names
        self.by_arn: dict[str, Any] = {}
        self.by_name: dict[str, Any] = {}
        self._by_seq: dict[int, Any] = {}
        self._seqs: list[int] = []
        # group key -> its resources in creation order (only resources with a group).
        self._groups: dict[str, tuple[Any, ...]] = {}
        # Bumped by every add and remove: with Backend.data_version, a cheap
        # "has anything changed?" for the schedulers' hot paths.
        self.version = 0

    def __len__(self) -> int:
        return len(self._seqs)

    def __iter__(self) -> Iterator[Any]:
        by_seq = self._by_seq
        return (by_seq[s] for s in list(self._seqs))

    def add(self, resource: Any) -> None:
        j = self._journal
        j.set(self, "version", self.version + 1)
        j.put(self.by_arn, resource.arn, resource)
        if self._unique_names:
            j.put(self.by_name, resource.name, resource)
        j.put(self._by_seq, resource.seq, resource)
        _insort(self._seqs, resource.seq)
        j.record(_discard, self._seqs, resource.seq)
        group = resource.group
        if group is not None:
            members = self._groups.get(group, ())
            if members and members[-1].seq > resource.seq:  # keep creation order whatever the add order
                members = tuple(sorted((*members, resource), key=_seq))
            else:
                members = (*members, resource)
            j.put(self._groups, group, members)

    def remove(self, resource: Any) -> None:
        j = self._journal
        j.set(self, "version", self.version + 1)
        j.pop(self.by_arn, resource.arn)
        if self._unique_names and self.by_name.get(resource.name) is resource:
            j.pop(self.by_name, resource.name)
        j.pop(self._by_seq, resource.seq)
        _discard(self._seqs, resource.seq)
        j.record(_insort, self._seqs, resource.seq)
        group = resource.group
        if group is not None:
            rest = tuple(r for r in self._groups.get(group, ()) if r is not resource)
            if rest:
                j.put(self._groups, group, rest)
            else:
                j.pop(self._groups, group)

    def get(self, name_or_arn: str) -> Any | None:
        found = self.by_arn.get(name_or_arn)
        if found is None and self._unique_names:
            found = self.by_name.get(name_or_arn)
        return found

    def in_group(self, group: str) -> tuple[Any, ...]:
        """The resources whose `group` is `group`, in creation order."""
        return self._groups.get(group, ())

    def page(
        self,
        after_seq: int,
        limit: int,
        keep: Callable[[Any], bool] | None = None,
        group: str | None = None,
    ) -> tuple[list[Any], int | None]:
        """Up to `limit` resources created after `after_seq` that `keep` accepts
        (only those of `group`, if given).

        Returns them with the sequence number to continue after, or None when
        nothing is left.
        """
        if group is not None:
            members = self._groups.get(group, ())
            return _page_of(members, bisect_right(members, after_seq, key=_seq), limit, keep)
        seqs = self._seqs
        i = bisect_right(seqs, after_seq)
        if keep is None:
            # A slice of one past the page: no per-resource Python work.
            by_seq = self._by_seq
            out = [by_seq[s] for s in seqs[i : i + limit + 1]]
            if len(out) > limit:
                del out[limit:]
                return out, out[-1].seq
            return out, None
        by_seq = self._by_seq
        out: list[Any] = []
        n = len(seqs)
        while i < n:
            resource = by_seq[seqs[i]]
            i += 1
            if keep(resource):
                out.append(resource)
                if len(out) == limit:
                    break
        if len(out) == limit:
            # Only promise a next page if one more match exists.
            while i < n:
                if keep(by_seq[seqs[i]]):
                    return out, out[-1].seq
                i += 1
        return out, None


def _seq(resource: Any) -> int:
    return resource.seq


def _page_of(
    resources: tuple[Any, ...], i: int, limit: int, keep: Callable[[Any], bool] | None
) -> tuple[list[Any], int | None]:
    out: list[Any] = []
    n = len(resources)
    while i < n:
        resource = resources[i]
        i += 1
        if keep is None or keep(resource):
            if len(out) == limit:  # one more match exists: promise a next page
                return out, out[-1].seq
            out.append(resource)
    return out, None


class JobDefinitionRevisions:
    """Every revision of each job definition name, and the names sorted.

    Job definitions are described in (name, revision) order and resolved by
    name to their latest ACTIVE revision; this index answers both without a
    scan of all revisions.
    """

    __slots__ = ("by_name", "names")

    def __init__(self) -> None:
        self.by_name: dict[str, tuple[Any, ...]] = {}
        self.names: list[str] = []
