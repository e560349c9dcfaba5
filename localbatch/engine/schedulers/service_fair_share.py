"""Fair-share SAGEMAKER_TRAINING queues (spec §1.5, §3.3, §3.5 last paragraph, §5, §7 row 17).

The §3.3 algorithm of the container fair-share queues, with the service
environment's `NUM_INSTANCES` limit for capacity: a job counts its
`instances` (Σ InstanceCount of its payload) in its share's usage from
SCHEDULED (when Batch calls CreateTrainingJob: service capacity is held from
there, spec §3.5) until its attempt ends, and `maxCapacity` is the queue's
maximum the compute reservation is a fraction of. The share maths (decayed
usage, weights, the order of a pass) is engine/fair_share_usage.py, shared
with schedulers/fair_share.py; head-of-line blocking, blocked reasons and
their time limits, and frontOfQueue positions are service_fifo.py's.

How the book of a queue stays current, with no scan of the queue's jobs:

* a fair-share job's dispatch key is its `order_key` (schedulingPriority
  desc, createdAt asc, creation), and the queue's RUNNABLE index is a
  `FairRunnable`, which files each job under its share as
  `service_lifecycle.transition` (and its undo, and `reprioritise`) adds and
  discards it: an UpdateServiceJob priority reorders the share at once and
  is read by the next pass;
* `service_lifecycle.hold` / `release` start and end a job's instances in
  its share's usage, and `submit` / the move to SUCCEEDED or FAILED tell the
  book which jobs keep a share active (500 at most, spec §7 row 17).

Decay reads the engine clock (`backend.now_ms`) of the pass; a new policy
(weights, window, reservation) is read by the next pass, which
UpdateSchedulingPolicy requests.
"""

from __future__ import annotations

from typing import Any

from localbatch.engine import faults
from localbatch.engine.fair_share_usage import (
    ShareBook,
    SharePass,
    decay_window_ms,
    ranked_usage,
    reserved_units,
    simulated_order,
    watch_decay,
)
from localbatch.engine.schedulers import fair_share, service_fifo
from localbatch.engine.schedulers.service_fifo import FRONT_SIZE, SE_MAX_RESOURCE, limits_of, set_blocked, usable
from localbatch.engine.service_jobs import NUM_INSTANCES, RUNNABLE, Runnable, ServiceJob

TOP_SHARES = 20
_EPSILON = 1e-9  # the reserve is a float: (computeReservation/100)^A × maxCapacity


# -- the book of a queue ---------------------------------------------------------------------


class FairRunnable(Runnable):
    """A fair-share queue's RUNNABLE jobs that also files each under its share
    (journaled by whoever adds or discards: transition and its undo, reprioritise)."""

    __slots__ = ("book",)

    def __init__(self, book: ShareBook) -> None:
        super().__init__()
        self.book = book

    def add(self, job: ServiceJob, key: int | None = None) -> None:
        key = job.key if key is None else key
        Runnable.add(self, job, key)
        book = self.book
        book.add_waiting(book.shares[job.share_identifier], key, job)

    def discard(self, job: ServiceJob, key: int | None = None) -> None:
        key = job.key if key is None else key
        Runnable.discard(self, job, key)
        share = self.book.shares.get(job.share_identifier)
        if share is not None:
            self.book.remove_waiting(share, key)


def fairshare_policy(backend: Any, queue: Any) -> dict[str, Any] | None:
    return fair_share.fairshare_policy(backend, queue)


def book_of(backend: Any, queue_arn: str) -> ShareBook | None:
    jobs = backend.service_jobs.queues.get(queue_arn)
    return None if jobs is None else jobs.fair_share


def is_fair_share_queue(jobs: Any) -> bool:
    return jobs is not None and jobs.fair_share is not None


def _install(backend: Any, jobs: Any) -> ShareBook:
    # A queue's first job installs the book, before any of its jobs is RUNNABLE.
    book = ShareBook()
    journal = backend.journal
    journal.set(jobs, "fair_share", book)
    journal.set(jobs, "runnable", FairRunnable(book))
    return book


# -- hooks of service_lifecycle -------------------------------------------------------------------


def job_submitted(backend: Any, jobs: Any, job: ServiceJob) -> None:
    """`job` (SUBMITTED) keeps its share active until it ends."""
    book = jobs.fair_share if jobs.fair_share is not None else _install(backend, jobs)
    book.job_live(book.share(job.share_identifier, backend.journal), job.seq, backend.journal)


def job_held(backend: Any, jobs: Any, job: ServiceJob) -> None:
    """`job` was dispatched (SCHEDULED): its instances count in its share's usage."""
    book = jobs.fair_share
    book.start_using(book.shares[job.share_identifier], job.seq, job.instances, backend.now_ms, backend.journal)


def job_released(backend: Any, jobs: Any, job: ServiceJob) -> None:
    book = jobs.fair_share
    book.stop_using(book.shares[job.share_identifier], job.seq, backend.now_ms, backend.journal)


def job_ended(backend: Any, jobs: Any, job: ServiceJob) -> None:
    """`job` reached SUCCEEDED or FAILED: its share may turn idle (and stays active one window)."""
    book = jobs.fair_share
    book.job_ended(book.shares[job.share_identifier], job.seq, backend.now_ms, backend.journal)


# -- SubmitServiceJob: at most 500 active share identifiers (spec §7 row 17) --------------------


def admits_share(backend: Any, queue: Any, share_identifier: str) -> bool:
    """False if a job for `share_identifier` would make the queue's active shares exceed 500."""
    book = book_of(backend, queue.arn)
    return book is None or book.admits(share_identifier, backend.now_ms, decay_window_ms(fairshare_policy(backend, queue)))


# -- the dispatch pass (spec §3.3 steps 4-5, instances for vCPUs) -----------------------------------


def dispatch(backend: Any, queue: Any, jobs: Any) -> SharePass | None:
    """One pass: serve the share with the lowest score, one job at a time,
    until a job cannot be placed (head-of-line: the queue stops, as FIFO
    does). A job that fits but would eat into the compute reservation while
    its share already holds instances sits its share out for this pass.
    Returns the pass, from which refresh_front goes on without scoring again."""
    from localbatch.engine.service_lifecycle import dispatch_job

    book: ShareBook | None = jobs.fair_share
    se = service_fifo.service_environment(backend, queue)
    head: ServiceJob | None = None
    reason = None
    trial = None
    if book is not None and book.waiting:
        trial = SharePass(book, fairshare_policy(backend, queue), backend.now_ms)
        if usable(se):
            head, reason = _serve(backend, queue, se, book, trial, dispatch_job)
        else:
            picked = trial.next()
            head = None if picked is None else picked[1]
    set_blocked(backend, queue, jobs, None, head, reason)
    backend.journal.set(jobs, "passed_at", backend.now_ms)  # service_lifecycle.arrived reads it
    room = False
    if head is not None and reason is None and book is not None and len(book.waiting) > 1 and usable(se):
        held = (backend.service_jobs.se_used.get(se.arn) or {}).get(NUM_INSTANCES, 0)
        room = held < limits_of(se).get(NUM_INSTANCES, 0)
    watch_decay(backend, queue.arn, "service", room)
    return trial


def _serve(backend: Any, queue: Any, se: Any, book: ShareBook, trial: SharePass,
           dispatch_job: Any) -> tuple[ServiceJob | None, str | None]:
    """Dispatch what the pass allows: (the job the queue stopped at, its blocked reason)."""
    policy = fairshare_policy(backend, queue)
    limit = limits_of(se).get(NUM_INSTANCES, 0)
    used_by_se = backend.service_jobs.se_used
    reserve_checked = policy is not None and policy.get("computeReservation")
    while (picked := trial.next()) is not None:
        share, job = picked
        n = job.instances
        if n > limit:
            return job, SE_MAX_RESOURCE
        used = (used_by_se.get(se.arn) or {}).get(NUM_INSTANCES, 0)
        if used + n > limit:
            return job, None  # waits for instances to come back
        if reserve_checked and share.holding and used + n > limit - reserved_units(policy, len(book.using), limit) + _EPSILON:
            trial.skip()  # it fits, but only in the capacity kept for shares not yet running
            continue
        short = _short_of(backend, se, job)
        if short is not None:
            return job, short
        if dispatch_job(backend, job, se.arn, {NUM_INSTANCES: n}):
            trial.served()
        # else SageMaker rejected the payload: the job FAILED, its share is ranked again
    return None, None


def _short_of(backend: Any, se: Any, job: ServiceJob) -> str | None:
    """The CAPACITY reason if the service environment cannot give one of the job's instance types now."""
    if not backend.shortages:
        return None
    for instance_type in job.units:
        reason = faults.short_of(backend, se.arn, instance_type)
        if reason is not None:
            return reason
    return None


# -- frontOfQueue (spec §5) ----------------------------------------------------------------------


def _instances(job: ServiceJob) -> float:
    return job.instances


def front_order(backend: Any, queue: Any, jobs: Any) -> list[ServiceJob]:
    """The first 100 RUNNABLE jobs in the order a pass now would try them:
    share by share, lowest score first, each share re-scored as if the job
    before had been dispatched (reservation and a blocked head only cut a
    pass short). Reads only."""
    book = None if jobs is None else jobs.fair_share
    if book is None or not book.waiting:
        return []
    return simulated_order(book, fairshare_policy(backend, queue), backend.now_ms, _instances, FRONT_SIZE)


def refresh_front(backend: Any, queue: Any, jobs: Any, seen: SharePass | None = None) -> None:
    """Record frontOfQueue after a pass (`seen`: the pass dispatch() ran) or an arrival."""
    if seen is not None:
        front = seen.order_after(_instances, FRONT_SIZE)
    else:
        front = front_order(backend, queue, jobs)
    record_front(backend, jobs, front)


def record_front(backend: Any, jobs: Any, front: list[ServiceJob]) -> None:
    """Record `front` as frontOfQueue now (positions per service_fifo.update_positions),
    and each share's last job in it, which front_arrival reads."""
    service_fifo.update_positions(backend, jobs, front)
    journal = backend.journal
    journal.set(jobs, "front_last", {job.share_identifier: job.key for job in front})
    journal.set(jobs, "front_at", backend.now_ms)


def current_front(backend: Any, queue: Any, jobs: Any) -> list[ServiceJob]:
    """frontOfQueue now, recorded (GetJobQueueSnapshot). The order of shares
    moves with the clock between passes, so a job takes its index when first
    seen there, by a pass, an arrival or a snapshot. What was recorded at
    this very engine time still holds unless a pass is pending: everything
    else that changes the order (a job leaving or re-entering RUNNABLE,
    capacity given back, a new priority or policy) asks for a pass, and
    arrivals keep the record current themselves."""
    if jobs.front_at == backend.now_ms and backend.service_jobs.dispatch_event is None:
        return jobs.front_jobs
    front = front_order(backend, queue, jobs)
    record_front(backend, jobs, front)
    return front


def front_arrival(backend: Any, queue: Any, jobs: Any, job: ServiceJob) -> None:
    """`job` joined its share behind the share's head, between passes, at the
    time of the last pass (service_lifecycle.arrived checks all that).

    The order of a pass (and so frontOfQueue) depends on each share's jobs
    only through their sequence: a share holding k jobs of the front has
    them as its first k, and its (k+1)-th job is the first not shown. If
    `job` is not among its share's first k+1, no share's first k+1 changed,
    and neither did the front."""
    share = jobs.fair_share.shares[job.share_identifier]
    last = jobs.front_last.get(job.share_identifier)
    following = next(share.waiting.ascending(last), None)
    if following is not None and following < job.key:
        return
    refresh_front(backend, queue, jobs)


# -- GetJobQueueSnapshot: fairshareUtilization (spec §5) ---------------------------------------------


def fair_share_utilization(backend: Any, jobs: Any) -> dict[str, Any]:
    """`queueUtilization.fairshareUtilization`: shares using instances now, and
    the top 20 by instances held (ties by identifier), per instance type."""
    book = None if jobs is None else jobs.fair_share
    if book is None:
        return {"activeShareCount": 0, "topCapacityUtilization": []}
    by_share = jobs.share_usage
    top = []
    for identifier, _ in ranked_usage(book, TOP_SHARES):
        units = by_share.get(identifier) or {}
        usage = [{"capacityUnit": unit, "quantity": float(n)} for unit, n in sorted(units.items()) if n]
        top.append({"shareIdentifier": identifier, "capacityUsage": usage})
    return {"activeShareCount": len(book.using), "topCapacityUtilization": top}


# -- lb.explain ---------------------------------------------------------------------------------------


def instances_text(value: float) -> str:
    return f"{fair_share._g(value)} instance" + ("" if value == 1 else "s")


def share_text(backend: Any, queue: Any, identifier: str) -> str:
    """One share as the scheduler sees it now: weight, decayed usage, instances held, score."""
    return fair_share.describe_share(fairshare_policy(backend, queue), book_of(backend, queue.arn), identifier,
                                     backend.now_ms, instances_text, "instance-seconds")


def waiting_for(backend: Any, queue: Any, jobs: Any, job: ServiceJob) -> str:
    """Why a RUNNABLE `job` of a fair-share queue is not dispatched yet: who goes first, and why."""
    book: ShareBook = jobs.fair_share
    policy = fairshare_policy(backend, queue)
    share = book.shares[job.share_identifier]
    head_key = share.waiting.min()
    if head_key != job.key:
        head = share.items[head_key]
        ahead = sum(1 for _ in _keys_below(share, job.key))
        jobs_, go = ("job", "goes") if ahead == 1 else ("jobs", "go")
        return (
            f"{ahead} {jobs_} of share {share.identifier} {go} first (higher schedulingPriority, or the same and "
            f"created earlier); the next is {head.id} (schedulingPriority {head.effective_priority}, "
            f"this job {job.effective_priority})"
        )
    trial = SharePass(book, policy, backend.now_ms)
    first, _ = trial.next()
    if first is not share:
        return fair_share.other_share_first(policy, backend.now_ms, trial, first, share, instances_text)
    se = service_fifo.service_environment(backend, queue)
    limit = limits_of(se).get(NUM_INSTANCES, 0)
    used = (backend.service_jobs.se_used.get(se.arn) or {}).get(NUM_INSTANCES, 0)
    reserve = reserved_units(policy, len(book.using), limit)
    if share.holding and used + job.instances <= limit < used + job.instances + reserve:
        return (
            f"its share is served first, but it already holds {instances_text(share.usage.current())} and the "
            f"compute reservation keeps {instances_text(reserve)} of {limit} for shares not yet running "
            f"({used} in use, the job needs {job.instances})"
        )
    return (f"it is the next job the queue dispatches; service environment {se.name} has {used} of {limit} "
            f"instances in use and the job needs {job.instances}")


def _keys_below(share: Any, key: int) -> Any:
    for other in share.waiting.ascending():
        if other >= key:
            return
        yield other


def explain(backend: Any, queue: Any, jobs: Any, job: ServiceJob) -> str:
    """The fair-share part of lb.explain for a service job: its share, and (RUNNABLE) why it waits."""
    text = share_text(backend, queue, job.share_identifier)
    if job.status != RUNNABLE or job.blocked_reason is not None:
        return text
    return f"{text}; {waiting_for(backend, queue, jobs, job)}"
