"""FIFO SAGEMAKER_TRAINING queues (spec §1.6, §3.5 last paragraph, §2.9).

The service environment has one `NUM_INSTANCES` limit: the instances of all
SCHEDULED/STARTING/RUNNING jobs of every queue using it stay within
`maxCapacity`. RUNNABLE jobs go by createdAt, ties by jobId; when the head
cannot be placed the queue stops for this pass (head-of-line, no back-fill). A head
that needs more instances than the environment has gets
`MISCONFIGURATION:SERVICE_ENVIRONMENT_MAX_RESOURCE` at once, and a matching
`jobStateTimeLimitActions` entry (action TERMINATE) ends it `maxTimeSeconds`
later. A head that fits but needs an instance type a test declared the
environment short of (`lb.insufficient_capacity`, engine/faults.py) waits
with `CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY` the same way.

Also here, shared with the quota-share scheduler: blocked heads and their
time-limit timers, and the frontOfQueue positions GetJobQueueSnapshot reports.
"""

from __future__ import annotations

from itertools import compress
from operator import is_
from typing import Any

from localbatch.engine import faults
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
    """Start what fits, in queue order (returns what refresh_front may reuse: nothing)."""
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
            if backend.shortages:
                reason = faults.service_environment_short(backend, se.arn, head.units)
                if reason is not None:
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


def refresh_front(backend: Any, queue: Any, jobs: Any, seen: Any = None) -> None:
    update_positions(backend, jobs, front_order(backend, queue, jobs))


def front_arrival(backend: Any, queue: Any, jobs: Any, job: ServiceJob) -> None:
    """`job` joined the RUNNABLE jobs behind the head, between passes.

    frontOfQueue as last computed is current (no pass is pending), so when
    it holds fewer than 100 jobs it holds every RUNNABLE job. A job that
    sorts after its last entry (a new submission, unless a job of the same
    millisecond with a larger jobId is in the front) either takes the next
    index or stays out of a full front; no other index moves. Any other
    arrival computes the front again.
    """
    front = jobs.front_jobs
    if front and job.key > front[-1].key:
        if len(front) < FRONT_SIZE:
            journal = backend.journal
            journal.append(front, job)
            journal.append(jobs.front_since, backend.now_ms)
            journal.set(job, "front", True)
        return
    refresh_front(backend, queue, jobs)


def update_positions(backend: Any, jobs: Any, front: list[ServiceJob], start: int = 0) -> None:
    """Record `front` (a pass computed it; the caller may say its first
    `start` jobs are the recorded front's): earliestTimeAtPosition stays for
    a job at the index it was recorded at, and is now for any other.

    Positions are two lists, the jobs and since when each holds its index,
    not a field per job: a job entering near the start of a full front moves
    up to 100 others. A job's `front` flag only says it was recorded since it
    last became RUNNABLE (transition clears it), so a job dispatched and
    preempted back in one pass counts as new wherever it lands.
    """
    old, old_since = jobs.front_jobs, jobs.front_since
    now = backend.now_ms
    since = old_since[:start]
    entered = []
    for index in range(start, len(front)):
        job = front[index]
        if index < len(old) and old[index] is job and job.front:
            since.append(old_since[index])
        else:
            since.append(now)
            if not job.front:
                entered.append(job)
    _record(backend, jobs, front, since, entered)


def record_arrival(backend: Any, jobs: Any, front: list[ServiceJob], start: int, entered: list[ServiceJob]) -> None:
    """update_positions for a front that only gained a job since it was
    recorded: no job in it left RUNNABLE meanwhile (that asks for a pass,
    which records the front itself), so comparing the jobs is enough. The
    caller names the jobs new to the front."""
    now = backend.now_ms
    old, old_since = jobs.front_jobs, jobs.front_since
    # Now for every index past `start`, then back to the old time where the
    # same job still holds it: C-level passes, and a loop over those only.
    since = old_since[:start] + [now] * (len(front) - start)
    for index in compress(range(start, len(front)), map(is_, old[start:], front[start:])):
        since[index] = old_since[index]
    _record(backend, jobs, front, since, [job for job in entered if not job.front])


def _record(backend: Any, jobs: Any, front: list[ServiceJob], since: list[int], entered: list[ServiceJob]) -> None:
    journal = backend.journal
    for job in entered:
        job.front = True
    if entered:
        journal.record(_unrecord, entered)  # one undo entry for them all
    journal.set(jobs, "front_jobs", front)
    journal.set(jobs, "front_since", since)


def _unrecord(entered: list[ServiceJob]) -> None:
    for job in entered:
        job.front = None
