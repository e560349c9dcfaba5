"""Container jobs: the entity, its attempts, and the indexes that keep every
call's cost flat however many jobs a backend holds.

A job is a `Job` object (``__slots__``), not a stored describe dict: a job
changes status several times in its life, and rebuilding a JobDetail on each
change would cost more than the change. DescribeJobs / ListJobs render the
output shape from the slots (localbatch/api/jobs.py). What a job was
submitted with and never changes (effective container, retry strategy,
timeout...) lives in one `JobSpec`, shared by all children of an array.

Indexes (all updated only by `lifecycle.transition` and `JobStore.add`):

* `by_id`: job id -> Job (parents, array children `id:i`, MNP nodes `id#n`);
* per queue: every listed job in creation order (append-only), one
  `SortedInts` of creation seqs per status (ListJobs pages newest first from
  a bisect), and the RUNNABLE jobs in dispatch order (the FIFO head is the
  smallest key);
* per consumable resource: the jobs that need it, in creation order.
"""

from __future__ import annotations

import hashlib
from bisect import bisect_left, bisect_right
from typing import Any, Iterator

SUBMITTED = "SUBMITTED"
PENDING = "PENDING"
RUNNABLE = "RUNNABLE"
STARTING = "STARTING"
RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
STATUSES = (SUBMITTED, PENDING, RUNNABLE, STARTING, RUNNING, SUCCEEDED, FAILED)
TERMINAL = frozenset({SUCCEEDED, FAILED})
ACTIVE = frozenset({STARTING, RUNNING})  # holding capacity

# Spec §3.2 as one int, so a queue's RUNNABLE jobs are a sorted set of ints:
# createdAt, then the job id (ties by jobId [proposed]), then, for an array
# child, index + 1 (size <= 10000 < _KEY_SPAN) under its parent's key. Job ids
# are lowercase UUIDs: as 128-bit numbers they sort as the strings do.
ID_BITS = 128
_KEY_SPAN = 16384
TIEBREAK_BITS = ID_BITS + 14  # the id and index part of a key (_KEY_SPAN == 1 << 14)
TIEBREAK_MASK = (1 << TIEBREAK_BITS) - 1


def id_number(job_id: str) -> int:
    """The job id (its first 36 characters: a child's or node's suffix is not
    part of it) as the number whose order is the ids' string order."""
    return int(job_id[:36].replace("-", ""), 16)


class SortedInts:
    """A sorted set of ints in blocks: add / discard / min in O(log n + block)."""

    __slots__ = ("_blocks", "_maxes", "_len")
    _LOAD = 512

    def __init__(self) -> None:
        self._blocks: list[list[int]] = []
        self._maxes: list[int] = []
        self._len = 0

    def __len__(self) -> int:
        return self._len

    def __bool__(self) -> bool:
        return self._len > 0

    def __contains__(self, value: int) -> bool:
        i = bisect_left(self._maxes, value)
        if i == len(self._maxes):
            return False
        block = self._blocks[i]
        j = bisect_left(block, value)
        return j < len(block) and block[j] == value

    def add(self, value: int) -> None:
        maxes, blocks = self._maxes, self._blocks
        if not maxes:
            blocks.append([value])
            maxes.append(value)
            self._len = 1
            return
        # The newest job is the common case: it goes last, with no bisect.
        i = len(maxes) if value > maxes[-1] else bisect_left(maxes, value)
        if i == len(maxes):
            i -= 1
            block = blocks[i]
            block.append(value)
            maxes[i] = value
        else:
            block = blocks[i]
            j = bisect_left(block, value)
            if j < len(block) and block[j] == value:
                return
            block.insert(j, value)
        self._len += 1
        if len(block) > 2 * self._LOAD:
            half = block[self._LOAD :]
            del block[self._LOAD :]
            maxes[i] = block[-1]
            blocks.insert(i + 1, half)
            maxes.insert(i + 1, half[-1])

    def discard(self, value: int) -> None:
        maxes = self._maxes
        if maxes and value == maxes[-1]:  # the newest job, or a set of one: no bisect
            block = self._blocks[-1]
            block.pop()
            self._len -= 1
            if block:
                maxes[-1] = block[-1]
            else:
                self._blocks.pop()
                maxes.pop()
            return
        i = bisect_left(maxes, value)
        if i == len(maxes):
            return
        block = self._blocks[i]
        j = bisect_left(block, value)
        if j == len(block) or block[j] != value:
            return
        del block[j]
        self._len -= 1
        if not block:
            del self._blocks[i]
            del maxes[i]
        else:
            maxes[i] = block[-1]

    def min(self) -> int | None:
        return self._blocks[0][0] if self._blocks else None

    def ascending(self, above: int | None = None) -> Iterator[int]:
        """Values > `above` (all if None), smallest first."""
        blocks = self._blocks
        i, j = 0, 0
        if above is not None:
            i = bisect_right(self._maxes, above)
            if i < len(blocks):
                j = bisect_right(blocks[i], above)
        for k in range(i, len(blocks)):
            block = blocks[k]
            yield from block[j:] if j else block
            j = 0

    def top(self, count: int, below: int | None = None) -> list[int]:
        """Up to `count` values < `below` (all if None), largest first: what
        `descending` yields, taken a block slice at a time (ListJobs pages)."""
        blocks = self._blocks
        if not blocks or count <= 0:
            return []
        i = len(blocks) - 1
        end = len(blocks[i])
        if below is not None:
            k = bisect_left(self._maxes, below)
            if k < len(blocks):
                i, end = k, bisect_left(blocks[k], below)
        out: list[int] = []
        while True:
            if end:  # a slice from -1 would wrap round
                start = end - (count - len(out))
                out += blocks[i][end - 1 : start - 1 if start > 0 else None : -1]
            i -= 1
            if len(out) >= count or i < 0:
                return out
            end = len(blocks[i])

    def descending(self, below: int | None = None) -> Iterator[int]:
        """Values < `below` (all if None), largest first."""
        blocks = self._blocks
        i = len(blocks) - 1
        j = None
        if below is not None:
            i = bisect_left(self._maxes, below)
            if i == len(blocks):
                i -= 1
            else:
                j = bisect_left(blocks[i], below)
        for k in range(i, -1, -1):
            block = blocks[k]
            end = len(block) if j is None else j
            for n in range(end - 1, -1, -1):
                yield block[n]
            j = None


class JobSpec:
    """What a submission asked for, resolved once at SubmitJob and never changed."""

    __slots__ = (
        "job_definition",  # the JobDefinition describe dict (shared, never edited)
        "parameters",
        "container",  # effective containerProperties (overrides merged, Ref:: substituted) or None
        "ecs_properties",
        "eks_properties",
        "node_properties",
        "node_overrides",
        "retry_strategy",
        "timeout",
        "propagate_tags",
        "platform_capabilities",
        "consumables",  # ((resource ARN, quantity), ...)
        "consumable_properties",
        "vcpus",
        "share_identifier",
        "scheduling_priority",
        "array_size",
        "sequential",
        "fail_reason",  # set when the submission is accepted but must fail (spec §2.10)
    )

    def __init__(self, **values: Any) -> None:
        for name in self.__slots__:
            setattr(self, name, values.get(name))


class Attempt:
    """One try of a job: opened at STARTING, closed when the container stops."""

    __slots__ = ("number", "compute_environment", "started_at", "stopped_at", "exit_code", "reason", "status_reason")

    def __init__(self, number: int, compute_environment: str) -> None:
        self.number = number
        self.compute_environment = compute_environment
        self.started_at: int | None = None
        self.stopped_at: int | None = None
        self.exit_code: int | None = None
        self.reason: str | None = None
        self.status_reason: str | None = None


class Job:
    __slots__ = (
        "seq",
        "id",
        "arn",
        "name",
        "queue_arn",
        "spec",
        "dependencies",  # dependsOn as submitted (list of dicts)
        "tags",
        "status",
        "status_reason",
        "created_at",
        "scheduled_at",
        "started_at",
        "stopped_at",
        "attempts",
        "is_cancelled",
        "is_terminated",
        "cancel_reason",  # a cancel recorded on a PENDING job, applied when its dependencies are done
        "key",  # dispatch order key (see ID_BITS, _KEY_SPAN)
        "parent",  # array parent of a child, MNP job of a node
        "index",  # array index of a child / node index of a node
        "children",  # array children or MNP nodes, by index
        "summary",  # array parent: status -> count of children
        "summary_at",
        "waiting_on",  # number of dependencies not yet SUCCEEDED
        "dependents",  # [(job, kind)] told when this job ends (kind "done") or spawns ("spawned")
        "compute_environment",  # CE ARN holding the job's capacity while STARTING/RUNNING
        "event",  # the pending lifecycle event (evaluate, start, end)
        "timeout_event",
        "outcome",  # (exit code, container reason) decided when the attempt started
        "blocked_reason",
        "blocked_since",
        # The ListJobs summary cache (api/jobs._cache_summary), or None.
        # lifecycle.transition clears it, and so must anything else that
        # changes what a summary shows (flow.cancel_job, a child's move for
        # its array parent); statusReason is also checked when it is read,
        # since a scheduler sets a blocked reason without a transition.
        "rendered",
    )

    def __init__(self, seq: int, job_id: str, arn: str, name: str, queue_arn: str, spec: JobSpec, now_ms: int) -> None:
        self.seq = seq
        self.id = job_id
        self.arn = arn
        self.name = name
        self.queue_arn = queue_arn
        self.spec = spec
        self.dependencies: list[dict[str, Any]] = []
        self.tags: dict[str, str] | None = None
        self.status: str | None = None
        self.status_reason: str | None = None
        self.created_at = now_ms
        self.scheduled_at: int | None = None
        self.started_at: int | None = None
        self.stopped_at: int | None = None
        self.attempts: list[Attempt] = []
        self.is_cancelled = False
        self.is_terminated = False
        self.cancel_reason: str | None = None
        self.key = ((now_ms << ID_BITS) | id_number(job_id)) * _KEY_SPAN  # (createdAt, id), see ID_BITS
        self.parent: Job | None = None
        self.index: int | None = None
        self.children: list[Job] | None = None
        self.summary: dict[str, int] | None = None
        self.summary_at: int | None = None
        self.waiting_on = 0
        self.dependents: list[tuple[Job, str]] | None = None
        self.compute_environment: str | None = None
        self.event: list | None = None
        self.timeout_event: list | None = None
        self.outcome: tuple[int | None, str | None] | None = None
        self.blocked_reason: str | None = None
        self.blocked_since: int | None = None
        self.rendered: tuple | None = None

    # -- kinds --------------------------------------------------------------

    @property
    def is_array_parent(self) -> bool:
        return self.spec.array_size is not None and self.parent is None

    @property
    def is_array_child(self) -> bool:
        return self.parent is not None and ":" in self.id

    @property
    def is_node(self) -> bool:
        return self.parent is not None and "#" in self.id

    @property
    def is_multinode(self) -> bool:
        return self.spec.node_properties is not None and self.parent is None

    @property
    def listed_in_queue(self) -> bool:
        """Array parents and plain jobs are listed by queue; children and nodes only under their parent."""
        return self.parent is None

    @property
    def data(self) -> dict[str, Any]:
        """The tag view TagResource / UntagResource / ListTagsForResource use
        (api/tags.py reads `data["tags"]` and writes a new dict back through
        the journal); DescribeJobs renders the full JobDetail itself."""
        return {"tags": dict(self.tags or {})}

    @data.setter
    def data(self, value: dict[str, Any]) -> None:
        self.tags = value.get("tags")

    def __repr__(self) -> str:
        return f"<Job {self.id} {self.name} {self.status}>"


def child_key(parent: Job, index: int) -> int:
    return parent.key + index + 1


def derived_hex(job_id: str, salt: str, length: int) -> str:
    """Ids that follow from a job id (task, instance): deterministic, and free
    until someone reads them."""
    return hashlib.sha256(f"{job_id}/{salt}".encode()).hexdigest()[:length]


class _QueueJobs:
    __slots__ = ("listed", "by_status", "runnable", "runnable_jobs", "blocked_job", "fair_share")

    def __init__(self) -> None:
        self.listed: list[int] = []  # seqs of parents/plain jobs, creation order
        self.by_status: dict[str, SortedInts] = {status: SortedInts() for status in STATUSES}
        self.runnable = SortedInts()  # dispatch keys
        # Fair-share queues swap in a dict that also files jobs by share (schedulers/fair_share.py).
        self.runnable_jobs: dict[int, Job] = {}
        self.blocked_job: Job | None = None
        self.fair_share: Any = None  # the queue's ShareBook (engine/fair_share_usage.py), fair-share queues only


class _ByArn:
    """`Table.by_arn`-like view, so tags.find_taggable finds jobs."""

    __slots__ = ("_store",)

    def __init__(self, store: "JobStore") -> None:
        self._store = store

    def get(self, arn: str, default: Any = None) -> Any:
        job = self._store.by_id.get(arn.rpartition("/")[2])
        return job if job is not None and job.arn == arn else default


class JobStore:
    def __init__(self, journal: Any) -> None:
        self._journal = journal
        self.by_id: dict[str, Job] = {}
        self.by_seq: dict[int, Job] = {}
        self.by_arn = _ByArn(self)
        self.queues: dict[str, _QueueJobs] = {}
        self.by_consumable: dict[str, list[int]] = {}
        self.timeline: list[tuple] = []
        # (job id, attempt number) -> output of the attempt's process (executor="subprocess").
        self.attempt_logs: dict[tuple[str, int], str] = {}
        self.ce_used: dict[str, float] = {}
        self.dispatch_event: list | None = None
        self.rules: list[Any] = []
        self.own_event = False  # see schedulers.job_event
        # Job moves so far (lifecycle.transition; never undone, only compared),
        # and the count at which the engine last stood at a fixed point: a
        # pass that moved no job, or an arrival shown to change nothing
        # (None: not known to stand still). See schedulers.pass_in_call.
        self.moves = 0
        self.quiet_at: int | None = None
        # schedulers._versions as the last pass saw them.
        self.versions_seen: tuple[int, int, int] | None = None
        # The queues a pass visits, in order, for those versions: see schedulers._plan.
        self.dispatch_plan: Any = None
        # id(job definition data) -> (that data, the JobSpec of a submission
        # that overrides nothing): see api/jobs._spec. The data is kept so
        # its id cannot be reused.
        self.plain_specs: dict[int, tuple[dict[str, Any], JobSpec]] = {}
        # (jobQueue, jobDefinition) as given -> (versions, queue, JobSpec):
        # see api/jobs._plain_submission.
        self.plain_submissions: dict[tuple[str, str], tuple[tuple[int, ...], Any, JobSpec]] = {}

    def __len__(self) -> int:
        return len(self.by_id)

    def get(self, job_id: str) -> Job | None:
        return self.by_id.get(job_id)

    def queue(self, queue_arn: str) -> _QueueJobs:
        found = self.queues.get(queue_arn)
        if found is None:
            found = _QueueJobs()
            self._journal.put(self.queues, queue_arn, found)
        return found

    def add(self, job: Job) -> None:
        """Register a new job (status still None; `lifecycle.create` sets it)."""
        j = self._journal
        queue = None
        if job.parent is None:  # Job.listed_in_queue
            queue = self.queues.get(job.queue_arn) or self.queue(job.queue_arn)
            queue.listed.append(job.seq)
        self.by_id[job.id] = job
        self.by_seq[job.seq] = job
        j.record(_unadd, self, queue, job)  # one undo entry for the three: this runs on every SubmitJob
        spec = job.spec
        if not spec.consumables or (job.parent is None and spec.array_size is not None) or "#" in job.id:
            return  # only jobs that run lock units: plain jobs, array children, MNP jobs
        for arn, _ in spec.consumables:
            listed = self.by_consumable.get(arn)
            if listed is None:
                listed = []
                j.put(self.by_consumable, arn, listed)
            j.append(listed, job.seq)


def _unadd(store: JobStore, queue: _QueueJobs | None, job: Job) -> None:
    del store.by_id[job.id]
    del store.by_seq[job.seq]
    if queue is not None:
        queue.listed.pop()  # later appends were undone first
