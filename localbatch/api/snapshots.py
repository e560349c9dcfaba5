"""GetJobQueueSnapshot (spec §5 and its [proposed] rules).

`frontOfQueue` lists the first 100 RUNNABLE jobs in the order the queue's
scheduler would try them (engine/schedulers/service_fifo.py, quota_share.py,
service_fair_share.py and fair_share.py say which order that is);
`earliestTimeAtPosition` is when the job took its current index, which the
service-job schedulers record at the end of each pass and as jobs arrive
between passes (on fair-share service queues, whose order moves with the
clock, also at each snapshot). Container queues (FIFO and fair-share) are
followed from their first snapshot on, after every engine event.
Utilisation counts the capacity of dispatched jobs: STARTING+RUNNING
container jobs in VCPU (EKS: cpu), SCHEDULED+STARTING+RUNNING service jobs
per instance type; fair-share queues add `fairshareUtilization` (the shares
holding capacity, and the top 20 of them by what they hold).
"""

from __future__ import annotations

from typing import Any

from localbatch.api import operation
from localbatch.errors import BatchClientError

FRONT_SIZE = 100
TOP_SHARES = 20


@operation("GetJobQueueSnapshot")
def get_job_queue_snapshot(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    from localbatch.api.job_queues import find_job_queue

    given = params["jobQueue"]
    queue = find_job_queue(backend, given)
    if queue is None or queue.data.get("status") in ("DELETING", "DELETED"):
        raise BatchClientError(f"JobQueue {given} not found.")
    if queue.data.get("jobQueueType") == "SAGEMAKER_TRAINING":
        return _service_snapshot(backend, queue)
    return _container_snapshot(backend, queue)


def _entry(arn: str, since: int) -> dict[str, Any]:
    return {"jobArn": arn, "earliestTimeAtPosition": since}


def _usage(units: dict[str, float]) -> list[dict[str, Any]]:
    return [{"capacityUnit": unit, "quantity": float(n)} for unit, n in sorted(units.items()) if n]


# -- service queues -------------------------------------------------------------------


def _service_snapshot(backend: Any, queue: Any) -> dict[str, Any]:
    from localbatch.engine.schedulers import quota_share, service_fair_share
    from localbatch.engine.service_lifecycle import service_scheduler

    now = backend.now_ms
    jobs = backend.service_jobs.queues.get(queue.arn)
    scheduler = service_scheduler(backend, queue, jobs)
    quota = scheduler is quota_share
    fair = scheduler is service_fair_share
    if fair:
        front = service_fair_share.current_front(backend, queue, jobs)
    else:
        front = scheduler.front_order(backend, queue, jobs) if jobs is not None else []
    recorded, since = (jobs.front_jobs, jobs.front_since) if jobs is not None else ((), ())
    entries = [
        _entry(job.arn, since[index] if index < len(recorded) and recorded[index] is job else now)
        for index, job in enumerate(front)
    ]
    out: dict[str, Any] = {"frontOfQueue": {"jobs": entries, "lastUpdatedAt": now}}
    if quota:
        heads = {name: [_entry(head.arn, head.head_since or now)] for name, head in quota_share.share_heads(backend, queue)}
        out["frontOfQuotaShares"] = {"quotaShares": heads, "lastUpdatedAt": now}
    utilization: dict[str, Any] = {"totalCapacityUsage": _usage(jobs.usage if jobs is not None else {})}
    if quota:
        utilization["quotaShareUtilization"] = {"topCapacityUtilization": _share_utilization(jobs)}
    elif fair or _has_fairshare_policy(backend, queue):
        utilization["fairshareUtilization"] = service_fair_share.fair_share_utilization(backend, jobs)
    utilization["lastUpdatedAt"] = now
    out["queueUtilization"] = utilization
    return out


def _has_fairshare_policy(backend: Any, queue: Any) -> bool:
    arn = queue.data.get("schedulingPolicyArn")
    policy = backend.scheduling_policies.get(arn) if arn else None
    return policy is not None and "fairsharePolicy" in policy.data


def _share_utilization(jobs: Any) -> list[dict[str, Any]]:
    if jobs is None:
        return []
    used = []
    for arn, units in jobs.share_usage.items():
        total = sum(units.values())
        if total:
            used.append((-total, arn.rpartition("/")[2], units))
    used.sort(key=lambda entry: entry[:2])
    return [{"quotaShareName": name, "capacityUsage": _usage(units)} for _, name, units in used[:TOP_SHARES]]


# -- container queues ----------------------------------------------------------------------


def _container_front(backend: Any, queue_arn: str) -> list[Any]:
    jobs = backend.jobs.queues.get(queue_arn)
    if jobs is None:
        return []
    queue = backend.job_queues.by_arn.get(queue_arn)
    if jobs.fair_share is not None and queue is not None:  # a fair-share queue: its scheduler's order
        from localbatch.engine.schedulers.fair_share import fair_share_front

        return fair_share_front(backend, queue, FRONT_SIZE)
    out = []
    for key in jobs.runnable.ascending():
        out.append(jobs.runnable_jobs[key])
        if len(out) == FRONT_SIZE:
            break
    return out


def _positions(backend: Any, queue_arn: str, front: list[Any]) -> dict[str, tuple[int, int]]:
    """Index and since-when of each front job, given what was recorded before."""
    now = backend.now_ms
    before = backend.service_jobs.container_fronts.get(queue_arn) or {}
    out = {}
    for index, job in enumerate(front):
        seen = before.get(job.id)
        out[job.id] = seen if seen is not None and seen[0] == index else (index, now)
    return out


def follow_container_fronts(backend: Any) -> None:
    """Backend hook: keep the positions of followed container queues current."""
    fronts = backend.service_jobs.container_fronts
    for queue_arn in list(fronts):
        positions = _positions(backend, queue_arn, _container_front(backend, queue_arn))
        if positions != fronts[queue_arn]:
            backend.journal.put(fronts, queue_arn, positions)


def _container_snapshot(backend: Any, queue: Any) -> dict[str, Any]:
    now = backend.now_ms
    front = _container_front(backend, queue.arn)
    positions = _positions(backend, queue.arn, front)
    backend.journal.put(backend.service_jobs.container_fronts, queue.arn, positions)  # followed from now on
    entries = [_entry(job.arn, positions[job.id][1]) for job in front]
    unit = "cpu" if queue.data.get("jobQueueType") == "EKS" else "VCPU"
    total = 0.0
    jobs = backend.jobs.queues.get(queue.arn)
    if jobs is not None:
        by_seq = backend.jobs.by_seq
        for status in ("STARTING", "RUNNING"):
            for seq in jobs.by_status[status].ascending():
                total += by_seq[seq].spec.vcpus
        for seq in jobs.by_status["PENDING"].ascending():
            parent = by_seq[seq]  # array children are counted in their parent's summary
            if parent.summary is not None:
                total += (parent.summary["STARTING"] + parent.summary["RUNNING"]) * parent.spec.vcpus
    usage = [{"capacityUnit": unit, "quantity": total}] if total else []
    utilization: dict[str, Any] = {"totalCapacityUsage": usage, "lastUpdatedAt": now}
    if queue.data.get("schedulingPolicyArn"):  # container queues take only fair-share policies
        from localbatch.engine.schedulers.fair_share import fair_share_utilization

        utilization["fairshareUtilization"] = fair_share_utilization(backend, queue)
    return {"frontOfQueue": {"jobs": entries, "lastUpdatedAt": now}, "queueUtilization": utilization}
