"""Fair-share container queues (spec §1.5, §3.3, §5, §7 row 17).

A job queue with a scheduling policy is a fair-share queue (container
queues cannot take quota-share policies). Each pass serves the share with
the lowest score, weight × (decayed usage / D + vCPUs in use), one job at a
time, re-scoring the share after each job; inside a share jobs go by
schedulingPriority desc, createdAt asc, then jobId (spec §3.3 step 3; array
children by parent jobId, then index, as FIFO orders them). When the chosen
job cannot be placed the queue stops for this pass, as FIFO does
(`backfill=True` skips that share instead). When it could be placed but its
share already uses capacity and the job would eat into the compute
reservation, the share sits out the rest of the pass and the next share is
tried: the reserve is for shares not yet running. The share maths is in
engine/fair_share_usage.py; this module is what is specific to container
jobs.

How the book of a queue stays current, with no scan of the queue's jobs:

* a job is filed under its share while it is RUNNABLE: the queue's
  RUNNABLE index (`_QueueJobs.runnable_jobs`) is a `_Runnable` dict here,
  which `lifecycle.transition` fills and empties, and whose undo does the
  inverse, so the filing needs no journal entries of its own;
* a job's vCPUs count in its share's usage from dispatch (STARTING) until
  its attempt ends: the dispatch pass starts the interval, the return to
  RUNNABLE (a retry) or `flow.finished` ends it;
* `flow.submit` and `flow.finished` tell the book which jobs keep a share
  active.

The capacity that bounds the reservation is Σ capacity of the queue's
compute environments (UNMANAGED without unmanagedvCpus: unlimited, and
nothing is reserved of unlimited capacity); what is "used" is the vCPUs
held on those compute environments, whichever queue holds them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from localbatch.engine import capacity
from localbatch.engine.fair_share_usage import (
    ShareBook,
    SharePass,
    created_at_of,
    decay_window_ms,
    order_key,
    ranked_usage,
    reserved_units,
    simulated_order,
    watch_decay,
    weight_of,
)
from localbatch.engine.jobs import RUNNABLE, TIEBREAK_MASK, Job
from localbatch.engine.schedulers import fifo

TOP_SHARES = 20
_EPSILON = 1e-9  # vCPUs are floats (0.25, "500m"): sums may be off in the last bit


# -- the book of a queue ---------------------------------------------------------------------


class _Runnable(dict):
    """A fair-share queue's RUNNABLE index (dispatch key -> job) that also
    files each job under its share. A job that comes back to RUNNABLE while
    its share still counts its vCPUs (a retry) stops counting them here."""

    __slots__ = ("book", "backend")

    def __setitem__(self, key: int, job: Job) -> None:
        dict.__setitem__(self, key, job)
        identifier = job.spec.share_identifier
        if identifier is None:
            return
        book: ShareBook = self.book
        share = book.shares[identifier]
        book.add_waiting(share, job_order_key(job), job)
        if job.seq in share.holding:
            book.stop_using(share, job.seq, self.backend.now_ms, self.backend.journal)

    def pop(self, key: int, default: Any = None) -> Any:
        job = dict.pop(self, key, default)
        if job is not None and job.spec.share_identifier is not None:
            share = self.book.shares.get(job.spec.share_identifier)
            if share is not None:
                self.book.remove_waiting(share, job_order_key(job))
        return job


def job_order_key(job: Job) -> int:
    # The tie-breaker is the id and index part of the FIFO key (jobs.TIEBREAK_BITS).
    return order_key(job.spec.scheduling_priority, job.created_at, job.key & TIEBREAK_MASK)


def fairshare_policy(backend: Any, queue: Any) -> dict[str, Any] | None:
    arn = queue.data.get("schedulingPolicyArn")
    policy = backend.scheduling_policies.get(arn) if arn else None
    return None if policy is None else policy.data.get("fairsharePolicy")


def book_of(backend: Any, queue_arn: str) -> ShareBook | None:
    jobs = backend.jobs.queues.get(queue_arn)
    return None if jobs is None else jobs.fair_share


def _install(backend: Any, jobs: Any) -> ShareBook:
    book = ShareBook()
    index = _Runnable(jobs.runnable_jobs)
    index.book = book
    index.backend = backend
    journal = backend.journal
    journal.set(jobs, "fair_share", book)
    journal.set(jobs, "runnable_jobs", index)
    for job in list(index.values()):  # none in practice: a queue's first job installs the book
        if job.spec.share_identifier is not None:
            book.add_waiting(book.share(job.spec.share_identifier, journal), job_order_key(job), job)
    return book


# -- hooks of the job engine (flow.py) ---------------------------------------------------------


def job_submitted(backend: Any, job: Job) -> None:
    """`job` (SUBMITTED, with a shareIdentifier) keeps its share active until it ends."""
    jobs = backend.jobs.queue(job.queue_arn)
    book = jobs.fair_share if jobs.fair_share is not None else _install(backend, jobs)
    share = book.share(job.spec.share_identifier, backend.journal)
    book.job_live(share, job.seq, backend.journal)


def job_finished(backend: Any, job: Job) -> None:
    """`job` reached SUCCEEDED or FAILED: its vCPUs stop counting, and its share may turn idle."""
    book = book_of(backend, job.queue_arn)
    share = None if book is None else book.shares.get(job.spec.share_identifier)
    if share is None:
        return
    book.stop_using(share, job.seq, backend.now_ms, backend.journal)
    if job.parent is None:
        book.job_ended(share, job.seq, backend.now_ms, backend.journal)


# -- SubmitJob: at most 500 active share identifiers (spec §7 row 17) -------------------------


def admits_share(backend: Any, queue: Any, share_identifier: str) -> bool:
    """False if a job for `share_identifier` would make the queue's active shares exceed 500."""
    book = book_of(backend, queue.arn)
    return book is None or book.admits(share_identifier, backend.now_ms, decay_window_ms(fairshare_policy(backend, queue)))


# -- the dispatch pass (spec §3.3 steps 4-5) --------------------------------------------------


def dispatch(backend: Any, queue: Any, jobs: Any, attached: list[Any] | None = None) -> None:
    """One pass over the queue; `attached` is `fifo._attached(backend, queue)` when the caller has it."""
    from localbatch.engine.executors import start_attempt

    book: ShareBook | None = jobs.fair_share
    if attached is None:
        attached = fifo._attached(backend, queue)
    head_blocked: tuple[Job, str | None] | None = None
    stopped_with_room = False
    if book is not None and book.waiting:
        policy = fairshare_policy(backend, queue)
        targets = [ce for ce in attached if capacity.usable(ce)]
        max_total, used = _queue_capacity(backend, attached)
        backfill = backend.config.backfill
        now = backend.now_ms
        journal = backend.journal
        trial = SharePass(book, policy, now)
        while (picked := trial.next()) is not None:
            share, job = picked
            vcpus = job.spec.vcpus
            ce = fifo._place(backend, job, targets)
            if ce is None:
                if head_blocked is None:
                    head_blocked = (job, capacity.blocked_reason(backend, job, attached))
                if not backfill:
                    stopped_with_room = len(book.waiting) > 1 and any(
                        capacity.free(backend, target) > 0 for target in targets
                    )
                    break
                trial.skip()
                continue
            if share.holding and not _within_reservation(policy, book, used + vcpus, max_total):
                trial.skip()  # it fits, but only in the capacity kept for shares not yet running
                continue
            start_attempt(backend, job, ce)
            book.start_using(share, job.seq, vcpus, now, journal)
            used += vcpus
            trial.served()
    fifo._set_blocked(backend, queue, jobs, head_blocked)
    watch_decay(backend, queue.arn, "container", stopped_with_room)


def _queue_capacity(backend: Any, attached: list[Any]) -> tuple[float, float]:
    """(Σ capacity of the queue's compute environments, vCPUs held on them)."""
    ce_used = backend.jobs.ce_used
    return sum(capacity.capacity(ce) for ce in attached), sum(ce_used.get(ce.arn, 0.0) for ce in attached)


def _within_reservation(policy: dict[str, Any] | None, book: ShareBook, used_after: float, max_total: float) -> bool:
    return used_after <= max_total - reserved_units(policy, len(book.using), max_total) + _EPSILON


# -- GetJobQueueSnapshot (spec §5) -----------------------------------------------------------


def fair_share_front(backend: Any, queue: Any, limit: int = 100) -> list[Job]:
    """The first `limit` RUNNABLE jobs of a fair-share queue in the order the
    dispatch pass tries them: share by share, lowest score first, each share
    re-scored as if the job before had been dispatched (the order a pass
    follows while capacity lasts; reservation and a blocked head only cut it
    short). Reads only."""
    book = book_of(backend, queue.arn)
    if book is None or not book.waiting:
        return []
    policy = fairshare_policy(backend, queue)
    now = backend.now_ms
    # Followed snapshots ask after every engine event: mostly nothing changed.
    return book.remembered((now, policy, limit),
                           lambda: simulated_order(book, policy, now, _vcpus, limit))


def _vcpus(job: Job) -> float:
    return job.spec.vcpus


def fair_share_utilization(backend: Any, queue: Any) -> dict[str, Any]:
    """`queueUtilization.fairshareUtilization` (model shape FairshareUtilizationDetail):
    shares using capacity now, and the top 20 by vCPUs held, ties by identifier."""
    book = book_of(backend, queue.arn)
    if book is None:
        return {"activeShareCount": 0, "topCapacityUtilization": []}
    unit = "cpu" if queue.data.get("jobQueueType") == "EKS" else "VCPU"
    top = [
        {"shareIdentifier": identifier, "capacityUsage": [{"capacityUnit": unit, "quantity": float(quantity)}]}
        for identifier, quantity in ranked_usage(book, TOP_SHARES)
    ]
    return {"activeShareCount": len(book.using), "topCapacityUtilization": top}


# -- lb.explain ---------------------------------------------------------------------------------


def _g(value: float) -> str:
    return f"{value:.6g}"


def vcpus_text(value: float) -> str:
    return f"{_g(value)} vCPU"


def share_text(backend: Any, queue: Any, identifier: str) -> str:
    """One share as the scheduler sees it now: weight, decayed usage, vCPUs held, score."""
    return describe_share(fairshare_policy(backend, queue), book_of(backend, queue.arn), identifier, backend.now_ms,
                          vcpus_text, "vCPU-seconds")


def describe_share(policy: dict[str, Any] | None, book: ShareBook | None, identifier: str, now: int,
                   amount: Callable[[float], str], unit_seconds: str) -> str:
    """One share of any fair-share queue: weight (and where it came from),
    decayed usage, units held, score; `amount` words a number of units."""
    window = decay_window_ms(policy)
    weight, entry = weight_of(policy, identifier)
    share = None if book is None else book.shares.get(identifier)
    source = f"shareDistribution entry {entry}" if entry is not None else "no shareDistribution entry, default"
    if share is None:
        return f"share {identifier}: weight {weight:g} ({source}), no usage yet, score 0"
    hist_ms = share.usage.decayed(now, window)
    held = share.usage.current()
    score = weight * (hist_ms / window + held)
    return (
        f"share {identifier}: weight {weight:g} ({source}), decayed usage {_g(hist_ms / 1000)} {unit_seconds} "
        f"over the last {window // 1000} s (an average of {amount(hist_ms / window)}), {amount(held)} in use "
        f"now, score {_g(score)}"
    )


def explain_fair_share(backend: Any, job: Job) -> str:
    """Where `job` stands in its fair-share queue: its share, the share's
    weight and decayed usage, and who goes before it and why."""
    identifier = job.spec.share_identifier
    queue = backend.job_queues.by_arn.get(job.queue_arn)
    if identifier is None or queue is None or not queue.data.get("schedulingPolicyArn"):
        return f"job {job.id} is not in a fair-share queue"
    text = share_text(backend, queue, identifier)
    if job.status != RUNNABLE or job.is_node:
        return f"{text}; the job is {job.status}"
    position = _runnable_position(backend, queue, job)
    return f"{text}; {position or NEXT}"


NEXT = "it is the next job the queue dispatches"


def _runnable_position(backend: Any, queue: Any, job: Job) -> str | None:
    """Who goes before a RUNNABLE `job`, and why; None if nobody does."""
    book = book_of(backend, queue.arn)
    policy = fairshare_policy(backend, queue)
    share = book.shares[job.spec.share_identifier]
    _, head = share.head()
    own_key = job_order_key(job)
    if head is not job:
        ahead = 0
        for key in share.waiting.ascending():
            if key >= own_key:
                break
            ahead += 1
        jobs, go = ("job", "goes") if ahead == 1 else ("jobs", "go")
        return (
            f"{ahead} {jobs} of share {share.identifier} {go} first (higher schedulingPriority, or the same and "
            "created earlier, or in the same millisecond with a smaller jobId); the next is "
            f"{head.id} (schedulingPriority {head.spec.scheduling_priority or 0}, "
            f"this job {job.spec.scheduling_priority or 0})"
        )
    trial = SharePass(book, policy, backend.now_ms)
    first_share, _ = trial.next()
    if first_share is not share:
        return _other_share_first(backend, queue, policy, trial, first_share, share)
    attached = fifo._attached(backend, queue)
    max_total, used = _queue_capacity(backend, attached)
    placeable = fifo._place(backend, job, [ce for ce in attached if capacity.usable(ce)]) is not None
    if placeable and share.holding and not _within_reservation(policy, book, used + job.spec.vcpus, max_total):
        reserve = reserved_units(policy, len(book.using), max_total)
        return (
            f"its share is served first, but it already holds {_g(share.usage.current())} vCPU and the compute "
            f"reservation keeps {_g(reserve)} of {_g(max_total)} vCPU for shares not yet running "
            f"({_g(used)} vCPU in use, the job needs {_g(job.spec.vcpus)})"
        )
    return None


def _other_share_first(backend: Any, queue: Any, policy: Any, trial: SharePass, first: Any, own: Any) -> str:
    return other_share_first(policy, backend.now_ms, trial, first, own, vcpus_text)


def other_share_first(policy: Any, now: int, trial: SharePass, first: Any, own: Any,
                      amount: Callable[[float], str]) -> str:
    """Why share `first` is served before share `own` (any fair-share queue)."""
    window = decay_window_ms(policy)
    first_score, own_score = trial.score(first), trial.score(own)
    first_weight, own_weight = weight_of(policy, first.identifier)[0], weight_of(policy, own.identifier)[0]
    first_usage = first.usage.decayed(now, window) / window + first.usage.current()
    own_usage = own.usage.decayed(now, window) / window + own.usage.current()
    if first_score == own_score:
        first_created, own_created = created_at_of(first.waiting.min()), created_at_of(own.waiting.min())
        why = (
            "its next job was created earlier" if first_created < own_created
            else f"its identifier sorts before {own.identifier}"
        )
        return f"share {first.identifier} goes first: the same score ({_g(own_score)}), and {why}"
    lighter, less = first_weight < own_weight, first_usage < own_usage
    if lighter and less:
        why = "a lower weight and less recent usage"
    elif lighter:
        why = "its lower weight outweighs its higher usage" if first_usage > own_usage else "a lower weight"
    elif less:
        why = "its lower usage outweighs its higher weight" if first_weight > own_weight else "less recent usage"
    else:
        why = "a lower score"
    return (
        f"share {first.identifier} goes first with score {_g(first_score)} (weight {first_weight:g} × usage "
        f"{amount(first_usage)}) against {_g(own_score)} (weight {own_weight:g} × usage {amount(own_usage)}): {why}"
    )


def explain_runnable(backend: Any, queue: Any, jobs: Any, job: Job) -> str | None:
    """engine/explain.py's hook: why a RUNNABLE job of a fair-share queue waits."""
    identifier = job.spec.share_identifier
    if identifier is None or jobs.fair_share is None or job.is_node:
        return None
    position = _runnable_position(backend, queue, job)
    if position is None:  # first in line: why the pass could not place it, as for a FIFO head
        from localbatch.engine import explain

        position = f"{NEXT}; " + explain.blocked(backend, queue, job, fifo._attached(backend, queue))
    return f"{share_text(backend, queue, identifier)}; {position}"
