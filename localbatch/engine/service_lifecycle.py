"""The service-job state machine as data (spec §4.3), the one function that
moves a job, and everything that happens to a job between SubmitServiceJob
and its end: evaluation, dispatch (SCHEDULED), STARTING, RUNNING, the end of
an attempt (SageMaker Completed / Failed, timeouts, MaxRuntimeInSeconds),
retries (`retryStrategy.evaluateOnExit[].onStatusReason`), preemption
(spec §3.5) and termination (spec §4.4, §2.9, §1.3).

Dispatch passes are events requested only when something a scheduler reads
changed (a job became or stopped being RUNNABLE, capacity was given back, a
priority, a quota share, a service environment or a queue changed); at most
one is pending at a time. A submitted job that becomes RUNNABLE behind the
head of its quota share or queue changes nothing a scheduler reads: it asks
for no pass (see `arrived`), and a new head asks for a pass of its queue
only. Capacity is held from SCHEDULED (spec §3.5).

Schedulers (`service_scheduler`): quota_share.py for queues with a quota-share
policy, service_fair_share.py for queues with a fair-share policy,
service_fifo.py for the others.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from localbatch.api._common import clone
from localbatch.engine import sagemaker
from localbatch.engine.executors import match_rule, retry_pattern
from localbatch.engine.schedulers import quota_share, service_fair_share, service_fifo
from localbatch.engine.service_jobs import (
    FAILED,
    IN_USE,
    NUM_INSTANCES,
    RUNNABLE,
    RUNNING,
    SCHEDULED,
    STARTING,
    SUBMITTED,
    SUCCEEDED,
    TERMINAL,
    ServiceAttempt,
    ServiceJob,
)
from localbatch.errors import LocalBatchError

TRANSITIONS: dict[str | None, frozenset[str]] = {
    None: frozenset({SUBMITTED}),
    SUBMITTED: frozenset({RUNNABLE, FAILED}),
    RUNNABLE: frozenset({SCHEDULED, FAILED}),  # FAILED: terminated, time limit, CreateTrainingJob rejected
    SCHEDULED: frozenset({STARTING, RUNNABLE, FAILED}),  # RUNNABLE: preempted
    STARTING: frozenset({RUNNING, RUNNABLE, FAILED}),
    RUNNING: frozenset({SUCCEEDED, FAILED, RUNNABLE}),  # RUNNABLE: retried or preempted
    SUCCEEDED: frozenset(),
    FAILED: frozenset(),
}

TIMED_OUT = "Job attempt duration exceeded timeout"
QUEUE_DELETED = "Job queue deleted"
SHARE_DELETED = "Quota share deleted"
PREEMPTION_EXHAUSTED = "Terminated after exceeding preemptionRetriesBeforeTermination"
RECENT_PREEMPTIONS = 5


# == transition ===================================================================


def transition(backend: Any, job: ServiceJob, to: str, reason: str | None = None) -> None:
    """Move `job` to `to` at engine time with statusReason `reason` (None clears it)."""
    frm = job.status
    if to not in TRANSITIONS[frm]:
        raise LocalBatchError(f"localbatch bug: service job {job.id} cannot move from {frm} to {to}")
    now = backend.now_ms
    store = backend.service_jobs
    old = (frm, job.status_reason, job.scheduled_at, job.started_at, job.stopped_at, job.runnable_since,
           job.blocked_reason, job.blocked_since, job.head_since, job.front)
    store.moves += 1
    job.status = to
    job.status_reason = reason
    job.blocked_reason = job.blocked_since = None
    if to == SCHEDULED:
        job.scheduled_at = now
    elif to == RUNNING:
        job.started_at = now
    elif to in TERMINAL:
        job.stopped_at = now
    # The indexes (the one place besides _undo that edits them; every move is hot).
    queue = store.queues[job.queue_arn]  # ServiceJobStore.add made it
    by_status = queue.by_status
    if frm is not None:
        by_status[frm].discard(job.seq)
    by_status[to].add(job.seq)
    if to == RUNNABLE:
        job.runnable_since = now
        (queue.runnable if job.quota_share is None else store.share(job.quota_share)).add(job)
    elif frm == RUNNABLE:
        job.head_since = job.front = None
        (queue.runnable if job.quota_share is None else store.share(job.quota_share)).discard(job)
    if to in IN_USE:
        queue.in_use[job.id] = job
    elif frm in IN_USE:
        queue.in_use.pop(job.id, None)
    if to in TERMINAL and queue.fair_share is not None:
        service_fair_share.job_ended(backend, queue, job)  # journals itself
    recorded = backend.config.record_timeline
    if recorded:
        # The share's usage dict as it is now: usage dicts are replaced, never
        # edited (hold/release), so keeping the reference keeps the value.
        usage = queue.share_usage.get(job.quota_share) if job.quota_share else None
        store.timeline.append((now, job.id, job.name, frm, to, reason, job.quota_share, usage))
    backend.journal.record(_undo, store, job, old, to, recorded)


def _undo(store: Any, job: ServiceJob, old: tuple, to: str, recorded: bool) -> None:
    frm = old[0]
    queue = store.queue(job.queue_arn)
    queue.by_status[to].discard(job.seq)
    if to == RUNNABLE:
        store.runnable_of(job).discard(job)
    if to in IN_USE and frm not in IN_USE:
        queue.in_use.pop(job.id, None)
    if frm is not None:
        queue.by_status[frm].add(job.seq)
        if frm == RUNNABLE:
            store.runnable_of(job).add(job)
        if frm in IN_USE:
            queue.in_use[job.id] = job
    (job.status, job.status_reason, job.scheduled_at, job.started_at, job.stopped_at, job.runnable_since,
     job.blocked_reason, job.blocked_since, job.head_since, job.front) = old
    if recorded:
        store.timeline.pop()


def reprioritise(backend: Any, job: ServiceJob, priority: int) -> None:
    """UpdateServiceJob: a new schedulingPriority, used from the next pass (spec §4.4)."""
    store = backend.service_jobs
    waiting = job.status == RUNNABLE
    old_key = job.key
    if waiting:
        store.runnable_of(job).discard(job, old_key)
    backend.journal.set(job, "priority", priority)
    backend.journal.set(job, "key", job.dispatch_key())
    if waiting:
        store.runnable_of(job).add(job)
        backend.journal.record(_rekey, store, job, old_key)
    request_dispatch(backend)


def _rekey(store: Any, job: ServiceJob, old_key: int) -> None:
    # Runs before the journal restores `priority`: drop the new key, put back the old.
    runnable = store.runnable_of(job)
    runnable.discard(job)
    runnable.add(job, old_key)


# == events and dispatch passes =====================================================


def service_event(backend: Any, delay_ms: int, action: Callable[..., Any], *args: Any) -> list:
    return backend.events.schedule(backend.now_ms + delay_ms, _marked, backend, action, args)


def _marked(backend: Any, action: Callable[..., Any], args: tuple) -> None:
    # Neither the container engine's hook nor ours needs to look for a
    # configuration change after a job event.
    backend.service_jobs.own_event = True
    backend.jobs.own_event = True
    action(*args)


def request_dispatch(backend: Any, queue_arn: str | None = None) -> None:
    """Have a pass run at the current engine time, over every service queue or
    (`queue_arn`) over that one only: only arrived() asks for one queue, when
    every other stands at a fixed point."""
    store = backend.service_jobs
    journal = backend.journal
    if store.dispatch_event is None:
        journal.set(store, "dispatch_event", service_event(backend, 0, dispatch_pass, backend))
        journal.set(store, "dirty", None if queue_arn is None else {queue_arn})
    elif store.dirty is not None and queue_arn not in store.dirty:
        journal.set(store, "dirty", None if queue_arn is None else {*store.dirty, queue_arn})


def after_event(backend: Any) -> None:
    """Backend hook: a resource event (quota share, service environment or queue
    update finishing) gets a dispatch pass if it changed what a scheduler reads."""
    store = backend.service_jobs
    if store.container_fronts:
        from localbatch.api.snapshots import follow_container_fronts

        follow_container_fronts(backend)
    if store.own_event:
        store.own_event = False
        return
    if store.queues and store.versions_seen != _versions(backend):
        request_dispatch(backend)


def _versions(backend: Any) -> tuple[int, int, int, int]:
    """Changes so far to stored data (any resource's) and to the three tables a
    service scheduler reads. Equal to what the last pass recorded: nothing it
    read has changed since, which every arrival between passes and every
    event asks (four ints, not every queue, environment and share's data).
    Any change counts, even one a pass would read the same way: a pass too
    many is only slower."""
    return (
        backend.data_version,
        backend.job_queues.version,
        backend.service_environments.version,
        backend.quota_shares.version,
    )


def service_queues_in_order(backend: Any) -> list[Any]:
    queues = [q for q in backend.job_queues if q.data.get("jobQueueType") == "SAGEMAKER_TRAINING"]
    return sorted(queues, key=lambda q: (-q.data.get("priority", 0), q.seq))


def dispatch_pass(backend: Any) -> None:
    store = backend.service_jobs
    journal = backend.journal
    dirty = store.dirty
    journal.set(store, "dispatch_event", None)
    journal.set(store, "dirty", None)
    moves = store.moves
    for queue in service_queues_in_order(backend):
        jobs = store.queues.get(queue.arn)
        if jobs is None or queue.data.get("status") in ("DELETING", "DELETED"):
            continue
        if dirty is not None and queue.arn not in dirty:
            continue  # settled, and nothing it reads changed
        scheduler = service_scheduler(backend, queue, jobs)
        seen = scheduler.dispatch(backend, queue, jobs)
        scheduler.refresh_front(backend, queue, jobs, seen)
    journal.set(store, "versions_seen", _versions(backend))
    journal.set(store, "settled", store.moves == moves)


def service_scheduler(backend: Any, queue: Any, jobs: Any) -> Any:
    """The scheduler module of a service queue. A queue never changes kind (a
    policy is only replaced by one of its kind, spec §1.9), and a fair-share
    queue's first job installed its share book."""
    if jobs is not None and jobs.fair_share is not None:
        return service_fair_share
    return quota_share if quota_share.is_quota_queue(backend, queue) else service_fifo


# == capacity ==========================================================================


def _add_units(backend: Any, table: dict, key: Any, units: dict[str, int], sign: int) -> None:
    current = table.get(key) or {}
    new = dict(current)
    for unit, n in units.items():
        new[unit] = new.get(unit, 0) + sign * n
    backend.journal.put(table, key, new)


def hold(backend: Any, job: ServiceJob, se_arn: str, se_units: dict[str, int]) -> None:
    store = backend.service_jobs
    queue = store.queue(job.queue_arn)
    _add_units(backend, store.se_used, se_arn, se_units, 1)
    backend.journal.set(queue, "usage", {**queue.usage})
    for unit, n in job.units.items():
        queue.usage[unit] = queue.usage.get(unit, 0) + n
    if job.quota_share is not None:
        _add_units(backend, queue.share_usage, job.quota_share, job.units, 1)
    elif job.share_identifier is not None:
        _add_units(backend, queue.share_usage, job.share_identifier, job.units, 1)
        service_fair_share.job_held(backend, queue, job)
    backend.journal.set(job, "held", (se_arn, se_units))


def release(backend: Any, job: ServiceJob) -> None:
    if job.held is None:
        return
    store = backend.service_jobs
    queue = store.queue(job.queue_arn)
    se_arn, se_units = job.held
    _add_units(backend, store.se_used, se_arn, se_units, -1)
    usage = {**queue.usage}
    for unit, n in job.units.items():
        usage[unit] = usage.get(unit, 0) - n
    backend.journal.set(queue, "usage", usage)
    if job.quota_share is not None:
        _add_units(backend, queue.share_usage, job.quota_share, job.units, -1)
    elif job.share_identifier is not None:
        _add_units(backend, queue.share_usage, job.share_identifier, job.units, -1)
        service_fair_share.job_released(backend, queue, job)
    backend.journal.set(job, "held", None)


# == submission ========================================================================


def submit(backend: Any, job: ServiceJob, *, in_call: bool = False) -> None:
    """Store a SUBMITTED job and have it evaluated.

    `in_call`: SubmitServiceJob through the controller, which ran every event
    due before the call and runs the due events first again before anything
    else touches the backend. When no event is due now, the evaluation event
    would be the engine's next step at this very time, so it runs at once:
    the same timeline, move for move, one event fewer per submission (as
    engine/flow.py does for container jobs)."""
    store = backend.service_jobs
    store.add(job)
    if job.share_identifier is not None:
        service_fair_share.job_submitted(backend, store.queues[job.queue_arn], job)
    transition(backend, job, SUBMITTED)
    delay = round(backend.config.submitted_seconds * 1000)
    if in_call and delay == 0 and backend.next_step_is_now():
        _runnable(backend, job)
        return
    # Not journaled: the job is new, so a rollback takes it out of the store whole.
    job.event = service_event(backend, delay, _evaluate, backend, job)


def _evaluate(backend: Any, job: ServiceJob) -> None:
    backend.journal.set(job, "event", None)
    _runnable(backend, job)


def _runnable(backend: Any, job: ServiceJob) -> None:
    if job.status == SUBMITTED:
        transition(backend, job, RUNNABLE)
        arrived(backend, job)


def arrived(backend: Any, job: ServiceJob) -> None:
    """A submitted job just became RUNNABLE: request a pass unless it would
    provably change nothing.

    It would not when the last pass moved no job (every scheduler stood at a
    fixed point), nothing a scheduler reads changed since (no pass pending,
    the same configuration), and the job waits behind the head of its quota
    share or queue: schedulers only look at heads and at the jobs holding
    capacity. Then only frontOfQueue can change, and the queue's scheduler
    module updates it without a pass (usually by seeing the job is behind
    the front). This keeps a submit's cost flat however many jobs wait.

    On a fair-share queue the candidates are each share's head and the order
    of the shares moves with the clock (usage decays), so the last pass over
    the queue is known to be a fixed point only at the engine time it ran:
    an arrival at a later time asks for a pass, and so does a new head of
    its share.
    """
    store = backend.service_jobs
    if store.dispatch_event is not None or not store.settled or store.versions_seen != _versions(backend):
        request_dispatch(backend)
        return
    jobs = store.queues[job.queue_arn]
    if job.share_identifier is not None:
        # A fair share's order moves with the clock (usage decays): the last
        # pass's fixed point holds only at the time it ran. A new head of its
        # share changes that share's candidate, and so perhaps the order.
        if jobs.passed_at != backend.now_ms:
            request_dispatch(backend)
            return
        if jobs.fair_share.shares[job.share_identifier].waiting.min() == job.key:
            request_dispatch(backend, job.queue_arn)
            return
    else:
        runnable = (jobs.runnable if job.quota_share is None else store.shares[job.quota_share]).keys
        if runnable.min() == job.key:  # the new head of its share or queue
            request_dispatch(backend, job.queue_arn)  # the others stay at their fixed point
            return
    queue = backend.job_queues.by_arn.get(job.queue_arn)
    if queue is None or queue.data.get("status") in ("DELETING", "DELETED"):
        return  # a pass would not look at it either
    # A queue never changes kind (a policy is only replaced by one of its kind,
    # spec §1.9), so the job says which scheduler the pass would use.
    if job.share_identifier is not None:
        scheduler: Any = service_fair_share
    else:
        scheduler = service_fifo if job.quota_share is None else quota_share
    scheduler.front_arrival(backend, queue, jobs, job)


# == dispatch: SCHEDULED, STARTING, RUNNING ==============================================


def dispatch_job(backend: Any, job: ServiceJob, se_arn: str, se_units: dict[str, int]) -> bool:
    """Batch calls CreateTrainingJob. False if SageMaker rejected the payload (the job FAILED)."""
    error = sagemaker.validation_error(job.params["serviceRequestPayload"])
    if error is None and not job.units:
        error = "ResourceConfig must give InstanceType and InstanceCount, or InstanceGroups"
    if error is not None:
        fail_job(backend, job, sagemaker.validation_failed(error))
        return False
    name = sagemaker.training_job_name(job.payload, job.name, backend.ids.hex(sagemaker.HEX_LENGTH))
    arn = sagemaker.training_job_arn(backend.region, backend.account_id, name)
    hold(backend, job, se_arn, se_units)
    backend.journal.set(job, "attempts", [*job.attempts, ServiceAttempt(arn)])  # copy-on-write: a few at most
    transition(backend, job, SCHEDULED)
    delay = round(backend.config.service_scheduled_seconds * 1000)
    backend.journal.set(job, "event", service_event(backend, delay, _now_starting, backend, job))
    return True


def _now_starting(backend: Any, job: ServiceJob) -> None:
    backend.journal.set(job, "event", None)
    if job.status != SCHEDULED:
        return
    transition(backend, job, STARTING)
    delay = round(backend.config.service_starting_seconds * 1000)
    backend.journal.set(job, "event", service_event(backend, delay, _now_running, backend, job))


@dataclass(frozen=True)
class ServiceJobRun:
    """A service job as SageMaker runs it, handed to an `lb.on_job(run=...)` rule."""

    job_id: str
    job_name: str
    job_arn: str
    job_queue: str
    attempt: int
    training_job_name: str
    training_job_arn: str
    payload: dict[str, Any]
    quota_share_name: str | None = None
    share_identifier: str | None = None
    scheduling_priority: int | None = None
    tags: dict[str, str] = field(default_factory=dict)


def _job_run(job: ServiceJob) -> ServiceJobRun:
    arn = job.attempts[-1].training_job_arn
    return ServiceJobRun(
        job_id=job.id,
        job_name=job.name,
        job_arn=job.arn,
        job_queue=job.queue_arn,
        attempt=len(job.attempts),
        training_job_name=arn.rpartition("/")[2],
        training_job_arn=arn,
        payload=clone(job.payload or {}),  # jobs sent the same payload share job.payload
        quota_share_name=job.params.get("quotaShareName"),
        share_identifier=job.params.get("shareIdentifier"),
        scheduling_priority=job.priority,
        tags=dict(job.tags or {}),
    )


def _now_running(backend: Any, job: ServiceJob) -> None:
    journal = backend.journal
    journal.set(job, "event", None)
    if job.status != STARTING:
        return
    journal.set(job.attempts[-1], "started_at", backend.now_ms)
    transition(backend, job, RUNNING)
    rule = match_rule(backend, job)
    duration = backend.config.job_duration if rule is None else rule.duration
    exit_code, reason = (0, None) if rule is None else (rule.exit_code, rule.reason)
    if rule is not None and rule.run is not None:
        result = rule.run(_job_run(job))
        if result is not None and (isinstance(result, bool) or not isinstance(result, int)):
            raise LocalBatchError(f"a job rule's run() must return an int exit code (or None for 0), got {result!r}")
        exit_code = result or 0
    journal.set(job, "outcome", (exit_code, reason))
    attempt = len(job.attempts)
    limits = []
    seconds = (job.params.get("timeoutConfig") or {}).get("attemptDurationSeconds")
    if seconds:
        limits.append((seconds * 1000, TIMED_OUT, False))
    runtime = sagemaker.max_runtime_seconds(job.payload)
    if runtime:
        limits.append((runtime * 1000, sagemaker.MAX_RUNTIME_EXCEEDED, True))
    if limits:
        delay, status_reason, retry = min(limits)
        timer = service_event(backend, delay, _limit_reached, backend, job, attempt, status_reason, retry)
        journal.set(job, "timeout_event", timer)
    if duration is not None:
        journal.set(job, "event", service_event(backend, round(duration * 1000), _ran_out, backend, job))


def _ran_out(backend: Any, job: ServiceJob) -> None:
    backend.journal.set(job, "event", None)
    if job.status == RUNNING:
        exit_code, reason = job.outcome or (0, None)
        end_attempt(backend, job, exit_code, reason)


def _limit_reached(backend: Any, job: ServiceJob, attempt: int, status_reason: str, retry: bool) -> None:
    backend.journal.set(job, "timeout_event", None)
    if job.status == RUNNING and len(job.attempts) == attempt:
        end_attempt(backend, job, 1, status_reason, retry=retry, verbatim=True)


# == the end of an attempt ================================================================


def failure_reason(exit_code: int, reason: str | None) -> str:
    if exit_code == 0:
        return sagemaker.COMPLETED
    return sagemaker.failed(reason or f"AlgorithmError: training exited with code {exit_code}")


def end_attempt(
    backend: Any, job: ServiceJob, exit_code: int, reason: str | None, *, retry: bool = True, verbatim: bool = False
) -> None:
    """The SageMaker training job ended: Completed (exit code 0) or Failed with `reason`."""
    journal = backend.journal
    status_reason = reason if verbatim else failure_reason(exit_code, reason)
    attempt = job.attempts[-1]
    _close(backend, job, attempt, status_reason)
    if exit_code != 0 and not verbatim and sagemaker.is_capacity_failure(status_reason):
        # Spec §4.1, §4.3 [proposed]: SageMaker had no instances. The attempt
        # stays on record, the job waits again in its original place (its
        # dispatch key never changed) and the retry count is untouched.
        transition(backend, job, RUNNABLE)
        request_dispatch(backend)
        return
    journal.set(job, "tries", job.tries + 1)
    if exit_code == 0:
        to = SUCCEEDED
    elif retry and should_retry(job, status_reason):
        to = RUNNABLE
    else:
        to = FAILED
    transition(backend, job, to, None if to == RUNNABLE else status_reason)
    request_dispatch(backend)


def _close(backend: Any, job: ServiceJob, attempt: ServiceAttempt, status_reason: str) -> None:
    journal = backend.journal
    journal.set(attempt, "stopped_at", backend.now_ms)
    journal.set(attempt, "status_reason", status_reason)
    for slot in ("event", "timeout_event"):
        entry = getattr(job, slot)
        if entry is not None:
            backend.events.cancel(entry)
            journal.set(job, slot, None)
    journal.set(job, "outcome", None)
    release(backend, job)


def should_retry(job: ServiceJob, status_reason: str) -> bool:
    """Spec §4.1: `attempts` tries in all; the first matching evaluateOnExit entry decides."""
    strategy = job.params.get("retryStrategy")
    if not strategy or job.tries >= (strategy.get("attempts") or 1):
        return False
    for entry in strategy.get("evaluateOnExit") or ():
        pattern = entry.get("onStatusReason")
        if pattern is None or retry_pattern(pattern).fullmatch(status_reason):
            return (entry.get("action") or "RETRY").upper() == "RETRY"
    return True


def fail_job(backend: Any, job: ServiceJob, reason: str, *, terminated: bool = False) -> None:
    """End a job now, whatever it holds (capacity is given back, timers go)."""
    if job.status in TERMINAL:
        return
    if terminated:
        backend.journal.set(job, "is_terminated", True)
    if job.status in IN_USE:
        _close(backend, job, job.attempts[-1], reason)
    elif job.event is not None:
        backend.events.cancel(job.event)
        backend.journal.set(job, "event", None)
    transition(backend, job, FAILED, reason)
    request_dispatch(backend)


def terminate(backend: Any, job: ServiceJob, reason: str) -> None:
    """TerminateServiceJob (spec §4.4): FAILED, isTerminated, never retried."""
    fail_job(backend, job, reason, terminated=True)


# == preemption (spec §3.5) =====================================================================


def preempt(backend: Any, job: ServiceJob, reason: str) -> None:
    """Stop the SageMaker job of a SCHEDULED/STARTING/RUNNING job to make room."""
    journal = backend.journal
    attempt = job.attempts[-1]
    journal.set(attempt, "preempted", True)
    _close(backend, job, attempt, reason)
    count = job.preempted_count + 1
    journal.set(job, "preempted_count", count)
    journal.set(job, "recent_preempted", [attempt, *job.recent_preempted][:RECENT_PREEMPTIONS])
    limit = (job.params.get("preemptionConfiguration") or {}).get("preemptionRetriesBeforeTermination")
    if limit is not None and count > limit:
        transition(backend, job, FAILED, PREEMPTION_EXHAUSTED)
    else:
        transition(backend, job, RUNNABLE, reason)
    request_dispatch(backend)


# == the end of a queue or quota share ============================================================


def fail_jobs_of_queue(backend: Any, queue_arn: str) -> None:
    """Spec §1.3 [proposed]: a deleted queue's unfinished service jobs FAILED,
    "Job queue deleted"; those holding capacity are terminated."""
    _fail_where(backend, queue_arn, None, QUEUE_DELETED)


def fail_jobs_of_share(backend: Any, share: Any) -> None:
    """Spec §1.7: deleting a quota share terminates all its jobs."""
    _fail_where(backend, share.data["jobQueueArn"], share.arn, SHARE_DELETED)


def _fail_where(backend: Any, queue_arn: str, share_arn: str | None, reason: str) -> None:
    store = backend.service_jobs
    jobs = store.queues.get(queue_arn)
    if jobs is None:
        return
    for seq in list(jobs.listed):
        job = store.by_seq[seq]
        if job.status not in TERMINAL and (share_arn is None or job.quota_share == share_arn):
            fail_job(backend, job, reason, terminated=job.status in IN_USE)


# == test control ========================================================================================


def complete(backend: Any, job: ServiceJob, exit_code: int, reason: str | None) -> None:
    """`lb.complete`: the RUNNING training job ends now, Completed (0) or Failed with `reason`."""
    if job.status != RUNNING:
        raise LocalBatchError(f"complete({job.id!r}): the service job is {job.status}, not RUNNING")
    end_attempt(backend, job, exit_code, reason)


def timeline_rows(backend: Any) -> list[dict[str, Any]]:
    rows = []
    for at, job_id, name, frm, to, reason, share_arn, usage in backend.service_jobs.timeline:
        row = {"job_id": job_id, "job_name": name, "from": frm, "to": to, "time_ms": at, "reason": reason}
        if share_arn is not None:
            row["quota_share"] = share_arn.rpartition("/")[2]
            row["share_usage"] = {unit: n for unit, n in (usage or {}).items() if n}
        rows.append(row)
    return rows


__all__ = ["NUM_INSTANCES", "TRANSITIONS", "transition"]


# == lb.explain ============================================================================================


def explain_service_job(backend: Any, job: ServiceJob) -> str:
    """Why a service job is where it is: its share, the capacity it needs, what it waits for."""
    need = ", ".join(f"{n} x {unit}" for unit, n in job.units.items()) or "no instances (no ResourceConfig)"
    if job.quota_share:
        where = f"quota share {job.quota_share.rpartition('/')[2]} of "
    elif job.share_identifier is not None:
        where = f"share {job.share_identifier} of "
    else:
        where = ""
    head = f"Service job {job.id} ({job.name}) in {where}job queue {job.queue_arn.rpartition('/')[2]}"
    head += f" is {job.status}; it needs {need}"
    if job.priority is not None:
        head += f" at schedulingPriority {job.priority}"
    queue = backend.job_queues.by_arn.get(job.queue_arn)
    fair = job.share_identifier is not None and queue is not None
    if job.status != RUNNABLE:
        detail = {
            SUBMITTED: "it becomes RUNNABLE at the next scheduling pass",
            SCHEDULED: "SageMaker is creating its training job",
            STARTING: "SageMaker is downloading its data and image",
            RUNNING: "it is training and holds its instances",
        }.get(job.status, f"it ended: {job.status_reason}")
        if fair and job.status not in TERMINAL:
            detail += f"; {service_fair_share.share_text(backend, queue, job.share_identifier)}"
        return f"{head}. {detail}."
    if job.blocked_reason is not None:
        text = f"{head}. It is blocked at the head of its {'quota share' if job.quota_share else 'queue'}: "
        text += job.blocked_reason
        if fair:
            text += f"; {service_fair_share.share_text(backend, queue, job.share_identifier)}"
        return text
    if queue is None:
        return f"{head}. Its job queue no longer exists."
    se = service_fifo.service_environment(backend, queue)
    if not service_fifo.usable(se):
        return f"{head}. Its service environment is DISABLED or gone, so nothing new is placed."
    jobs = backend.service_jobs.queues[job.queue_arn]
    front = service_scheduler(backend, queue, jobs).front_order(backend, queue, jobs)
    position = next((i for i, other in enumerate(front) if other is job), None)
    where_in = f"position {position} of frontOfQueue" if position is not None else "behind the first 100 jobs"
    if fair:
        share = service_fair_share.share_text(backend, queue, job.share_identifier)
        return f"{head}. It is at {where_in}; {share}; {service_fair_share.waiting_for(backend, queue, jobs, job)}."
    if job.quota_share:
        return f"{head}. It is at {where_in}; {quota_share.waiting_for(backend, queue, jobs, job)}."
    used = (backend.service_jobs.se_used.get(se.arn) or {}).get(NUM_INSTANCES, 0)
    limit = service_fifo.limits_of(se).get(NUM_INSTANCES, 0)
    return (f"{head}. It is at {where_in}; service environment {se.name} has {used} of {limit} instances in use"
            " and jobs start in order of creation (createdAt, then jobId).")
