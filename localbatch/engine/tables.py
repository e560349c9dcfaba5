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

    def __len__(self) -> int:
        return len(self._seqs)

    def __iter__(self) -> Iterator[Any]:
        by_seq = self._by_seq
        return (by_seq[s] for s in list(self._seqs))

    def add(self, resource: Any) -> None:
        j = self._journal
        j.put(self.by_arn, resource.arn, resource)
        if self._unique_names:
            j.put(self.by_name, resource.name, resource)
        j.put(self._by_seq, resource.seq, resource)
        _insort(self._seqs, resource.seq)
        j.record(_discard, self._seqs, resource.seq)

    def remove(self, resource: Any) -> None:
        j = self._journal
        j.pop(self.by_arn, resource.arn)
        if self._unique_names and self.by_name.get(resource.name) is resource:
            j.pop(self.by_name, resource.name)
        j.pop(self._by_seq, resource.seq)
        _discard(self._seqs, resource.seq)
        j.record(_insort, self._seqs, resource.seq)

    def get(self, name_or_arn: str) -> Any | None:
        found = self.by_arn.get(name_or_arn)
        if found is None and self._unique_names:
            found = self.by_name.get(name_or_arn)
        return found

    def page(
        self,
        after_seq: int,
        limit: int,
        keep: Callable[[Any], bool] | None = None,
    ) -> tuple[list[Any], int | None]:
        """Up to `limit` resources created after `after_seq` that `keep` accepts.

        Returns them with the sequence number to continue after, or None when
        nothing is left.
        """
        seqs = self._seqs
        by_seq = self._by_seq
        out: list[Any] = []
        i = bisect_right(seqs, after_seq)
        n = len(seqs)
        while i < n:
            resource = by_seq[seqs[i]]
            i += 1
            if keep is None or keep(resource):
                out.append(resource)
                if len(out) == limit:
                    break
        if len(out) == limit:
            # Only promise a next page if one more match exists.
            while i < n:
                if keep is None or keep(by_seq[seqs[i]]):
                    return out, out[-1].seq
                i += 1
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
