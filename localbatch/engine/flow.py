"""A job's way from SUBMITTED to RUNNABLE and its consequences once it ends
(spec §2.1-§2.5, §2.8, §1.3).

* `submit` stores a SUBMITTED job and schedules its evaluation
  (`submitted_seconds` later, default 0).
* `evaluate` resolves dependencies (§2.3): FAILED at once if one already
  failed, PENDING while any is unfinished, else RUNNABLE; an array parent
  instead goes PENDING and spawns its children in the next event (§2.4).
* `finished` runs after any move to SUCCEEDED/FAILED: timers go, dependent
  jobs are released or failed ("Dependent Job failed"), an array parent ends
  once all its children have, and a dispatch pass is requested. It walks
  chains iteratively: a failed child of a 10,000-child SEQUENTIAL array fails
  every later child without deep recursion.
* `cancel_job` / `terminate_job` follow the table of §2.8;
  `fail_jobs_of_queue` is the fate of a deleted queue's jobs (§1.3).
"""

from __future__ import annotations

from typing import Any

from localbatch.engine import executors
from localbatch.engine.jobs import (
    ACTIVE,
    FAILED,
    PENDING,
    RUNNABLE,
    STARTING,
    SUBMITTED,
    SUCCEEDED,
    TERMINAL,
    Job,
    child_key,
)
from localbatch.engine.lifecycle import create, create_runnable, empty_summary, transition
from localbatch.engine.schedulers import fair_share, job_event, pass_in_call, request_dispatch

DEPENDENT_FAILED = "Dependent Job failed"
ARRAY_CHILD_FAILED = "Array Child Job failed"
QUEUE_DELETED = "Job queue deleted"


def submit(backend: Any, job: Job, *, in_call: bool = False) -> None:
    """Store a SUBMITTED job and have it evaluated.

    `in_call`: SubmitJob through the controller, which ran every event due
    before the call and runs the due events first again before anything
    else touches the backend. The evaluation may then run at once (see
    `_next_in_line`)."""
    delay = round(backend.config.submitted_seconds * 1000)
    if in_call and delay == 0 and _next_in_line(backend, job):
        # Stored, then the `evaluate` of a job that waits for nothing, the
        # pass it asks for and the start that may follow, each at once (see
        # _next_in_line).
        create_runnable(backend, job)
        pass_in_call(backend, job)
        if job.status == STARTING:
            executors.running_in_call(backend, job)
        return
    create(backend, job, SUBMITTED)
    if job.spec.share_identifier is not None:
        fair_share.job_submitted(backend, job)
    # Not journaled: the job is new, so a rollback takes it out of the store whole.
    job.event = job_event(backend, delay, evaluate, backend, job)


def _next_in_line(backend: Any, job: Job) -> bool:
    """Whether the evaluation of a plain job just submitted in a call can
    run now instead of as the event it would be.

    It can when that event would be the next step of the engine, at this
    engine time, with nothing observing the engine in between: no other
    event is due yet, the job waits for nothing, and no snapshot follows
    queue positions after each event (a job passing through RUNNABLE within
    one millisecond moves the others' positions). Then the timeline is the
    same, move for move and millisecond for millisecond, and each
    submission saves the events of its evaluation, its pass and (with no
    STARTING dwell) its start. (Engine code that submits several jobs
    without running events in between, as the engine tests do, must not:
    there the evaluations run after every job is stored.)
    """
    spec = job.spec
    if job.dependencies or spec.share_identifier is not None or spec.array_size is not None:
        return False
    return spec.fail_reason is None and backend.next_step_is_now()


def evaluate(backend: Any, job: Job) -> None:
    backend.journal.set(job, "event", None)
    _evaluate(backend, job)


def _evaluate(backend: Any, job: Job) -> None:
    if job.status != SUBMITTED:
        return
    if job.spec.fail_reason is not None:
        fail_job(backend, job, job.spec.fail_reason)
        return
    if job.dependencies:
        waits = _unfinished(backend, job)
        if waits is None:
            return  # failed
        if waits:
            transition(backend, job, PENDING)
            _wait_for(backend, job, waits)
            return
    if _proceed(backend, job):
        finished(backend, job)


def _unfinished(backend: Any, job: Job) -> list[tuple[Job, str]] | None:
    """What a SUBMITTED job waits for (spec §2.3); None if it failed instead."""
    waits: list[tuple[Job, str]] = []
    for dependency in job.dependencies:
        if dependency.get("type") == "SEQUENTIAL":
            continue  # between this array's own children
        target = backend.jobs.get(dependency["jobId"])
        if target is None:
            continue
        if dependency.get("type") == "N_TO_N" and job.is_array_parent and target.is_array_parent:
            if target.children is None:
                if target.status in TERMINAL:
                    fail_job(backend, job, DEPENDENT_FAILED)  # it ended without ever spawning children
                    return None
                waits.append((target, "spawned"))
            continue  # child i waits for the target's child i
        if target.status == FAILED:
            fail_job(backend, job, DEPENDENT_FAILED)
            return None
        if target.status != SUCCEEDED:
            waits.append((target, "done"))
    return waits


def _wait_for(backend: Any, job: Job, waits: list[tuple[Job, str]]) -> None:
    journal = backend.journal
    journal.set(job, "waiting_on", len(waits))
    for target, kind in waits:
        if target.dependents is None:
            journal.set(target, "dependents", [])
        journal.append(target.dependents, (job, kind))


def _proceed(backend: Any, job: Job) -> bool:
    """Dependencies done: RUNNABLE, or spawn children. True if the job ended instead."""
    if job.cancel_reason is not None:
        transition(backend, job, FAILED, job.cancel_reason)
        return True
    if job.is_array_parent:
        if job.status == SUBMITTED:
            transition(backend, job, PENDING)
        backend.journal.set(job, "event", job_event(backend, 0, spawn_children, backend, job))
        return False
    transition(backend, job, RUNNABLE)
    request_dispatch(backend)
    return False


# -- array jobs (spec §2.4) ----------------------------------------------------------------


def spawn_children(backend: Any, parent: Job) -> None:
    journal = backend.journal
    journal.set(parent, "event", None)
    if parent.status != PENDING or parent.children is not None:
        return
    now = backend.now_ms
    children: list[Job] = []
    journal.set(parent, "summary", empty_summary())
    journal.set(parent, "summary_at", now)
    journal.set(parent, "children", children)
    parent.rendered = None  # its summary now shows arrayProperties.statusSummary
    peers = [
        backend.jobs.get(d["jobId"]) for d in parent.dependencies if d.get("type") == "N_TO_N" and d.get("jobId")
    ]
    peers = [p for p in peers if p is not None and p.children is not None]
    ended: list[Job] = []
    for index in range(parent.spec.array_size):
        child = Job(backend.next_seq(), f"{parent.id}:{index}", f"{parent.arn}:{index}", parent.name,
                    parent.queue_arn, parent.spec, now)
        child.parent = parent
        child.index = index
        child.key = child_key(parent, index)
        children.append(child)
        create(backend, child, PENDING)
        waits = [(peer.children[index], "done") for peer in peers if index < len(peer.children)]
        if parent.spec.sequential and index > 0:
            waits.append((children[index - 1], "done"))
        if any(target.status == FAILED for target, _ in waits):
            transition(backend, child, FAILED, DEPENDENT_FAILED)
            ended.append(child)
            continue
        waits = [(target, kind) for target, kind in waits if target.status != SUCCEEDED]
        if waits:
            _wait_for(backend, child, waits)
        else:
            transition(backend, child, RUNNABLE)
    for waiter, kind in parent.dependents or ():
        if kind == "spawned" and waiter.status not in TERMINAL:
            _release(backend, waiter, ended)
    for child in ended:
        finished(backend, child)
    request_dispatch(backend)


def _release(backend: Any, waiter: Job, ended: list[Job]) -> None:
    """One dependency of `waiter` is satisfied."""
    left = waiter.waiting_on - 1
    backend.journal.set(waiter, "waiting_on", left)
    if left == 0 and _proceed(backend, waiter):
        ended.append(waiter)


def _array_outcome(parent: Job) -> tuple[str, str | None] | None:
    summary = parent.summary
    if summary is None or summary[SUCCEEDED] + summary[FAILED] < parent.spec.array_size:
        return None
    if summary[FAILED] == 0:
        return SUCCEEDED, None
    return FAILED, parent.cancel_reason or ARRAY_CHILD_FAILED


# -- multi-node (spec §2.5) --------------------------------------------------------------------


def node_container(spec: Any, index: int) -> dict[str, Any] | None:
    """The container of node `index`: the last node range covering it wins,
    and nodeOverrides (stored as extra ranges in `spec.node_overrides`) win
    over the job definition's ranges."""
    from localbatch.api.job_definitions import node_range

    nodes = spec.node_properties
    found = None
    for group in list(nodes["nodeRangeProperties"]) + list(spec.node_overrides or ()):
        first, last = node_range(group["targetNodes"], nodes["numNodes"])
        if first <= index <= last:
            found = group.get("container") or _essential(group.get("ecsProperties")) or found
    return found


def _essential(ecs: dict[str, Any] | None) -> dict[str, Any] | None:
    if not ecs:
        return None
    containers = ecs["taskProperties"][0]["containers"]
    return next((c for c in containers if c.get("essential", True)), containers[0])


# -- the end of a job ------------------------------------------------------------------------


def finished(backend: Any, job: Job) -> None:
    """Consequences of `job` having reached SUCCEEDED or FAILED."""
    stack = [job]
    while stack:
        done = stack.pop()
        _drop_timers(backend, done)
        if done.spec.share_identifier is not None:
            fair_share.job_finished(backend, done)
        ended: list[Job] = []
        for waiter, kind in done.dependents or ():
            if waiter.status in TERMINAL:
                continue
            if kind == "spawned":
                if done.children is None:  # ended without ever spawning children
                    _fail_waiter(backend, waiter, ended)
            elif done.status == FAILED:
                _fail_waiter(backend, waiter, ended)
            else:
                _release(backend, waiter, ended)
        parent = done.parent
        if parent is not None and parent.status not in TERMINAL:
            outcome = _array_outcome(parent)
            if outcome is not None:
                transition(backend, parent, *outcome)
                ended.append(parent)
        stack.extend(reversed(ended))
    request_dispatch(backend)


def _fail_waiter(backend: Any, waiter: Job, ended: list[Job]) -> None:
    if waiter.is_array_parent and waiter.children is not None:
        return  # its children carry their own dependencies
    transition(backend, waiter, FAILED, waiter.cancel_reason or DEPENDENT_FAILED)
    ended.append(waiter)


def _drop_timers(backend: Any, job: Job) -> None:
    if job.event is not None:
        backend.events.cancel(job.event)
        backend.journal.set(job, "event", None)
    if job.timeout_event is not None:
        backend.events.cancel(job.timeout_event)
        backend.journal.set(job, "timeout_event", None)


def fail_job(backend: Any, job: Job, reason: str) -> None:
    """A job that holds no capacity (SUBMITTED, PENDING, RUNNABLE) fails now."""
    transition(backend, job, FAILED, reason)
    if job.is_multinode:
        for node in job.children or ():
            if node.status not in TERMINAL:  # RUNNABLE again since a retried attempt
                transition(backend, node, FAILED, reason)
    finished(backend, job)


# -- CancelJob / TerminateJob (spec §2.8) --------------------------------------------------------


def cancel_job(backend: Any, job: Job, reason: str, *, terminate: bool = False) -> None:
    """CancelJob (and TerminateJob, with `terminate`) of one job id."""
    if job.is_node:
        job = job.parent
    if job.status in TERMINAL:
        return
    journal = backend.journal
    if job.is_array_parent:
        journal.set(job, "is_cancelled", True)
        journal.set(job, "cancel_reason", reason)
        job.rendered = None
        if job.children is None:
            if job.waiting_on == 0:  # children not spawned yet: nothing left to wait for
                fail_job(backend, job, reason)
            return
        for child in job.children:
            cancel_job(backend, child, reason, terminate=terminate)
        return
    if job.status in ACTIVE:
        if terminate:
            executors.terminate(backend, job, reason)
        return  # CancelJob does not stop a job that started
    journal.set(job, "is_cancelled", True)
    job.rendered = None
    if job.status == PENDING and job.waiting_on > 0:
        journal.set(job, "cancel_reason", reason)  # FAILED once its dependencies are done
        return
    fail_job(backend, job, reason)


def fail_jobs_of_queue(backend: Any, queue_arn: str) -> None:
    """Spec §1.3 [proposed]: a deleted queue's unfinished jobs become FAILED,
    "Job queue deleted"; STARTING/RUNNING ones are terminated. Call it when the
    queue leaves the table (job_queues._remove_job_queue)."""
    store = backend.jobs
    jobs = store.queues.get(queue_arn)
    if jobs is None:
        return
    for seq in list(jobs.listed):
        job = store.by_seq[seq]
        if job.status not in TERMINAL:
            _force_fail(backend, job, QUEUE_DELETED)


def _force_fail(backend: Any, job: Job, reason: str) -> None:
    if job.status in TERMINAL:
        return
    if job.is_array_parent:
        backend.journal.set(job, "cancel_reason", reason)
        if job.children is None:
            fail_job(backend, job, reason)
            return
        for child in job.children:
            _force_fail(backend, child, reason)
        return
    if job.status in ACTIVE:
        executors.terminate(backend, job, reason)
    else:
        fail_job(backend, job, reason)

