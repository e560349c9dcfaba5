"""When dispatch passes run, and which scheduler a queue uses (spec §3.1, §3.2).

A dispatch pass is an event, scheduled at the current engine time by
`request_dispatch` whenever something a scheduler reads has changed: a job
became RUNNABLE or left RUNNABLE, a job gave back capacity, a compute
environment or queue changed. At most one pass is pending at a time, so a
burst of changes (256 jobs ending in the same millisecond) costs one pass;
and a pass touches only queues with RUNNABLE jobs, each only as far as its
first job that cannot be placed. Nothing else ever runs a pass: a call that
changes nothing costs nothing. A SubmitJob whose pass would be the engine's
very next step runs it in the call, or leaves it out when it provably moves
nothing (`pass_in_call`).

Queues are visited by `priority` descending, ties by creation order. Each
queue kind has a scheduler module with `dispatch(backend, queue, jobs)`:
fifo.py, and fair_share.py for queues with a scheduling policy.
"""

from __future__ import annotations

from typing import Any, Callable, NamedTuple

from localbatch.engine.schedulers import fair_share, fifo


def request_dispatch(backend: Any) -> None:
    """Have a dispatch pass run at the current engine time (once, however often asked)."""
    store = backend.jobs
    if store.dispatch_event is None:
        backend.journal.set(store, "dispatch_event", job_event(backend, 0, _dispatch_pass, backend))


def pass_in_call(backend: Any, job: Any) -> None:
    """Run now the pass that the arrival of `job` asks for: a plain job its
    SubmitJob call just made RUNNABLE while no event was due
    (Backend.next_step_is_now). As an event, the pass would be the engine's
    next step, at this very time, so the timeline is the same, and a
    submission saves an event (engine/flow.py `submit`). Not `_marked`: the
    call's own journal covers it, and must not be cut.

    The pass is left out altogether when it provably moves nothing: the
    engine stood at a fixed point (the last pass moved no job) and nothing
    has moved or been reconfigured since but this job's own two moves, its
    FIFO queue does not backfill, and a job it cannot pass is ahead of it.
    Every head then stays where it is, so the pass would only find that
    again. This keeps submitting into a busy queue cheap. Otherwise the
    pass visits the arrival's own queue only where that provably suffices
    (`_only_visit`), else every queue."""
    store = backend.jobs
    if store.dispatch_event is not None:
        return  # not the next step after all: the pass already asked for sees the job
    if _changes_nothing(backend, store, job):
        backend.journal.set(store, "quiet_at", store.moves)
        return
    visit = _only_visit(backend, store, job)
    if visit is None:
        _dispatch_pass(backend)
        return
    moves = store.moves
    queue, attached = visit
    fifo.dispatch(backend, queue, store.queues[job.queue_arn], attached)
    _settle(backend, store, moves)


def _settle(backend: Any, store: Any, moves: int) -> None:
    """After a pass that began at `moves`: a fixed point if it moved no job."""
    quiet_at = store.moves if store.moves == moves else None
    if quiet_at != store.quiet_at:
        backend.journal.set(store, "quiet_at", quiet_at)


def _only_visit(backend: Any, store: Any, job: Any) -> tuple[Any, list[Any]] | None:
    """(queue, its compute environments) when the pass for an arrival need
    visit the arrival's own queue only, else None.

    Every change that may let a job start (a job giving back capacity or
    leaving RUNNABLE, a new RUNNABLE job, a reconfiguration, a fault, time
    for a fair-share queue) asks for a pass, and with nothing due every pass
    asked for has run: each queue stands where its last visit left it, its
    head unable to start. What the arrival's own queue places only takes
    capacity, so every other head still cannot start, and, with no
    capacity shortage declared, its blocked reason (spec §2.9: whether it
    could ever fit) stays. That holds while nothing was reconfigured since
    the last full pass (the versions it saw), all queues are FIFO and no
    fair-share queue waits on decay."""
    if backend.shortages or backend.decay_watch or backend.config.backfill:
        return None
    # Only a full pass builds the plan, and it records the versions it saw:
    # a plan of the current versions means no reconfiguration since.
    plan = store.dispatch_plan
    if plan is None or not plan.all_fifo or plan.versions != _versions(backend):
        return None
    return plan.by_arn.get(job.queue_arn)


def run_in_call(backend: Any, event: list) -> None:
    """Run job event `event` now, inside the call, if it is the only event
    due: run_until would take it next, at this very time. As there, the
    after-event hooks follow; unlike there, not `_marked`, since the call's
    own journal covers it and must not be cut."""
    events = backend.events
    if events.only_due(backend.now_ms) is not event:
        return
    events.pop_due(backend.now_ms)
    _, action, args = event[3]
    action(*args)
    backend.jobs.own_event = True
    for hook in backend.after_events:
        hook(backend)


_OWN_MOVES = 2  # SUBMITTED, then RUNNABLE


def _changes_nothing(backend: Any, store: Any, job: Any) -> bool:
    if store.quiet_at is None or store.moves - store.quiet_at != _OWN_MOVES:
        return False
    if backend.config.backfill or backend.decay_watch:
        return False
    queue = backend.job_queues.by_arn.get(job.queue_arn)
    if queue is None or scheduler_for(queue) is not fifo:
        return False
    if store.queues[job.queue_arn].runnable.min() == job.key:
        return False  # the new head of its queue: a pass may place it
    return _versions(backend) == store.versions_seen


def job_event(backend: Any, delay_ms: int, action: Callable[..., Any], *args: Any) -> list:
    """Schedule an engine event of the job engine.

    The mark lets the after-event hook tell the job engine's own events
    (hundreds of thousands) from the rare resource events that may change
    what the scheduler sees.
    """
    return backend.events.schedule(backend.now_ms + delay_ms, _marked, backend, action, args)


def _marked(backend: Any, action: Callable[..., Any], args: tuple) -> None:
    """Run a job event, then keep what it did: each job event is atomic on its own.

    A tick may run a million job events at one timestamp (100,000 jobs
    ending at the same millisecond); an undo log spanning all of them costs
    3-4x the time and hundreds of MiB. If a later event fails, the rollback
    still returns the engine to an event boundary, with that event (and its
    place in the queue) restored.
    """
    action(*args)
    backend.jobs.own_event = True
    backend.journal.checkpoint()  # a no-op outside a tick


def after_event(backend: Any) -> None:
    """Backend hook, run after every event: a resource event (a compute
    environment turning VALID, a queue update finishing...) gets a dispatch
    pass if it changed anything a scheduler reads."""
    store = backend.jobs
    if store.own_event:
        store.own_event = False
        return
    if store.queues and store.versions_seen != _versions(backend):
        request_dispatch(backend)


def _versions(backend: Any) -> tuple[int, int, int]:
    """Changes so far to stored data (any resource's) and to the two tables a
    container scheduler reads: equal to what the last pass recorded, nothing
    a pass reads has changed since. Every arrival and every event asks, so
    it is three ints, not every queue's and compute environment's data. Any
    change counts, even one a pass would read the same way: a pass too many
    is only slower."""
    return backend.data_version, backend.job_queues.version, backend.compute_environments.version


def _queues_in_order(backend: Any) -> list[Any]:
    return sorted(backend.job_queues, key=lambda q: (-q.data.get("priority", 0), q.seq))


def _dispatch_pass(backend: Any) -> None:
    store = backend.jobs
    journal = backend.journal
    if store.dispatch_event is not None:
        journal.set(store, "dispatch_event", None)
    # A pass changes no queue or compute environment data, so the
    # versions it starts from are the ones it leaves seen.
    versions = _versions(backend)
    queues = store.queues
    moves = store.moves
    for arn, queue, attached in _plan(backend, versions):
        jobs = queues.get(arn)
        if jobs is None or (not jobs.runnable and jobs.blocked_job is None):
            continue
        scheduler_for(queue).dispatch(backend, queue, jobs, attached)
    if versions != store.versions_seen:
        journal.set(store, "versions_seen", versions)
    _settle(backend, store, moves)


class _Plan(NamedTuple):
    versions: tuple[int, int, int]
    visits: list[tuple[str, Any, list[Any]]]  # (queue ARN, queue, its compute environments) in visiting order
    by_arn: dict[str, tuple[Any, list[Any]]]
    all_fifo: bool


def _plan(backend: Any, versions: tuple[int, int, int]) -> list[tuple[str, Any, list[Any]]]:
    """(queue ARN, queue, its attached compute environments) in visiting
    order, leaving out queues being deleted. It follows from the
    stored data alone, so it is worked out again only when that changes;
    derived data, not journaled."""
    store = backend.jobs
    plan = store.dispatch_plan
    if plan is None or plan.versions != versions:
        visits = [
            (q.arn, q, fifo._attached(backend, q))
            for q in _queues_in_order(backend)
            if q.data.get("status") not in ("DELETING", "DELETED")
        ]
        plan = _Plan(
            versions,
            visits,
            {arn: (q, attached) for arn, q, attached in visits},
            all(scheduler_for(q) is fifo for _, q, _ in visits),
        )
        store.dispatch_plan = plan
    return plan.visits


def scheduler_for(queue: Any) -> Any:
    # A container queue can only hold a fair-share policy (quota-share
    # policies go on SAGEMAKER_TRAINING queues), and never loses it.
    return fair_share if queue.data.get("schedulingPolicyArn") else fifo
