"""Service jobs (SageMaker Training): the entity, its attempts, and the
indexes that keep every call's and every scheduling pass's cost flat however
many jobs a backend holds (spec §4).

A service job is a `ServiceJob` object (``__slots__``); DescribeServiceJob
and ListServiceJobs render the output shapes from its slots
(localbatch/api/service_jobs.py). What the job needs never changes after
SubmitServiceJob: `units` (instance type -> instance count, from the
payload's ResourceConfig, spec §4.2) is computed once per distinct payload.

Indexes (updated only by `service_lifecycle.transition`, `ServiceJobStore.add`
and `reprioritise`):

* `by_id`: job id -> job; `by_seq`: creation seq -> job;
* per queue: every job in creation order, one `SortedInts` of seqs per status
  (ListServiceJobs pages newest first from a bisect), the jobs holding
  capacity (SCHEDULED/STARTING/RUNNING), usage counters per unit;
* per queue (FIFO and fair-share queues) or per quota share: the RUNNABLE
  jobs as a `SortedInts` of dispatch keys, so a pass reads each head in
  O(log n) and never scans the waiting jobs.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from typing import Any

from localbatch.engine.fair_share_usage import order_key
from localbatch.engine.jobs import ID_BITS, SortedInts, id_number

SUBMITTED = "SUBMITTED"
PENDING = "PENDING"
RUNNABLE = "RUNNABLE"
SCHEDULED = "SCHEDULED"
STARTING = "STARTING"
RUNNING = "RUNNING"
SUCCEEDED = "SUCCEEDED"
FAILED = "FAILED"
STATUSES = (SUBMITTED, PENDING, RUNNABLE, SCHEDULED, STARTING, RUNNING, SUCCEEDED, FAILED)
TERMINAL = frozenset({SUCCEEDED, FAILED})
IN_USE = frozenset({SCHEDULED, STARTING, RUNNING})  # holding capacity (spec §3.5 "Units")
NUM_INSTANCES = "NUM_INSTANCES"
MAX_PRIORITY = 9999
_CREATED_BITS = 42


def fifo_key(created_at: int, job_id: str) -> int:
    """Spec §3.2 (FIFO service queues, §3.5): createdAt asc, ties by jobId."""
    return (created_at << ID_BITS) | id_number(job_id)


def share_key(priority: int, created_at: int, job_id: str) -> int:
    """Inside a quota share (spec §3.5 Phase A): priority desc, then createdAt asc, then jobId."""
    return ((MAX_PRIORITY - priority) << (_CREATED_BITS + ID_BITS)) | fifo_key(created_at, job_id)


class ServiceAttempt:
    """One SageMaker training job created for the service job (opened at SCHEDULED)."""

    __slots__ = ("preempted", "started_at", "status_reason", "stopped_at", "training_job_arn")

    def __init__(self, training_job_arn: str) -> None:
        self.training_job_arn = training_job_arn
        self.started_at: int | None = None
        self.stopped_at: int | None = None
        self.status_reason: str | None = None
        self.preempted = False


class ServiceJob:
    __slots__ = (
        "arn",
        "attempts",
        "blocked_reason",
        "blocked_since",
        "created_at",
        "event",  # the pending lifecycle event
        "front",  # True once recorded in frontOfQueue, until it leaves RUNNABLE (service_fifo.update_positions)
        "head_since",  # since when it is the head of its quota share
        "held",  # (service environment ARN, {unit: quantity}) while SCHEDULED/STARTING/RUNNING
        "id",
        "is_terminated",
        "key",  # dispatch_key(), kept current
        "name",
        "outcome",  # (exit code, reason) decided when the attempt started RUNNING
        "params",  # SubmitServiceJob request as given (clientToken dropped); never edited
        "payload",  # serviceRequestPayload parsed, or None when it is not a JSON object
        "preempted_count",
        "priority",  # schedulingPriority (None until given)
        "queue_arn",
        "quota_share",  # quota share ARN, or None
        "recent_preempted",  # newest first, at most 5
        "runnable_since",  # when it last became RUNNABLE (Phase B FIFO order, spec §3.5)
        "scheduled_at",
        "seq",
        "share_identifier",  # shareIdentifier (fair-share queues only), or None
        "started_at",
        "status",
        "status_reason",
        "stopped_at",
        "tags",
        "timeout_event",
        "tries",  # attempts that ended other than by preemption (retryStrategy counts these)
        "units",  # {capacity unit: instances}, from ResourceConfig (spec §4.2)
    )

    def __init__(self, seq: int, job_id: str, arn: str, queue_arn: str, quota_share: str | None,
                 params: dict[str, Any], now_ms: int) -> None:
        """A job as SubmitServiceJob received it (`params` without clientToken)."""
        self.seq = seq
        self.id = job_id
        self.arn = arn
        self.name = params["jobName"]
        self.queue_arn = queue_arn
        self.quota_share = quota_share
        self.params = params
        self.payload, self.units = payload_facts(params["serviceRequestPayload"])
        self.priority: int | None = params.get("schedulingPriority")
        self.share_identifier: str | None = params.get("shareIdentifier")
        self.tags: dict[str, str] | None = params.get("tags")
        self.created_at = now_ms
        self.key = self.dispatch_key()
        self.status: str | None = None
        self.status_reason: str | None = None
        self.scheduled_at: int | None = None
        self.started_at: int | None = None
        self.stopped_at: int | None = None
        self.runnable_since = now_ms
        # Empty tuples until the first attempt or preemption (lists then,
        # replaced on change): a waiting job has neither, and a submit should
        # allocate little.
        self.attempts: Sequence[ServiceAttempt] = ()
        self.tries = 0
        self.preempted_count = 0
        self.recent_preempted: Sequence[ServiceAttempt] = ()
        self.is_terminated = False
        self.held: tuple[str, dict[str, int]] | None = None
        self.event: list | None = None
        self.timeout_event: list | None = None
        self.outcome: tuple[int, str | None] | None = None
        self.blocked_reason: str | None = None
        self.blocked_since: int | None = None
        self.front: bool | None = None
        self.head_since: int | None = None

    @property
    def effective_priority(self) -> int:
        return self.priority or 0

    @property
    def instances(self) -> int:
        return sum(self.units.values())

    def dispatch_key(self) -> int:
        """Within a quota share priority, createdAt, then jobId; within a fair
        share the same (spec §3.3 step 3, the order_key the share book files
        it under); on a FIFO queue createdAt, then jobId (spec §3.2, §3.5).
        Kept in `key` (the hot paths read it): set here and by reprioritise."""
        if self.quota_share is not None:
            return share_key(self.priority or 0, self.created_at, self.id)
        if self.share_identifier is not None:
            return order_key(self.priority, self.created_at, id_number(self.id))
        return fifo_key(self.created_at, self.id)

    @property
    def data(self) -> dict[str, Any]:
        """The tag view TagResource / UntagResource / ListTagsForResource use (api/tags.py)."""
        return {"tags": dict(self.tags or {})}

    @data.setter
    def data(self, value: dict[str, Any]) -> None:
        self.tags = value.get("tags")

    def __repr__(self) -> str:
        return f"<ServiceJob {self.id} {self.name} {self.status}>"


def capacity_of(payload: dict[str, Any] | None) -> dict[str, int]:
    """{instance type: count} of a CreateTrainingJob request (spec §4.2); {} if unreadable."""
    if not isinstance(payload, dict):
        return {}
    config = payload.get("ResourceConfig")
    if not isinstance(config, dict):
        return {}
    units: dict[str, int] = {}
    groups = config.get("InstanceGroups")
    entries = groups if isinstance(groups, list) and groups else [config]
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        kind, count = entry.get("InstanceType"), entry.get("InstanceCount", 1)
        if isinstance(kind, str) and isinstance(count, int) and not isinstance(count, bool) and count > 0:
            units[kind] = units.get(kind, 0) + count
    return units


def parse_payload(text: str) -> dict[str, Any] | None:
    try:
        value = json.loads(text)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None


@lru_cache(maxsize=1024)
def payload_facts(text: str) -> tuple[dict[str, Any] | None, dict[str, int]]:
    """The parsed payload and the capacity it asks for, read once per distinct
    payload (jobs are mostly sent the same few). Every job sent `text` shares
    them, so neither is ever edited; rules get a copy (ServiceJobRun)."""
    payload = parse_payload(text)
    return payload, capacity_of(payload)


class Runnable:
    """RUNNABLE jobs of one queue or quota share, smallest dispatch key first."""

    __slots__ = ("jobs", "keys")

    def __init__(self) -> None:
        self.keys = SortedInts()
        self.jobs: dict[int, ServiceJob] = {}

    def __len__(self) -> int:
        return len(self.keys)

    def head(self) -> ServiceJob | None:
        key = self.keys.min()
        return None if key is None else self.jobs[key]

    def in_order(self, limit: int) -> list[ServiceJob]:
        out: list[ServiceJob] = []
        jobs = self.jobs
        for key in self.keys.ascending():
            out.append(jobs[key])
            if len(out) == limit:
                break
        return out

    def add(self, job: ServiceJob, key: int | None = None) -> None:
        key = job.key if key is None else key
        self.keys.add(key)
        self.jobs[key] = job

    def discard(self, job: ServiceJob, key: int | None = None) -> None:
        key = job.key if key is None else key
        self.keys.discard(key)
        self.jobs.pop(key, None)


class QueueServiceJobs:
    __slots__ = (
        "blocked",
        "by_status",
        "fair_share",
        "front_at",
        "front_entries",
        "front_jobs",
        "front_last",
        "front_next",
        "front_ranks",
        "front_since",
        "front_split",
        "heads",
        "in_use",
        "listed",
        "passed_at",
        "runnable",
        "share_usage",
        "usage",
    )

    def __init__(self) -> None:
        self.listed: list[int] = []  # creation order
        self.by_status: dict[str, SortedInts] = {status: SortedInts() for status in STATUSES}
        self.runnable = Runnable()  # FIFO / fair-share queues (fair share: a FairRunnable)
        self.fair_share: Any = None  # fair-share queues: the ShareBook (schedulers/service_fair_share.py)
        # Fair-share queues: shareIdentifier -> dispatch key of its last job in
        # front_jobs (service_fair_share.front_arrival).
        self.front_last: dict[str, int] = {}
        self.front_at: int | None = None  # fair-share queues: engine time front_jobs was recorded at
        self.passed_at: int | None = None  # fair-share queues: engine time of the last pass over the queue
        self.in_use: dict[str, ServiceJob] = {}  # job id -> job, SCHEDULED/STARTING/RUNNING
        self.usage: dict[str, int] = {}  # unit -> instances held by the queue's jobs
        # Quota share ARN (quota queues) or shareIdentifier (fair-share queues) -> unit -> instances.
        self.share_usage: dict[str, dict[str, int]] = {}
        self.blocked: dict[str | None, ServiceJob] = {}  # quota share ARN (None: the queue) -> blocked head
        self.front_jobs: list[ServiceJob] = []  # frontOfQueue as last recorded
        self.front_since: list[int] = []  # since when each of them holds its index (earliestTimeAtPosition)
        # Quota queues: quota share ARN -> the entry of its first RUNNABLE job
        # that is not in front_jobs (absent when all of them are). A job
        # arriving behind it cannot change frontOfQueue (quota_share.front_arrival).
        self.front_next: dict[str, tuple] = {}
        # Quota queues: front_jobs as the merge compares them (quota_share.Entry),
        # where their merged part starts (after the Phase A part), and each
        # quota share's place in creation order.
        self.front_entries: list[tuple] = []
        self.front_split = 0
        self.front_ranks: dict[str, int] = {}
        self.heads: dict[str, ServiceJob] = {}  # quota share ARN -> its first RUNNABLE job as last computed


class ServiceJobStore:
    def __init__(self, journal: Any) -> None:
        self._journal = journal
        self.by_id: dict[str, ServiceJob] = {}
        self.by_seq: dict[int, ServiceJob] = {}
        self.by_arn = _ByArn(self)
        self.queues: dict[str, QueueServiceJobs] = {}
        self.shares: dict[str, Runnable] = {}  # quota share ARN -> RUNNABLE jobs
        self.tokens: dict[str, tuple[int, ServiceJob]] = {}  # clientToken -> (created_at, job)
        self.se_used: dict[str, dict[str, int]] = {}  # service environment ARN -> unit -> instances
        self.timeline: list[tuple] = []
        # Container queues GetJobQueueSnapshot follows: queue ARN -> job id -> (index, since).
        self.container_fronts: dict[str, dict[str, tuple[int, int]]] = {}
        self.dispatch_event: list | None = None
        self.dirty: set[str] | None = None  # queues the pending pass is for (None: every one)
        self.own_event = False
        self.versions_seen: tuple = ()  # service_lifecycle._versions at the last pass
        # Transitions so far (never undone: only compared across one pass).
        self.moves = 0
        # True when the last pass moved no job: every scheduler then stands at
        # a fixed point, and a job arriving behind a head leaves it there
        # (service_lifecycle.arrived).
        self.settled = False

    def __len__(self) -> int:
        return len(self.by_id)

    def get(self, job_id: str) -> ServiceJob | None:
        return self.by_id.get(job_id)

    def queue(self, queue_arn: str) -> QueueServiceJobs:
        found = self.queues.get(queue_arn)
        if found is None:
            found = QueueServiceJobs()
            self._journal.put(self.queues, queue_arn, found)
        return found

    def share(self, share_arn: str) -> Runnable:
        found = self.shares.get(share_arn)
        if found is None:
            found = Runnable()
            self._journal.put(self.shares, share_arn, found)
        return found

    def runnable_of(self, job: ServiceJob) -> Runnable:
        if job.quota_share is not None:
            return self.share(job.quota_share)
        return self.queue(job.queue_arn).runnable

    def add(self, job: ServiceJob) -> None:
        queue = self.queue(job.queue_arn)
        self.by_id[job.id] = job
        self.by_seq[job.seq] = job
        queue.listed.append(job.seq)
        self._journal.record(_unadd, self, queue, job)  # one undo entry for the three


def _unadd(store: ServiceJobStore, queue: QueueServiceJobs, job: ServiceJob) -> None:
    del store.by_id[job.id]
    del store.by_seq[job.seq]
    queue.listed.pop()  # later appends were undone first


class _ByArn:
    """`Table.by_arn`-like view, so tags.find_taggable finds service jobs."""

    __slots__ = ("_store",)

    def __init__(self, store: ServiceJobStore) -> None:
        self._store = store

    def get(self, arn: str, default: Any = None) -> Any:
        job = self._store.by_id.get(arn.rpartition("/")[2])
        return job if job is not None and job.arn == arn else default
