"""FIFO queues (spec §3.2, §2.9).

Order: the RUNNABLE jobs of a queue by dispatch key, i.e. by submission
(array children by their parent's submission, then index); a job sent back
to RUNNABLE by a retry keeps its key, so its place. The head job goes to the
first compute environment, in ascending `order`, that is ENABLED and VALID,
can host it and has the vCPUs free, provided its consumable resources have
the units. When the head cannot be placed the queue stops for this pass
(head-of-line blocking; `backfill=True` lets later jobs past it instead).

A compute environment a test declared short of the instance types it
launches (`lb.insufficient_capacity`, engine/faults.py) takes nothing; a
head job that only such environments had room for waits with the
`CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY` reason. A head job that no
attached compute environment could ever take gets the MISCONFIGURATION
reason of spec §2.9 at once. Either way, if the queue has a matching
`jobStateTimeLimitActions` entry, a timer cancels the job `maxTimeSeconds`
after it became blocked for that reason. The reason and timer go when the
job is dispatched or stops being the head.
"""

from __future__ import annotations

from typing import Any, Callable

from localbatch.engine import capacity
from localbatch.engine.jobs import RUNNABLE, Job


def dispatch(backend: Any, queue: Any, jobs: Any, attached: list[Any] | None = None) -> None:
    """One pass over the queue; `attached` is `_attached(backend, queue)` when the caller has it."""
    start_attempt = _start_attempt or _bind_start_attempt()
    if attached is None:
        attached = _attached(backend, queue)
    targets = [ce for ce in attached if capacity.usable(ce)]
    backfill = backend.config.backfill
    runnable, runnable_jobs = jobs.runnable, jobs.runnable_jobs
    head_blocked: tuple[Job, str | None] | None = None
    after = None
    while True:
        key = runnable.min() if after is None else next(runnable.ascending(after), None)
        if key is None:
            break
        job = runnable_jobs[key]
        ce = _place(backend, job, targets)
        if ce is not None:
            start_attempt(backend, job, ce)
            continue
        if head_blocked is None:
            head_blocked = (job, capacity.blocked_reason(backend, job, attached))
        if not backfill:
            break
        after = key
    _set_blocked(backend, queue, jobs, head_blocked)


# executors.start_attempt, bound on first use: executors imports the
# schedulers, so it cannot be imported when this module loads, and an import
# statement in `dispatch` would cost a microsecond on every SubmitJob.
_start_attempt: Callable[[Any, Job, Any], None] | None = None


def _bind_start_attempt() -> Callable[[Any, Job, Any], None]:
    global _start_attempt
    from localbatch.engine.executors import start_attempt

    _start_attempt = start_attempt
    return start_attempt


def _attached(backend: Any, queue: Any) -> list[Any]:
    table = backend.compute_environments
    found = []
    for entry in sorted(queue.data.get("computeEnvironmentOrder") or (), key=lambda e: e["order"]):
        ce = table.by_arn.get(entry["computeEnvironment"])
        if ce is not None:
            found.append(ce)
    return found


def _place(backend: Any, job: Job, targets: list[Any]) -> Any | None:
    vcpus = job.spec.vcpus
    short = backend.shortages
    for ce in targets:
        if capacity.can_host(ce, job) and capacity.free(backend, ce) >= vcpus:
            if short and capacity.short_for(backend, ce) is not None:
                continue  # no instance to launch there: the next environment may have one
            return ce if capacity.consumables_available(backend, job) else None
    return None


# -- blocked head and jobStateTimeLimitActions (spec §2.9) ---------------------------


def _set_blocked(backend: Any, queue: Any, jobs: Any, head: tuple[Job, str | None] | None) -> None:
    journal = backend.journal
    previous = jobs.blocked_job
    job, reason = head if head is not None else (None, None)
    if previous is not None and previous is not job:
        _clear(backend, previous)
    if job is None or reason is None:
        if job is not None:
            _clear(backend, job)
        if previous is not None:
            journal.set(jobs, "blocked_job", None)
        return
    journal.set(jobs, "blocked_job", job)
    if job.blocked_reason != reason:
        _clear(backend, job)
        journal.set(job, "blocked_reason", reason)
        journal.set(job, "blocked_since", backend.now_ms)
        journal.set(job, "status_reason", reason)
    _arm_timer(backend, queue, job)


def _clear(backend: Any, job: Job) -> None:
    journal = backend.journal
    if job.status == RUNNABLE:
        if job.event is not None:  # a RUNNABLE job's only event is its time-limit timer
            backend.events.cancel(job.event)
            journal.set(job, "event", None)
        if job.blocked_reason is not None and job.status_reason == job.blocked_reason:
            journal.set(job, "status_reason", None)
    if job.blocked_reason is not None:
        journal.set(job, "blocked_reason", None)
        journal.set(job, "blocked_since", None)


def _action_for(queue: Any, reason: str) -> dict[str, Any] | None:
    code = reason.split(" - ", 1)[0].split(" – ", 1)[0]
    for action in queue.data.get("jobStateTimeLimitActions") or ():
        if action.get("state") == RUNNABLE and action.get("reason") == code and action.get("action") == "CANCEL":
            return action
    return None


def _arm_timer(backend: Any, queue: Any, job: Job) -> None:
    """Keep the job's time-limit timer in step with the queue's actions (they may change)."""
    from localbatch.engine.schedulers import job_event

    action = _action_for(queue, job.blocked_reason or "")
    timer = job.event
    if action is None:
        if timer is not None:
            backend.events.cancel(timer)
            backend.journal.set(job, "event", None)
        return
    due = job.blocked_since + action["maxTimeSeconds"] * 1000
    if timer is not None and timer[0] == due and timer[2] is not None:
        return
    if timer is not None:
        backend.events.cancel(timer)
    event = job_event(backend, max(0, due - backend.now_ms), _time_limit_reached, backend, job, job.blocked_reason)
    backend.journal.set(job, "event", event)


def _time_limit_reached(backend: Any, job: Job, reason: str) -> None:
    from localbatch.engine.flow import fail_job

    backend.journal.set(job, "event", None)
    if job.status != RUNNABLE or job.blocked_reason != reason:
        return
    code = reason.split(" - ", 1)[0]
    backend.journal.set(job, "is_cancelled", True)
    fail_job(backend, job, f"Canceled by JobStateTimeLimit action due to reason: {code}")
