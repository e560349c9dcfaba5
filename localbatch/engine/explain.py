"""`lb.explain(job_id)`: one line saying why a container job is where it is.

It only reads. A RUNNABLE job is explained with the scheduler's own
predicates (`fifo._attached`, `fifo._place`, `capacity.never_fits`,
`capacity.short_for`, `capacity.consumables_available`) applied to the
state the last dispatch pass saw: a pass runs whenever something a
scheduler reads changes, and the controller runs every due event before
explaining, so a RUNNABLE job is exactly one the pass could not place. A scheduler module may offer its own
`explain_runnable(backend, queue, jobs, job) -> str | None` (a fair-share
queue orders jobs differently); FIFO's order is the fallback.

Times are engine time in ISO 8601 UTC, milliseconds shown only when not 0.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from localbatch.engine import capacity, schedulers
from localbatch.engine.jobs import (
    FAILED,
    PENDING,
    RUNNABLE,
    RUNNING,
    STARTING,
    STATUSES,
    SUBMITTED,
    SUCCEEDED,
    Job,
)
from localbatch.engine.schedulers import fifo


def explain_job(backend: Any, job: Job) -> str:
    """Why `job` is in its current status, in one line starting with the status."""
    explain = _BY_STATUS.get(job.status)
    if explain is None:  # not created yet: cannot be seen from outside a call
        return f"{job.status}: unknown"
    return explain(backend, job)


def iso(ms: int) -> str:
    """Engine time as `2026-01-01T00:00:30Z` (`.250Z` when there are milliseconds)."""
    seconds, millis = divmod(ms, 1000)
    text = datetime.fromtimestamp(seconds, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
    return f"{text}.{millis:03d}Z" if millis else f"{text}Z"


def _name(arn: str | None) -> str:
    return (arn or "?").rpartition("/")[2]


def _number(value: float) -> str:
    return f"{value:g}"


def _dependencies(n: int) -> str:
    return "1 dependency" if n == 1 else f"{n} dependencies"


# -- SUBMITTED ---------------------------------------------------------------------------


def _submitted(backend: Any, job: Job) -> str:
    due = job.event[0] if job.event is not None else backend.now_ms
    return f"SUBMITTED: dependencies and queue are evaluated at {iso(due)}"


# -- PENDING -----------------------------------------------------------------------------


def _pending(backend: Any, job: Job) -> str:
    if job.is_array_parent and job.children is not None:
        return _array_progress(job)
    waits = _unfinished(backend, job)
    if not waits:
        if job.is_array_parent:
            due = job.event[0] if job.event is not None else backend.now_ms
            return f"PENDING: spawns its {job.spec.array_size} array children at {iso(due)}"
        return "PENDING: its dependencies are done; it moves on at the next event"
    listed = ", ".join(waits)
    count = _dependencies(len(waits))
    if job.cancel_reason is not None:
        verb = "finishes" if len(waits) == 1 else "finish"
        return f"PENDING: cancelled ({job.cancel_reason}); fails once its {count} {verb}: {listed}"
    return f"PENDING: waiting for {count}: {listed}"


def _unfinished(backend: Any, job: Job) -> list[str]:
    """The dependencies `job` still waits for, as `<id> (<status>)`, in the
    order the job lists them (the same rules as flow.evaluate / spawn_children)."""
    if job.is_array_child:
        return _child_waits(backend, job)
    out = []
    for dependency in job.dependencies:
        if dependency.get("type") == "SEQUENTIAL":
            continue
        target = backend.jobs.get(dependency["jobId"])
        if target is None:
            continue
        if dependency.get("type") == "N_TO_N" and job.is_array_parent and target.is_array_parent:
            if target.children is None:
                out.append(f"{target.id} (array job, children not spawned yet)")
            continue
        if target.status != SUCCEEDED:
            out.append(f"{target.id} ({target.status})")
    return out


def _child_waits(backend: Any, child: Job) -> list[str]:
    parent = child.parent
    index = child.index
    targets = []
    for dependency in parent.dependencies:
        peer = backend.jobs.get(dependency.get("jobId") or "")
        if dependency.get("type") != "N_TO_N" or peer is None or peer.children is None:
            continue
        if index < len(peer.children):
            targets.append(peer.children[index])
    if parent.spec.sequential and index > 0:
        targets.append(parent.children[index - 1])
    return [f"{t.id} ({t.status})" for t in targets if t.status != SUCCEEDED]


def _array_progress(parent: Job) -> str:
    summary = parent.summary or {}
    size = parent.spec.array_size
    done = summary.get(SUCCEEDED, 0) + summary.get(FAILED, 0)
    counts = ", ".join(f"{status} {summary[status]}" for status in STATUSES if summary.get(status))
    text = f"PENDING: array job, {done} of {size} children finished ({counts})"
    if parent.cancel_reason is not None:
        text += f"; cancelled ({parent.cancel_reason}), fails once its children have ended"
    return text


# -- RUNNABLE ----------------------------------------------------------------------------


def _runnable(backend: Any, job: Job) -> str:
    if job.is_node:
        return f"RUNNABLE: node {job.index} of multi-node job {job.parent.id}, which is " + explain_job(
            backend, job.parent
        )
    queue = backend.job_queues.by_arn.get(job.queue_arn)
    if queue is None:
        return f"RUNNABLE: its job queue {_name(job.queue_arn)} no longer exists"
    if queue.data.get("status") in ("DELETING", "DELETED"):
        return f"RUNNABLE: job queue {queue.name} is being deleted"
    jobs = backend.jobs.queues[job.queue_arn]
    own = getattr(schedulers.scheduler_for(queue), "explain_runnable", None)
    if own is not None:
        text = own(backend, queue, jobs, job)
        if text:
            return f"RUNNABLE: {text}"
    attached = fifo._attached(backend, queue)
    if not backend.config.backfill:
        head = jobs.runnable_jobs[jobs.runnable.min()]
        if head is not job:
            return (
                f"RUNNABLE: behind job {head.id} at the head of queue {queue.name} "
                f"(blocked: {blocked(backend, queue, head, attached)})"
            )
    return f"RUNNABLE: {blocked(backend, queue, job, attached)}"


def blocked(backend: Any, queue: Any, job: Job, attached: list[Any]) -> str:
    """Why the FIFO dispatch pass could not place `job` (see fifo._place)."""
    text = _why_not_placed(backend, queue, job, attached)
    if job.blocked_reason is not None and job.event is not None:
        text += f"; the queue's jobStateTimeLimitActions cancel it at {iso(job.event[0])}"
    return text


def _why_not_placed(backend: Any, queue: Any, job: Job, attached: list[Any]) -> str:
    vcpus = job.spec.vcpus
    needs = f"needs {_number(vcpus)} vCPU"
    if not attached:
        return f"{needs}, job queue {queue.name} has no compute environment"
    misconfigured = capacity.never_fits(backend, job, attached)
    if misconfigured is not None:
        largest = ", ".join(f"{ce.name} {_capacity_text(ce)}" for ce in attached)
        return f"{misconfigured} ({needs}; {largest})"
    targets = [ce for ce in attached if capacity.usable(ce)]
    if fifo._place(backend, job, targets) is not None:
        return f"{needs} and fits; it is dispatched at the next pass"
    parts = []
    for ce in attached:
        if not capacity.usable(ce):
            state = ce.data.get("state") if ce.data.get("state") != "ENABLED" else ce.data.get("status")
            parts.append(f"compute environment {ce.name} is {state}")
        elif not capacity.can_host(ce, job):
            parts.append(f"compute environment {ce.name} ({capacity.ce_kind(ce)}) cannot run multi-node jobs")
        elif capacity.free(backend, ce) < vcpus:
            parts.append(
                f"compute environment {ce.name} has {_number(capacity.free(backend, ce))} of "
                f"{_number(capacity.capacity(ce))} free"
            )
        elif (short := capacity.short_for(backend, ce)) is not None:
            parts.append(
                f"compute environment {ce.name} has the vCPUs but no instances to launch: {short} "
                "(injected with lb.insufficient_capacity)"
            )
        else:  # room for the vCPUs: the consumable resources are short (fifo._place stops here)
            return (
                f"waiting for consumable resource units: {_consumables_short(backend, job)} "
                f"(compute environment {ce.name} has the {_number(vcpus)} vCPU)"
            )
    return f"{needs}, " + "; ".join(parts)


def _capacity_text(ce: Any) -> str:
    if ce.data.get("status") == "INVALID":
        return "INVALID" + (f" ({ce.data['statusReason']})" if ce.data.get("statusReason") else "")
    limit = capacity.capacity(ce)
    return "unlimited vCPUs" if limit == capacity.UNLIMITED else f"maxvCpus {_number(limit)}"


def _consumables_short(backend: Any, job: Job) -> str:
    table = backend.consumable_resources
    short = []
    for arn, quantity in job.spec.consumables or ():
        resource = table.by_arn.get(arn)
        if resource is None:
            short.append(f"{_name(arn)} needs {quantity}, but it was deleted")
        elif resource.data["availableQuantity"] < quantity:
            short.append(f"{resource.name} needs {quantity}, {resource.data['availableQuantity']} available")
    return "; ".join(short)


# -- STARTING / RUNNING ----------------------------------------------------------------------


def _attempts_allowed(job: Job) -> int:
    return (job.spec.retry_strategy or {}).get("attempts") or 1


def _active(backend: Any, job: Job) -> str:
    attempt = job.attempts[-1]
    where = _name(attempt.compute_environment)
    of = f"attempt {attempt.number} of {_attempts_allowed(job)}"
    # The main node's timers are its job's: the job ends when it exits (spec §2.5).
    timed = job
    if job.is_node:
        is_main = job.index == job.spec.node_properties["mainNode"]
        of = f"{'main node' if is_main else 'node'} {job.index} of multi-node job {job.parent.id}, {of}"
        if is_main:
            timed = job.parent
    if job.status == STARTING:
        text = f"STARTING on {where} since {iso(job.scheduled_at)}, {of}"
        if timed.event is not None:
            text += f"; RUNNING at {iso(timed.event[0])}"
        if job.is_multinode or timed is not job:
            text += "; the other nodes launch once the main node is RUNNING"
        return text
    text = f"RUNNING on {where} since {iso(attempt.started_at)}, {of}"
    if job.is_node and timed is job:
        return text + "; ends with its main node"
    if timed.event is not None:
        exit_code = (timed.outcome or (0, None))[0]
        text += f"; its container exits with code {exit_code} at {iso(timed.event[0])}"
    elif timed.outcome is not None and timed.outcome[0] is None:
        text += "; its process was killed at the attempt's time limit"
    else:
        text += "; it runs until lb.complete()"
    if timed.timeout_event is not None:
        text += f"; the attempt times out at {iso(timed.timeout_event[0])}"
    return text


# -- SUCCEEDED / FAILED --------------------------------------------------------------------


def _ended(backend: Any, job: Job) -> str:
    details = []
    reason = job.status_reason
    if job.is_array_parent:
        summary = job.summary or {}
        details.append(f"array of {job.spec.array_size}: SUCCEEDED {summary.get(SUCCEEDED, 0)}, "
                       f"FAILED {summary.get(FAILED, 0)}")
        reason = reason or "every child succeeded"
    elif job.attempts:
        last = job.attempts[-1]
        details.append(f"attempt {last.number} of {_attempts_allowed(job)}")
        if last.exit_code is not None:
            details.append(f"exit code {last.exit_code}")
        if last.reason:
            details.append(f"reason {last.reason}")
    else:
        details.append("never ran")
    if job.is_terminated:
        details.append("terminated")
    elif job.is_cancelled:
        details.append("cancelled")
    details.append(f"at {iso(job.stopped_at)}")
    text = f"{job.status}: {reason or 'no statusReason'} ({', '.join(details)})"
    parent = job.parent
    if job.is_node and parent.status not in (SUCCEEDED, FAILED):
        text += f"; this node ended alone, multi-node job {parent.id} is {parent.status} (its main node decides)"
    return text


_BY_STATUS = {
    SUBMITTED: _submitted,
    PENDING: _pending,
    RUNNABLE: _runnable,
    STARTING: _active,
    RUNNING: _active,
    SUCCEEDED: _ended,
    FAILED: _ended,
}
