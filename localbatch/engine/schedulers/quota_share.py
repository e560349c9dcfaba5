"""Quota-share queues (spec §3.5 [proposed] deterministic model, §2.9, §5).

Each quota share is a virtual queue: its RUNNABLE jobs wait in (priority
desc, creation asc) order. A pass builds the queue's `_State` once
(attribution of the capacity in use, below), then runs three phases:

* Phase A, own quota: shares in creation order; a share's head starts if it
  fits the share's own limits (reclaiming, by cross-share preemption, what
  the share lent out; on an over-subscribed environment, preempting any
  borrowing job of the unit); the share stops at its first job that does
  not fit.
* Phase B, borrowing: the heads of LEND_AND_BORROW shares, oldest RUNNABLE
  first (the FIFO idle-resource assignment), borrow idle capacity of LEND /
  LEND_AND_BORROW shares and capacity no share is assigned, within
  `borrowLimit`. Borrowing never preempts.
* Phase C, in-share preemption: a share with inSharePreemption ENABLED whose
  head still waits preempts the minimal set of its own lower-priority owned
  jobs that makes room.

Attribution, recomputed whenever capacity changes hands: in each share and
unit, in-use jobs by (priority desc, scheduledAt asc) are *owned* up to the
share's maxCapacity and *borrowed* beyond it; borrowed units are attributed
first to unassigned environment capacity (never reclaimed), then to the
lending share with the most idle capacity (ties: creation order).

Victim order: lowest priority, then most recently scheduled, then more
instances, then jobId. A head that can never fit gets its
`MISCONFIGURATION:...` reason and blocks its share (spec §2.9). So does a
head the pass would start (before it preempts anything for it) whose
instance type a test declared the environment short of
(`lb.insufficient_capacity`, engine/faults.py), with
`CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY`.

A pass costs O(shares + jobs holding capacity), never O(jobs waiting).

frontOfQueue (spec §5) is recorded after each pass (`refresh_front`) and kept
current between passes as jobs arrive behind their share's head
(`front_arrival`): one comparison when the job lands behind the front, a
merge from where it enters when it lands inside it.
"""

from __future__ import annotations

import heapq
import operator
from collections.abc import Iterator
from itertools import chain, compress, repeat
from operator import attrgetter, itemgetter
from typing import Any, NamedTuple

from localbatch.engine import faults
from localbatch.engine.schedulers.service_fifo import (
    FRONT_SIZE,
    SE_MAX_RESOURCE,
    limits_of,
    record_arrival,
    service_environment,
    set_blocked,
    update_positions,
    usable,
)
from localbatch.engine.service_jobs import Runnable, ServiceJob

RESERVE = "RESERVE"
LEND = "LEND"
LEND_AND_BORROW = "LEND_AND_BORROW"
UNLIMITED = -1
_LIMIT = "MISCONFIGURATION:QUOTA_MANAGEMENT_LIMIT_EXCEEDED - "
LIMIT_EXCEEDED = _LIMIT + "Job requirements exceed quota share capacity limits."
BORROW_LIMIT_EXCEEDED = _LIMIT + "Job requirements exceed quota share capacity limits and borrow limits."
BORROWABLE_EXCEEDED = _LIMIT + "Job requires borrowing that exceeds all configured borrowable capacity."


def is_quota_queue(backend: Any, queue: Any) -> bool:
    """api.job_queues.is_quota_management without its import (a submit asks this twice)."""
    arn = queue.data.get("schedulingPolicyArn")
    policy = backend.scheduling_policies.get(arn) if arn else None
    return policy is not None and "quotaSharePolicy" in policy.data


def cross_share_reason(share_name: str) -> str:
    return f"Preempted to reclaim capacity lent to quota share {share_name}"


def in_share_reason(job_id: str, share_name: str) -> str:
    return f"Preempted by higher priority job {job_id} in quota share {share_name}"


class _Share:
    __slots__ = (
        "arn",
        "blocked",
        "borrow_limit",
        "borrowed",
        "in_share",
        "jobs",
        "lent",
        "max",
        "name",
        "owned",
        "resource",
        "runnable",
        "strategy",
    )

    def __init__(self, resource: Any, runnable: Any) -> None:
        data = resource.data
        sharing = data.get("resourceSharingConfiguration") or {}
        self.resource = resource
        self.arn = resource.arn
        self.name = resource.name
        self.max = {limit["capacityUnit"]: limit["maxCapacity"] for limit in data.get("capacityLimits") or ()}
        self.strategy = sharing.get("strategy", RESERVE)
        self.borrow_limit = sharing.get("borrowLimit", UNLIMITED)
        self.in_share = (data.get("preemptionConfiguration") or {}).get("inSharePreemption") == "ENABLED"
        self.runnable = runnable
        self.owned: dict[str, int] = {}
        self.borrowed: dict[str, int] = {}
        self.lent: dict[str, int] = {}
        self.blocked: tuple[ServiceJob, str] | None = None
        self.jobs: list[ServiceJob] = []  # in use, by (priority desc, scheduledAt asc)

    @property
    def lends(self) -> bool:
        return self.strategy in (LEND, LEND_AND_BORROW)

    def idle(self, unit: str) -> int:
        return max(0, self.max.get(unit, 0) - self.owned.get(unit, 0) - self.lent.get(unit, 0))

    def fits_own(self, job: ServiceJob) -> bool:
        return all(self.owned.get(u, 0) + n <= self.max.get(u, 0) for u, n in job.units.items())


def _victim_key(job: ServiceJob, unit: str | None = None) -> tuple:
    n = job.units.get(unit, 0) if unit is not None else job.instances
    return (job.effective_priority, -(job.scheduled_at or 0), -n, job.id)


class _State:
    """One quota-management queue as a pass sees it."""

    def __init__(self, backend: Any, queue: Any, jobs: Any, se: Any) -> None:
        from localbatch.api.quota_shares import shares_of_queue

        store = backend.service_jobs
        self.backend = backend
        self.queue = queue
        self.jobs = jobs
        self.se = se
        self.se_max = limits_of(se) if se is not None else {}
        # A share nobody submitted to yet has no index; an empty one stands in (a pass only reads it).
        self.shares = [_Share(s, store.shares.get(s.arn) or Runnable()) for s in shares_of_queue(backend, queue.arn)]
        self.by_arn = {share.arn: share for share in self.shares}
        self.preempted = False
        self.attribute()

    # -- attribution -----------------------------------------------------------------

    def attribute(self) -> None:
        for share in self.shares:
            share.owned, share.borrowed, share.lent, share.jobs = {}, {}, {}, []
        for job in self.jobs.in_use.values():
            share = self.by_arn.get(job.quota_share)
            if share is not None:
                share.jobs.append(job)
        self.job_owned: dict[str, dict[str, int]] = {}
        self.job_borrowed: dict[str, dict[str, int]] = {}
        borrowers: list[ServiceJob] = []
        for share in self.shares:
            share.jobs.sort(key=lambda j: (-j.effective_priority, j.scheduled_at or 0, j.seq))
            for job in share.jobs:
                owned_part: dict[str, int] = {}
                borrowed_part: dict[str, int] = {}
                for unit, n in job.units.items():
                    room = max(0, share.max.get(unit, 0) - share.owned.get(unit, 0) - share.borrowed.get(unit, 0))
                    own = min(n, room)
                    if own:
                        owned_part[unit] = own
                        share.owned[unit] = share.owned.get(unit, 0) + own
                    if n - own:
                        borrowed_part[unit] = n - own
                        share.borrowed[unit] = share.borrowed.get(unit, 0) + n - own
                self.job_owned[job.id] = owned_part
                if borrowed_part:
                    self.job_borrowed[job.id] = borrowed_part
                    borrowers.append(job)
        assigned: dict[str, int] = {}
        for share in self.shares:
            for unit, n in share.max.items():
                assigned[unit] = assigned.get(unit, 0) + n
        self.unassigned = {u: max(0, m - assigned.get(u, 0)) for u, m in self.se_max.items()}
        self.unassigned_used: dict[str, int] = {}
        # job id -> [(lender share ARN or None for unassigned capacity, unit, instances)]
        self.lenders: dict[str, list[tuple[str | None, str, int]]] = {}
        borrowers.sort(key=lambda j: (j.scheduled_at or 0, j.seq))
        for job in borrowers:
            self._attribute_borrower(job)

    def _attribute_borrower(self, job: ServiceJob) -> None:
        records: list[tuple[str | None, str, int]] = []
        for unit, b in self.job_borrowed[job.id].items():
            free = self.unassigned.get(unit, 0) - self.unassigned_used.get(unit, 0)
            take = min(b, free)
            if take > 0:
                self.unassigned_used[unit] = self.unassigned_used.get(unit, 0) + take
                records.append((None, unit, take))
                b -= take
            while b > 0:
                lender = self._largest_idle(unit, exclude=job.quota_share)
                if lender is None:
                    break  # nobody lends it (a lowered limit): reclaimable by any owner
                take = min(b, lender.idle(unit))
                lender.lent[unit] = lender.lent.get(unit, 0) + take
                records.append((lender.arn, unit, take))
                b -= take
        self.lenders[job.id] = records

    def _largest_idle(self, unit: str, exclude: str | None) -> _Share | None:
        best = None
        for share in self.shares:
            idle = share.idle(unit) if share.lends and share.arn != exclude else 0
            if idle > 0 and (best is None or idle > best.idle(unit)):
                best = share
        return best

    def lendable(self, share: _Share, unit: str) -> int:
        total = self.unassigned.get(unit, 0) - self.unassigned_used.get(unit, 0)
        for other in self.shares:
            if other is not share and other.lends:
                total += other.idle(unit)
        return total

    def used(self, unit: str) -> int:
        return (self.backend.service_jobs.se_used.get(self.se.arn) or {}).get(unit, 0)

    # -- checks ------------------------------------------------------------------------

    def never_fits(self, share: _Share, job: ServiceJob) -> str | None:
        for unit, n in job.units.items():
            if unit not in self.se_max or n > self.se_max[unit]:
                return SE_MAX_RESOURCE
        for unit, n in job.units.items():
            own = share.max.get(unit, 0)
            if share.strategy != LEND_AND_BORROW:
                if n > own:
                    return LIMIT_EXCEEDED
                continue
            if share.borrow_limit != UNLIMITED and n > own * (1 + share.borrow_limit / 100):
                return BORROW_LIMIT_EXCEEDED
            borrowable = self.unassigned.get(unit, 0) + sum(
                other.max.get(unit, 0) for other in self.shares if other is not share and other.lends
            )
            if n > own + borrowable:
                return BORROWABLE_EXCEEDED
        return None

    def can_borrow(self, share: _Share, job: ServiceJob) -> bool:
        for unit, n in job.units.items():
            own_max, owned = share.max.get(unit, 0), share.owned.get(unit, 0)
            over = owned + n - own_max
            own_free = share.idle(unit)
            if over <= 0:
                if own_free < n:
                    return False
            else:
                limit = share.borrow_limit
                if limit != UNLIMITED and share.borrowed.get(unit, 0) + over > own_max * limit / 100:
                    return False
                if n - own_free > self.lendable(share, unit):
                    return False
            if self.used(unit) + n > self.se_max.get(unit, 0):
                return False
        return True

    # -- making room (preemption) ----------------------------------------------------------

    def make_room(self, share: _Share, head: ServiceJob, in_share: list[ServiceJob]) -> bool:
        """Preempt what `head` needs gone, after the in-share victims; False (and
        nothing preempted) if even that would not make room."""
        plan: dict[str, tuple[ServiceJob, str]] = {
            v.id: (v, in_share_reason(head.id, share.name)) for v in in_share
        }
        reclaim = cross_share_reason(share.name)
        for unit, n in head.units.items():
            freed_owned = sum(self.job_owned.get(v.id, {}).get(unit, 0) for v in in_share)
            room = share.max.get(unit, 0) - (share.owned.get(unit, 0) - freed_owned) - share.lent.get(unit, 0)
            room += sum(q for v, _ in plan.values() for lender, u, q in self.lenders.get(v.id, ())
                        if lender == share.arn and u == unit)
            if room >= n:
                continue
            candidates = sorted(
                (job for job in self.jobs.in_use.values() if job.id not in plan and any(
                    lender == share.arn and u == unit for lender, u, _ in self.lenders.get(job.id, ()))),
                key=lambda j: _victim_key(j, unit),
            )
            for victim in candidates:
                plan[victim.id] = (victim, reclaim)
                room += sum(q for lender, u, q in self.lenders[victim.id] if lender == share.arn and u == unit)
                if room >= n:
                    break
            if room < n:
                return False
        for unit, n in head.units.items():
            total = self.used(unit) - sum(v.units.get(unit, 0) for v, _ in plan.values())
            if total + n <= self.se_max.get(unit, 0):
                continue
            candidates = sorted(
                (job for job in self.jobs.in_use.values()
                 if job.id not in plan and unit in self.job_borrowed.get(job.id, {})),
                key=lambda j: _victim_key(j, unit),
            )
            for victim in candidates:
                plan[victim.id] = (victim, reclaim)
                total -= victim.units.get(unit, 0)
                if total + n <= self.se_max.get(unit, 0):
                    break
            if total + n > self.se_max.get(unit, 0):
                return False
        if plan:
            self._preempt(plan.values())
        return True

    def _preempt(self, victims: Any) -> None:
        from localbatch.engine.service_lifecycle import preempt

        for victim, reason in victims:
            preempt(self.backend, victim, reason)
        self.preempted = True
        self.attribute()

    def start(self, head: ServiceJob) -> None:
        from localbatch.engine.service_lifecycle import dispatch_job

        if dispatch_job(self.backend, head, self.se.arn, dict(head.units)):
            self.attribute()

    # -- the phases ----------------------------------------------------------------------

    def check_head(self, share: _Share) -> ServiceJob | None:
        """The share's head, or None if it has none or it is blocked for good."""
        if share.blocked is not None:
            return None
        head = share.runnable.head()
        if head is None:
            return None
        reason = self.never_fits(share, head)
        if reason is not None:
            share.blocked = (head, reason)
            return None
        return head

    def short(self, share: _Share, head: ServiceJob) -> bool:
        """True (and the share blocked) if the environment cannot give `head`'s instances now."""
        if not self.backend.shortages:
            return False
        reason = faults.service_environment_short(self.backend, self.se.arn, head.units)
        if reason is None:
            return False
        share.blocked = (head, reason)
        return True

    def phase_a(self) -> None:
        for share in self.shares:
            while True:
                head = self.check_head(share)
                if head is None or not share.fits_own(head) or self.short(share, head):
                    break
                if not self.make_room(share, head, []):
                    break
                self.start(head)

    def phase_b(self) -> None:
        stopped: set[str] = set()
        while True:
            heads = []
            for share in self.shares:
                if share.strategy == LEND_AND_BORROW and share.arn not in stopped:
                    head = self.check_head(share)
                    if head is not None:
                        heads.append(((head.runnable_since, head.created_at, head.id), share, head))
            heads.sort(key=lambda entry: entry[0])
            for _, share, head in heads:
                if not share.fits_own(head) and self.can_borrow(share, head) and not self.short(share, head):
                    self.start(head)
                    break
                stopped.add(share.arn)
            else:
                return

    def phase_c(self) -> None:
        for share in self.shares:
            if not share.in_share:
                continue
            head = self.check_head(share)
            if head is None:
                continue
            victims = self._in_share_victims(share, head)
            if victims and not self.short(share, head) and self.make_room(share, head, victims):
                self.start(head)

    def _in_share_victims(self, share: _Share, head: ServiceJob) -> list[ServiceJob]:
        over = {u: share.owned.get(u, 0) + n - share.max.get(u, 0) for u, n in head.units.items()}
        if all(v <= 0 for v in over.values()):
            return []
        priority = head.effective_priority
        ahead: dict[str, int] = {}
        for job in share.jobs:
            if job.effective_priority >= priority:
                for unit, n in job.units.items():
                    ahead[unit] = ahead.get(unit, 0) + n
        if any(ahead.get(u, 0) + n > share.max.get(u, 0) for u, n in head.units.items()):
            return []  # even without every lower-priority job it would not fit
        candidates = sorted(
            (j for j in share.jobs if j.effective_priority < priority and self.job_owned.get(j.id)),
            key=_victim_key,
        )
        chosen: list[ServiceJob] = []
        for victim in candidates:
            if all(v <= 0 for v in over.values()):
                break
            chosen.append(victim)
            for unit, own in self.job_owned[victim.id].items():
                if unit in over:
                    over[unit] -= own
        return chosen if all(v <= 0 for v in over.values()) else []




def dispatch(backend: Any, queue: Any, jobs: Any) -> _State:
    """One pass over the queue's shares; returns the state for refresh_front to reuse."""
    from localbatch.engine.service_lifecycle import request_dispatch

    se = service_environment(backend, queue)
    state = _State(backend, queue, jobs, se)
    if usable(se):
        state.phase_a()
        state.phase_b()
        state.phase_c()
    else:
        for share in state.shares:
            state.check_head(share)
    for share in state.shares:
        head = share.runnable.head()
        reason = share.blocked[1] if share.blocked is not None and share.blocked[0] is head else None
        set_blocked(backend, queue, jobs, share.arn, head, reason)
    if state.preempted:
        request_dispatch(backend)  # victims may borrow elsewhere; heads behind them may move
    return state


# -- GetJobQueueSnapshot (spec §5 [proposed]) ----------------------------------------------------


def front_order(backend: Any, queue: Any, jobs: Any) -> list[ServiceJob]:
    """First 100 RUNNABLE jobs in the order the scheduler tries them: the jobs
    Phase A would start (shares in creation order), then every other share's
    jobs merged by Phase B's FIFO key of each share's head."""
    return list(map(_JOB, _front(_State(backend, queue, jobs, service_environment(backend, queue))).entries))


# Phase B's FIFO order: when the job became RUNNABLE, then creation, then jobId.
_fifo_key = attrgetter("runnable_since", "created_at", "id")
_RANK = itemgetter(1)
_JOB = itemgetter(2)


# A job of frontOfQueue as the merge compares it, as a tuple: (its FIFO key,
# its share's rank, the job). FIFO keys differ from job to job, so the job
# itself is never compared.
Entry = tuple[tuple, int, ServiceJob]


class _Front(NamedTuple):
    entries: list[Entry]  # frontOfQueue: the Phase A part, then the merged part
    following: dict[str, Entry]  # quota share ARN -> its first job left out of the front
    split: int  # where the merged part starts
    ranks: dict[str, int]  # quota share ARN -> place in creation order (the merge's tie-break)


def _front(state: _State) -> _Front:
    """frontOfQueue, computed from scratch.

    Reading a share's jobs stops at its first job left out: nothing behind
    it can change the answer (front_arrival relies on this).
    """
    out: list[Entry] = []
    streams: list[tuple[tuple, int, ServiceJob, Iterator[Entry]]] = []
    ranks: dict[str, int] = {}
    for rank, share in enumerate(state.shares):
        ranks[share.arn] = rank
        stream = _entries_of(share.runnable, rank)
        entry = next(stream, None)
        # fits_own first: it is the loop's own first test, and far cheaper than never_fits.
        if entry is not None and share.fits_own(entry[2]) and state.never_fits(share, entry[2]) is None:
            owned = dict(share.owned)
            while entry is not None and len(out) < FRONT_SIZE and all(
                owned.get(u, 0) + n <= share.max.get(u, 0) for u, n in entry[2].units.items()
            ):
                out.append(entry)
                for u, n in entry[2].units.items():
                    owned[u] = owned.get(u, 0) + n
                entry = next(stream, None)
        if entry is not None:
            streams.append((*entry, stream))
    split = len(out)
    heapq.heapify(streams)
    while streams and len(out) < FRONT_SIZE:
        fifo, rank, job, stream = streams[0]
        out.append((fifo, rank, job))
        following = next(stream, None)
        if following is None:
            heapq.heappop(streams)
        else:
            heapq.heapreplace(streams, (*following, stream))
    return _Front(out, {job.quota_share: (fifo, rank, job) for fifo, rank, job, _ in streams}, split, ranks)


def _entries_of(runnable: Runnable, rank: int, after: ServiceJob | None = None) -> Iterator[Entry]:
    """A share's RUNNABLE jobs in dispatch order as entries (only those behind `after`, if given)."""
    jobs = runnable.jobs
    for key in runnable.keys.ascending(None if after is None else after.key):
        job = jobs[key]
        yield (_fifo_key(job), rank, job)


def share_heads(backend: Any, queue: Any) -> list[tuple[str, ServiceJob]]:
    from localbatch.api.quota_shares import shares_of_queue

    store = backend.service_jobs
    out = []
    for share in shares_of_queue(backend, queue.arn):
        runnable = store.shares.get(share.arn)
        head = runnable.head() if runnable is not None else None
        if head is not None:
            out.append((share.name, head))
    return out


def refresh_front(backend: Any, queue: Any, jobs: Any, state: _State | None = None) -> None:
    """Record frontOfQueue and the share heads after a pass (`state`: the pass's, reused)."""
    if state is None:
        state = _State(backend, queue, jobs, service_environment(backend, queue))
    else:
        shares = backend.service_jobs.shares
        for share in state.shares:  # a share may have got its index during the pass
            share.runnable = shares.get(share.arn) or share.runnable
    _record_front(backend, jobs, state)
    journal = backend.journal
    now = backend.now_ms
    heads = {}
    for _, head in share_heads(backend, queue):
        heads[head.quota_share] = head
        if head.head_since is None:
            journal.set(head, "head_since", now)
    for arn, previous in jobs.heads.items():
        if heads.get(arn) is not previous and previous.head_since is not None:
            journal.set(previous, "head_since", None)
    journal.set(jobs, "heads", heads)


def _record_front(backend: Any, jobs: Any, state: _State) -> None:
    front = _front(state)
    update_positions(backend, jobs, list(map(_JOB, front.entries)))
    journal = backend.journal
    journal.set(jobs, "front_entries", front.entries)
    journal.set(jobs, "front_next", front.following)
    journal.set(jobs, "front_split", front.split)
    journal.set(jobs, "front_ranks", front.ranks)


def front_arrival(backend: Any, queue: Any, jobs: Any, job: ServiceJob) -> None:
    """`job` joined its share's RUNNABLE jobs behind the head, between passes.

    frontOfQueue as last recorded is current (no pass is pending), and what
    it was computed from has not changed but for `job`. If the share's first
    job left out of it sorts before `job`, everything the computation read
    of that share comes before `job`: the front stays as it is, at the cost
    of one comparison. Otherwise `job` is merged in from where it enters
    (_merge_in); only if its share has jobs in the Phase A part is the front
    computed again.
    """
    following = jobs.front_next.get(job.quota_share)
    if following is not None and following[2].key < job.key:
        return
    if not _merge_in(backend, jobs, job):
        _record_front(backend, jobs, _State(backend, queue, jobs, service_environment(backend, queue)))


def _merge_in(backend: Any, jobs: Any, job: ServiceJob) -> bool:
    """frontOfQueue with `job` added, from the front as recorded.

    The merged part is a merge of per-share streams by the FIFO key of each
    stream's head, so the jobs it takes from the other shares come in the
    same order whatever this share holds: past the share's last job ahead of
    `job` (at index `before`), the new front is a two-way merge of this
    share's jobs from `job` on and the other shares' jobs as they came (then
    as their merge goes on from their first jobs left out). Jobs before that
    point keep their index, so their earliestTimeAtPosition stays. The
    recorded entries carry what the merge compares, so it reads few jobs.
    Returns False when the share has jobs in the Phase A part (the caller
    computes the front again).
    """
    share_arn = job.quota_share
    entries, split, ranks = jobs.front_entries, jobs.front_split, jobs.front_ranks
    rank = ranks.get(share_arn)
    if rank is None:
        return False
    entry_ranks = list(map(_RANK, entries))
    if rank in entry_ranks[:split]:
        return False  # Phase A may take `job` on the share's own quota
    key = job.key
    before = -1
    index = split - 1
    while True:  # the share's jobs in the front, in its order: the last one ahead of `job`
        try:
            index = entry_ranks.index(rank, index + 1)
        except ValueError:
            break
        if entries[index][2].key > key:
            break
        before = index
    if before < 0:
        return False  # not behind a job of its share in the front (not expected: it is no head)
    start = before + 1
    tail = entries[start:]
    ours = list(map(operator.eq, entry_ranks[start:], repeat(rank)))
    mine: list[Entry] = [(_fifo_key(job), rank, job), *compress(tail, ours)]
    theirs = list(compress(tail, map(operator.not_, ours)))
    held = len(mine)  # mine[1:held] were in the front already
    following = jobs.front_next
    store = backend.service_jobs
    rest = following.get(share_arn)
    if rest is not None:
        mine.append(rest)
    mine_seq = chain(mine, () if rest is None else _entries_of(store.shares[share_arn], rank, rest[2]))

    mine_entry: Entry | None = next(mine_seq)
    taken_mine = 1
    entered = []  # jobs new to the front
    if theirs and max(theirs) < mine_entry:
        # The usual case: the newest job of all comes after every job that was
        # behind it, so those keep their order (one C-level pass finds out).
        merged, taken = theirs, len(theirs)
    else:
        merged, taken = [], 0  # entries of `theirs` merged so far
    room = FRONT_SIZE - start
    more: _Continuation | None = None  # the other shares' merge past `theirs`, once reached
    if taken < len(theirs):
        their_entry: Entry | None = theirs[taken]
    else:
        more = _Continuation(store.shares, following, share_arn)
        their_entry = more.head
    while len(merged) < room:
        if mine_entry is not None and (their_entry is None or mine_entry < their_entry):
            merged.append(mine_entry)
            if taken_mine == 1 or taken_mine > held:
                entered.append(mine_entry[2])
            mine_entry = next(mine_seq, None)
            taken_mine += 1
        elif their_entry is not None:
            merged.append(their_entry)
            if more is None:
                taken += 1
                if taken < len(theirs):
                    their_entry = theirs[taken]
                    continue
                more = _Continuation(store.shares, following, share_arn)
                their_entry = more.head
            else:
                entered.append(their_entry[2])
                their_entry = more.advance()
        else:
            break

    left_out: dict[str, Entry] = {}
    if more is None:
        for entry in theirs[taken:]:
            left_out.setdefault(entry[2].quota_share, entry)
        for arn, entry in following.items():
            if arn != share_arn:
                left_out.setdefault(arn, entry)
    else:
        for fifo, their_rank, their_job, _ in more.heap:
            left_out[their_job.quota_share] = (fifo, their_rank, their_job)
    if mine_entry is not None:
        left_out[share_arn] = mine_entry
    new_entries = entries[:start] + merged
    record_arrival(backend, jobs, list(map(_JOB, new_entries)), start, entered)
    journal = backend.journal
    journal.set(jobs, "front_entries", new_entries)
    journal.set(jobs, "front_next", left_out)
    return True


class _Continuation:
    """The other shares' merge from each one's first job left out of the
    front; a share's stream is opened only when it is needed."""

    __slots__ = ("head", "heap", "shares")

    def __init__(self, shares: dict[str, Runnable], following: dict[str, Entry], exclude: str) -> None:
        self.shares = shares
        self.heap = [(*entry, None) for arn, entry in following.items() if arn != exclude]
        heapq.heapify(self.heap)
        self.head: Entry | None = self.heap[0][:3] if self.heap else None

    def advance(self) -> Entry | None:
        """Drop the head; return the next one."""
        heap = self.heap
        _, rank, job, stream = heap[0]
        if stream is None:
            stream = _entries_of(self.shares[job.quota_share], rank, job)
        after = next(stream, None)
        if after is None:
            heapq.heappop(heap)
        else:
            heapq.heapreplace(heap, (*after, stream))
        self.head = heap[0][:3] if heap else None
        return self.head


def waiting_for(backend: Any, queue: Any, jobs: Any, job: ServiceJob) -> str:
    """What a RUNNABLE job of a quota share waits for, in words (lb.explain)."""
    state = _State(backend, queue, jobs, service_environment(backend, queue))
    share = state.by_arn.get(job.quota_share)
    if share is None:
        return "its quota share no longer exists"
    own = ", ".join(f"{share.owned.get(u, 0)} of {share.max.get(u, 0)} {u} owned" for u in job.units) or "no limits"
    lent = ", ".join(f"{n} {u} lent out" for u, n in share.lent.items() if n)
    parts = [f"share {share.name} ({share.strategy}) has {own}" + (f", {lent}" if lent else "")]
    head = share.runnable.head()
    if head is not job:
        parts.append(f"job {head.id} ({head.name}) is ahead of it in the share (priority, then createdAt, then jobId)")
    elif share.fits_own(job):
        parts.append("it fits the share's own limits and starts when the service environment has the instances")
    elif share.strategy == LEND_AND_BORROW:
        lendable = ", ".join(f"{state.lendable(share, u)} {u}" for u in job.units)
        parts.append(f"it must borrow; idle capacity other shares lend now: {lendable}")
    else:
        parts.append(f"a {share.strategy} share never borrows, so it waits for its own jobs to finish")
    if share.in_share and head is job:
        parts.append("in-share preemption is ENABLED: it preempts lower-priority jobs of the share if that makes room")
    return "; ".join(parts)
