"""The container-job state machine as data (spec §2.1), and the one function
that moves a job.

`transition` is the only place a job's status changes. It checks the move
against `TRANSITIONS`, stamps the engine time (`scheduledAt` at STARTING,
`startedAt` at RUNNING, `stoppedAt` at a final status), keeps the indexes of
engine/jobs.py and the array parent's status summary in step, records the
move on the timeline, and leaves one undo record in the journal, so a call
that fails later leaves the job exactly as it was.
"""

from __future__ import annotations

from typing import Any

from localbatch.engine.jobs import (
    FAILED,
    PENDING,
    RUNNABLE,
    RUNNING,
    STARTING,
    STATUSES,
    SUBMITTED,
    SUCCEEDED,
    TERMINAL,
    Job,
)
from localbatch.errors import LocalBatchError

# from -> the statuses a job may move to. `None` is "not yet created":
# submitted jobs start SUBMITTED, array children are spawned PENDING, and the
# nodes of a multi-node job are created STARTING (the main node at dispatch,
# the others once it is RUNNING).
TRANSITIONS: dict[str | None, frozenset[str]] = {
    None: frozenset({SUBMITTED, PENDING, STARTING}),
    SUBMITTED: frozenset({PENDING, RUNNABLE, FAILED}),
    PENDING: frozenset({RUNNABLE, SUCCEEDED, FAILED}),  # SUCCEEDED: an array parent whose children all did
    RUNNABLE: frozenset({STARTING, FAILED}),
    STARTING: frozenset({RUNNING, RUNNABLE, FAILED}),  # RUNNABLE: a failed start with retries left
    RUNNING: frozenset({SUCCEEDED, FAILED, RUNNABLE}),  # RUNNABLE: a failed attempt with retries left
    SUCCEEDED: frozenset(),
    FAILED: frozenset(),
}

_KEEP = object()


def create(backend: Any, job: Job, status: str, reason: str | None = None) -> None:
    """Register a new job and record its first status."""
    backend.jobs.add(job)
    transition(backend, job, status, reason)


def create_runnable(backend: Any, job: Job) -> None:
    """Register a new plain job and move it SUBMITTED -> RUNNABLE in the
    same step, as `create` then `transition` would: both moves on the
    timeline, but one index update and one undo record. For a job whose
    evaluation runs in its SubmitJob call (flow.submit)."""
    store = backend.jobs
    store.add(job)
    store.moves += 2
    job.status = RUNNABLE
    queue = store.queues.get(job.queue_arn) or store.queue(job.queue_arn)
    queue.by_status[RUNNABLE].add(job.seq)
    queue.runnable.add(job.key)
    queue.runnable_jobs[job.key] = job
    recorded = backend.config.record_timeline
    if recorded:
        now = backend.now_ms
        store.timeline += ((now, job.id, job.name, None, SUBMITTED, None), (now, job.id, job.name, SUBMITTED, RUNNABLE, None))
    backend.journal.record(_uncreate_runnable, store, job, recorded)


def _uncreate_runnable(store: Any, job: Job, recorded: bool) -> None:
    # The job itself leaves the store through the journal entries of JobStore.add.
    queue = store.queues[job.queue_arn]
    queue.by_status[RUNNABLE].discard(job.seq)
    queue.runnable.discard(job.key)
    queue.runnable_jobs.pop(job.key, None)
    job.status = None
    if recorded:
        del store.timeline[-2:]


def transition(backend: Any, job: Job, to: str, reason: Any = None) -> None:
    """Move `job` to status `to` at engine time, with statusReason `reason`
    (None clears it)."""
    frm = job.status
    if to not in TRANSITIONS[frm]:
        raise LocalBatchError(f"localbatch bug: job {job.id} cannot move from {frm} to {to}")
    now = backend.now_ms
    store = backend.jobs
    store.moves += 1
    parent = job.parent
    old = (frm, job.status_reason, job.scheduled_at, job.started_at, job.stopped_at, job.blocked_reason,
           job.blocked_since, job.summary_at if parent is None else parent.summary_at)
    job.status = to
    job.status_reason = reason
    job.blocked_reason = job.blocked_since = None
    job.rendered = None
    if to == STARTING:
        job.scheduled_at = now
    elif to == RUNNING:
        job.started_at = now
    elif to in TERMINAL:
        job.stopped_at = now
    if parent is None:
        # _move, inlined for a job listed in its queue: four moves per job.
        queue = store.queues.get(job.queue_arn) or store.queue(job.queue_arn)
        by_status = queue.by_status
        if frm is not None:
            by_status[frm].discard(job.seq)
        by_status[to].add(job.seq)
        if frm == RUNNABLE:
            queue.runnable.discard(job.key)
            queue.runnable_jobs.pop(job.key, None)
        elif to == RUNNABLE:
            queue.runnable.add(job.key)
            queue.runnable_jobs[job.key] = job
    else:
        _move(store, job, frm, to, now)
    recorded = backend.config.record_timeline
    if recorded:
        store.timeline.append((now, job.id, job.name, frm, to, reason))
    # Journal.record, inlined: four transitions per job.
    undo = backend.journal._undo
    if undo is not None:
        undo.append((_undo, (store, job, old, to, recorded)))


def _move(store: Any, job: Job, frm: str | None, to: str, now: int) -> None:
    parent = job.parent
    queue = None
    if parent is None:
        queue = store.queues.get(job.queue_arn) or store.queue(job.queue_arn)
        by_status = queue.by_status
        if frm is not None:
            by_status[frm].discard(job.seq)
        by_status[to].add(job.seq)
    else:
        summary = parent.summary
        if summary is not None:  # an array child
            if frm is not None:
                summary[frm] -= 1
            summary[to] += 1
            parent.summary_at = now
            parent.rendered = None
        if "#" in job.id:  # Job.is_node
            return  # nodes run with their job; only the job itself waits in the queue
    if frm == RUNNABLE:
        if queue is None:
            queue = store.queues[job.queue_arn]
        queue.runnable.discard(job.key)
        queue.runnable_jobs.pop(job.key, None)
    if to == RUNNABLE:
        if queue is None:
            queue = store.queue(job.queue_arn)
        queue.runnable.add(job.key)
        queue.runnable_jobs[job.key] = job


def _undo(store: Any, job: Job, old: tuple, to: str, recorded: bool) -> None:
    frm = old[0]
    if frm is None:
        # The job itself leaves the store through the journal entries of
        # JobStore.add; only the index entry made here must go.
        _unindex(store, job, to)
    else:
        _move(store, job, to, frm, old[7] or 0)
    (job.status, job.status_reason, job.scheduled_at, job.started_at, job.stopped_at, job.blocked_reason,
     job.blocked_since, summary_at) = old
    job.rendered = None
    if job.parent is None:
        job.summary_at = summary_at
    else:
        job.parent.summary_at = summary_at
    if recorded:
        store.timeline.pop()


def _unindex(store: Any, job: Job, status: str) -> None:
    parent = job.parent
    if parent is None:
        queue = store.queues.get(job.queue_arn)
        if queue is not None:
            queue.by_status[status].discard(job.seq)
    elif parent.summary is not None:
        parent.summary[status] -= 1
        parent.rendered = None
    job.status = None


def empty_summary() -> dict[str, int]:
    return {status: 0 for status in STATUSES}


def timeline_rows(backend: Any) -> list[dict[str, Any]]:
    return [
        {"job_id": job_id, "job_name": name, "from": frm, "to": to, "time_ms": at, "reason": reason}
        for at, job_id, name, frm, to, reason in backend.jobs.timeline
    ]
