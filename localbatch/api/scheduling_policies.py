"""Scheduling policies (spec §1.5, §7 row 26): fair-share or quota-share."""

from __future__ import annotations

import re
from typing import Any

from localbatch.api import operation
from localbatch.api._common import check_name, check_new, check_range, check_tags, fresh, paged, require_one, updated
from localbatch.engine.tables import Resource
from localbatch.errors import BatchClientError

_SHARE_ID_RE = re.compile(r"[A-Za-z0-9]{1,255}\*?")
_FAIRSHARE_DEFAULTS = {"shareDecaySeconds": 0, "computeReservation": 0, "shareDistribution": []}
MAX_DESCRIBE = 100


def is_quota_share(policy: Resource) -> bool:
    return "quotaSharePolicy" in policy.data


def _check_fairshare(policy: dict[str, Any]) -> dict[str, Any]:
    check_range("shareDecaySeconds", policy.get("shareDecaySeconds"), 0, 604800)
    check_range("computeReservation", policy.get("computeReservation"), 0, 99)
    seen: list[str] = []
    for share in policy.get("shareDistribution", []):
        ident = share["shareIdentifier"]
        if not _SHARE_ID_RE.fullmatch(ident):
            raise BatchClientError(
                f"shareIdentifier {ident} must be up to 255 alphanumeric characters, optionally ending in *"
            )
        check_range("weightFactor", share.get("weightFactor"), 0.0001, 999.9999)
        for other in seen:
            if _overlaps(ident, other):
                raise BatchClientError(f"shareIdentifier {ident} overlaps with shareIdentifier {other}")
        seen.append(ident)
    return {**_FAIRSHARE_DEFAULTS, **policy}


def _overlaps(a: str, b: str) -> bool:
    # `UserA*` covers `UserA1` and `UserA*B...`; two exact names overlap only if equal.
    if a.endswith("*") and b.startswith(a[:-1]):
        return True
    if b.endswith("*") and a.startswith(b[:-1]):
        return True
    return a == b


def _policy_body(params: dict[str, Any]) -> dict[str, Any]:
    fair = params.get("fairsharePolicy")
    quota = params.get("quotaSharePolicy")
    if fair is not None and quota is not None:
        raise BatchClientError("A scheduling policy can have a fairsharePolicy or a quotaSharePolicy, not both")
    if quota is not None:
        return {"quotaSharePolicy": quota}
    return {"fairsharePolicy": _check_fairshare(fair or {})}


def find(backend: Any, arn: str) -> Resource:
    return require_one(backend.scheduling_policies, arn, f"{arn} does not exist")


@operation("CreateSchedulingPolicy")
def create_scheduling_policy(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    name = params["name"]
    check_name("name", name)
    body = _policy_body(params)
    check_tags(params.get("tags"))
    check_new(backend.scheduling_policies, name)
    arn = backend.arn(f"scheduling-policy/{name}")
    data = {"name": name, "arn": arn, **body, "tags": params.get("tags", {})}
    backend.scheduling_policies.add(Resource(backend.next_seq(), arn, name, data))
    return {"name": name, "arn": arn}


@operation("UpdateSchedulingPolicy")
def update_scheduling_policy(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    policy = find(backend, params["arn"])
    if "fairsharePolicy" not in params and "quotaSharePolicy" not in params:
        return {}
    body = _policy_body(params)
    if ("quotaSharePolicy" in body) != is_quota_share(policy):
        raise BatchClientError("The type of a scheduling policy cannot be changed after it is created")
    updated(backend, policy, **body)
    _reschedule(backend, policy.arn)
    return {}


def _reschedule(backend: Any, policy_arn: str) -> None:
    """New weights, window or reservation count from the next dispatch pass of
    every queue using the policy (a pass otherwise runs only when jobs or
    queues change)."""
    from localbatch.engine import schedulers, service_lifecycle

    kinds = {
        q.data.get("jobQueueType") == "SAGEMAKER_TRAINING"
        for q in backend.job_queues
        if q.data.get("schedulingPolicyArn") == policy_arn
    }
    if False in kinds:
        schedulers.request_dispatch(backend)
    if True in kinds:
        service_lifecycle.request_dispatch(backend)


@operation("DeleteSchedulingPolicy")
def delete_scheduling_policy(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    policy = find(backend, params["arn"])
    if any(q.data.get("schedulingPolicyArn") == policy.arn for q in backend.job_queues):
        raise BatchClientError("Cannot delete, found existing JobQueue relationship.")
    backend.scheduling_policies.remove(policy)
    return {}


@operation("DescribeSchedulingPolicies")
def describe_scheduling_policies(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    arns = params["arns"]
    if len(arns) > MAX_DESCRIBE:
        raise BatchClientError(f"arns must contain at most {MAX_DESCRIBE} items")
    found: dict[str, Resource] = {}
    for arn in arns:
        policy = backend.scheduling_policies.get(arn)
        if policy is not None:
            found.setdefault(policy.arn, policy)  # duplicates collapse, request order kept
    return {"schedulingPolicies": [fresh(p) for p in found.values()]}


@operation("ListSchedulingPolicies")
def list_scheduling_policies(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    return paged(params, "schedulingPolicies", backend.scheduling_policies, lambda p: {"arn": p.arn})
