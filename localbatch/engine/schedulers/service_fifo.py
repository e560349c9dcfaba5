"""FIFO (and, until fair-share utilisation exists, fair-share) SAGEMAKER_TRAINING
queues (spec §1.6, §3.5 last paragraph, §2.9).

The service environment has one `NUM_INSTANCES` limit: the instances of all
SCHEDULED/STARTING/RUNNING jobs of every queue using it stay within
`maxCapacity`. RUNNABLE jobs go in submission order; when the head cannot be
placed the queue stops for this pass (head-of-line, no back-fill). A head
that needs more instances than the environment has gets
`MISCONFIGURATION:SERVICE_ENVIRONMENT_MAX_RESOURCE` at once, and a matching
`jobStateTimeLimitActions` entry (action TERMINATE) ends it `maxTimeSeconds`
later.

Also here, shared with the quota-share scheduler: blocked heads and their
time-limit timers, and the frontOfQueue positions GetJobQueueSnapshot reports.
"""

from __future__ import annotations

from typing import Any

from localbatch.engine.service_jobs import NUM_INSTANCES, RUNNABLE, ServiceJob

SE_MAX_RESOURCE = (
    "MISCONFIGURATION:SERVICE_ENVIRONMENT_MAX_RESOURCE - Service environment(s) associated with the job queue "
    "cannot meet the capacity requirement of the job."
)
FRONT_SIZE = 100


def service_environment(backend: Any, queue: Any) -> Any | None:
    for entry in queue.data.get("serviceEnvironmentOrder") or ():
        return backend.service_environments.by_arn.get(entry["serviceEnvironment"])
    return None


def usable(se: Any | None) -> bool:
    """DISABLED (or deleted) service environments get no new jobs (spec §1.6)."""
    return se is not None and se.data.get("state") == "ENABLED" and se.data.get("status") not in ("DELETING", "INVALID")


def limits_of(se: Any) -> dict[str, int]:
    return {limit["capacityUnit"]: limit["maxCapacity"] for limit in se.data.get("capacityLimits") or ()}


def dispatch(backend: Any, queue: Any, jobs: Any) -> None:
    from localbatch.engine.service_lifecycle import dispatch_job

    se = service_environment(backend, queue)
    runnable = jobs.runnable
    head: ServiceJob | None = runnable.head()
    reason = None
    if usable(se):
        limit = limits_of(se).get(NUM_INSTANCES, 0)
        used = backend.service_jobs.se_used
        while head is not None:
            n = head.instances
            if n > limit:
                reason = SE_MAX_RESOURCE
                break
            if (used.get(se.arn) or {}).get(NUM_INSTANCES, 0) + n > limit:
                break
            dispatch_job(backend, head, se.arn, {NUM_INSTANCES: n})
            head = runnable.head()
    set_blocked(backend, queue, jobs, None, head, reason)


# -- blocked heads and jobStateTimeLimitActions (spec §2.9) -----------------------------------


def set_blocked(backend: Any, queue: Any, jobs: Any, slot: str | None, job: ServiceJob | None, reason: str | None) -> None:
    """`job` is the head of `slot` (the queue, or a quota share) after this pass,
    blocked for `reason` (None: it just waits for capacity)."""
    journal = backend.journal
    previous = jobs.blocked.get(slot)
    if previous is not None and previous is not job:
        clear_blocked(backend, previous)
    if job is None or reason is None:
        if job is not None:
            clear_blocked(backend, job)
        if slot in jobs.blocked:
            journal.pop(jobs.blocked, slot)
        return
    journal.put(jobs.blocked, slot, job)
    if job.blocked_reason != reason:
        clear_blocked(backend, job)
        journal.set(job, "blocked_reason", reason)
        journal.set(job, "blocked_since", backend.now_ms)
        journal.set(job, "status_reason", reason)
    _arm_timer(backend, queue, job)


def clear_blocked(backend: Any, job: ServiceJob) -> None:
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


def reason_code(reason: str) -> str:
    return reason.split(" - ", 1)[0]


def _action_for(queue: Any, reason: str) -> dict[str, Any] | None:
    code = reason_code(reason)
    for action in queue.data.get("jobStateTimeLimitActions") or ():
        if action.get("state") == RUNNABLE and action.get("reason") == code and action.get("action") == "TERMINATE":
            return action
    return None


def _arm_timer(backend: Any, queue: Any, job: ServiceJob) -> None:
    from localbatch.engine.service_lifecycle import service_event

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
    event = service_event(backend, max(0, due - backend.now_ms), _time_limit_reached, backend, job, job.blocked_reason)
    backend.journal.set(job, "event", event)


def _time_limit_reached(backend: Any, job: ServiceJob, reason: str) -> None:
    from localbatch.engine.service_lifecycle import fail_job

    backend.journal.set(job, "event", None)
    if job.status != RUNNABLE or job.blocked_reason != reason:
        return
    fail_job(backend, job, f"Terminated by JobStateTimeLimit action due to reason: {reason_code(reason)}", terminated=True)


# -- frontOfQueue (spec §5 [proposed]) ---------------------------------------------------------


def front_order(backend: Any, queue: Any, jobs: Any) -> list[ServiceJob]:
    return jobs.runnable.in_order(FRONT_SIZE)


def refresh_front(backend: Any, queue: Any, jobs: Any) -> None:
    update_positions(backend, jobs, front_order(backend, queue, jobs))


def update_positions(backend: Any, jobs: Any, front: list[ServiceJob]) -> None:
    """earliestTimeAtPosition changes only when a job's index changes."""
    journal = backend.journal
    now = backend.now_ms
    for index, job in enumerate(front):
        if job.front is None or job.front[0] != index:
            journal.set(job, "front", (index, now))
    listed = {job.id for job in front}
    for job in getattr(jobs, "front_jobs", None) or ():
        if job.id not in listed and job.front is not None:
            journal.set(job, "front", None)
    journal.set(jobs, "front_jobs", front)
