"""Quota shares of SageMaker training queues (spec §1.7, §7 row 27).

A quota share is a virtual queue inside a quota-management job queue with
its own capacity limits per instance type. Its ARN hangs off the queue's:
`<jobQueueArn>/quota-share/<name>`.
"""

from __future__ import annotations

from typing import Any

from localbatch.api import operation
from localbatch.api._common import check_name, check_new, check_tags, finish_later, fresh, paged, updated
from localbatch.api.scheduling_policies import is_quota_share
from localbatch.engine.tables import Resource
from localbatch.errors import BatchClientError

MAX_CAPACITY_LIMITS = 5
UNLIMITED_BORROW = -1


def find_quota_share(backend: Any, arn: str) -> Resource:
    share = backend.quota_shares.get(arn)
    if share is None or share.data["status"] == "DELETING":
        raise BatchClientError(f"{arn} does not exist")
    return share


def shares_of_queue(backend: Any, queue_arn: str) -> list[Resource]:
    """The queue's quota shares in creation order, from the table's index by
    queue (a scan of every share would grow with the shares of other queues)."""
    return list(backend.quota_shares.in_group(queue_arn))


def _quota_queue(backend: Any, given: str) -> Resource:
    queue = backend.job_queues.get(given)
    if queue is None:
        raise BatchClientError(f"JobQueue {given} not found.")
    policy_arn = queue.data.get("schedulingPolicyArn")
    policy = backend.scheduling_policies.get(policy_arn) if policy_arn else None
    if policy is None or not is_quota_share(policy):
        raise BatchClientError(f"JobQueue {queue.name} does not have a quota share scheduling policy")
    if queue.data.get("status") != "VALID":
        raise BatchClientError(f"JobQueue {queue.name} is not in VALID status")
    return queue


def _environment_units(backend: Any, queue: Resource) -> set[str]:
    units: set[str] = set()
    for entry in queue.data.get("serviceEnvironmentOrder", []):
        environment = backend.service_environments.get(entry["serviceEnvironment"])
        if environment is not None:
            units.update(limit["capacityUnit"] for limit in environment.data.get("capacityLimits", []))
    return units


def _check_limits(limits: list[dict[str, Any]], units: set[str]) -> None:
    if not 1 <= len(limits) <= MAX_CAPACITY_LIMITS:
        raise BatchClientError(f"capacityLimits must contain between 1 and {MAX_CAPACITY_LIMITS} entries")
    seen: set[str] = set()
    for limit in limits:
        unit = limit["capacityUnit"]
        if limit["maxCapacity"] < 0:
            raise BatchClientError("maxCapacity must be greater than or equal to 0")
        if unit in seen:
            raise BatchClientError(f"capacityUnit {unit} appears more than once in capacityLimits")
        if unit not in units:
            raise BatchClientError(
                f"capacityUnit {unit} is not a capacity unit of the service environment of the job queue"
            )
        seen.add(unit)


def _check_sharing(sharing: dict[str, Any]) -> dict[str, Any]:
    strategy = sharing["strategy"]
    borrow = sharing.get("borrowLimit")
    if borrow is not None and strategy != "LEND_AND_BORROW":
        raise BatchClientError("borrowLimit can only be specified with the LEND_AND_BORROW strategy")
    if borrow is not None and borrow < UNLIMITED_BORROW:
        raise BatchClientError("borrowLimit must be -1 (unlimited) or greater than or equal to 0")
    if strategy == "LEND_AND_BORROW" and borrow is None:
        return {**sharing, "borrowLimit": UNLIMITED_BORROW}
    return sharing


def _finish_delete(backend: Any, share: Resource) -> None:
    from localbatch.engine.service_lifecycle import fail_jobs_of_share

    fail_jobs_of_share(backend, share)  # spec §1.7: deletion terminates all its jobs
    backend.quota_shares.remove(share)


@operation("CreateQuotaShare")
def create_quota_share(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    name = params["quotaShareName"]
    check_name("quotaShareName", name)
    queue = _quota_queue(backend, params["jobQueue"])
    _check_limits(params["capacityLimits"], _environment_units(backend, queue))
    sharing = _check_sharing(params["resourceSharingConfiguration"])
    check_tags(params.get("tags"))
    arn = f"{queue.arn}/quota-share/{name}"
    check_new(backend.quota_shares, arn)
    limit = backend.config.max_quota_shares_per_queue
    if len(shares_of_queue(backend, queue.arn)) >= limit:
        raise BatchClientError(f"Exceeded the limit of {limit} quota shares for job queue {queue.name}")
    data = {
        "quotaShareName": name,
        "quotaShareArn": arn,
        "jobQueueArn": queue.arn,
        "capacityLimits": params["capacityLimits"],
        "resourceSharingConfiguration": sharing,
        "preemptionConfiguration": params["preemptionConfiguration"],
        "state": params.get("state", "ENABLED"),
        "status": "CREATING",
        "tags": params.get("tags", {}),
    }
    share = Resource(backend.next_seq(), arn, name, data)
    share.group = queue.arn  # indexes it under its queue (shares_of_queue, ListQuotaShares)
    backend.quota_shares.add(share)
    finish_later(backend, backend.quota_shares, share, "CREATING", status="VALID")
    return {"quotaShareName": name, "quotaShareArn": arn}


@operation("UpdateQuotaShare")
def update_quota_share(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    share = find_quota_share(backend, params["quotaShareArn"])
    changes: dict[str, Any] = {}
    if "capacityLimits" in params:
        queue = backend.job_queues.get(share.data["jobQueueArn"])
        units = _environment_units(backend, queue) if queue is not None else set()
        _check_limits(params["capacityLimits"], units)
        changes["capacityLimits"] = params["capacityLimits"]
    if "resourceSharingConfiguration" in params:
        changes["resourceSharingConfiguration"] = _check_sharing(params["resourceSharingConfiguration"])
    for key in ("preemptionConfiguration", "state"):
        if key in params:
            changes[key] = params[key]
    if changes:
        updated(backend, share, status="UPDATING", **changes)
        finish_later(backend, backend.quota_shares, share, "UPDATING", status="VALID")
    return {"quotaShareName": share.name, "quotaShareArn": share.arn}


@operation("DeleteQuotaShare")
def delete_quota_share(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    share = find_quota_share(backend, params["quotaShareArn"])
    if share.data["state"] != "DISABLED":
        raise BatchClientError("Cannot delete, quota share must be in DISABLED state")
    updated(backend, share, status="DELETING")
    backend.schedule_in(backend.resource_latency_ms, _finish_delete, backend, share)
    return {}


@operation("DescribeQuotaShare")
def describe_quota_share(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    return fresh(find_quota_share(backend, params["quotaShareArn"]))


def _summary(share: Resource) -> dict[str, Any]:
    summary = fresh(share)
    summary.pop("tags", None)  # QuotaShareDetail carries no tags; DescribeQuotaShare does
    return summary


def _not_deleting(share: Resource) -> bool:
    return share.data["status"] != "DELETING"


@operation("ListQuotaShares")
def list_quota_shares(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    queue = backend.job_queues.get(params["jobQueue"])
    if queue is None:
        raise BatchClientError(f"JobQueue {params['jobQueue']} not found.")
    return paged(params, "quotaShares", backend.quota_shares, _summary, _not_deleting, group=queue.arn)
