"""Job queues (spec §1.3, §1.9, §7 rows 1, 3, 24, 25, 32).

A queue draws on compute environments (container jobs) or on one service
environment (SageMaker Training jobs), never both. Its `jobQueueType`
follows from what it draws on. `computeEnvironmentOrder` is stored sorted
by ascending `order`, the order the scheduler tries the environments in.
"""

from __future__ import annotations

from typing import Any

from localbatch.api import operation
from localbatch.api._common import (
    check_name,
    check_new,
    check_range,
    check_tags,
    describe_paged,
    finish_later,
    fresh,
    updated,
)
from localbatch.api.compute_environments import find_compute_environment, platform
from localbatch.api.scheduling_policies import find as find_scheduling_policy
from localbatch.api.scheduling_policies import is_quota_share
from localbatch.api.service_environments import find_service_environment, has_instance_type_limits
from localbatch.engine.tables import Resource
from localbatch.errors import BatchClientError

HEALTHY = "JobQueue Healthy"
SAGEMAKER_TRAINING = "SAGEMAKER_TRAINING"
BUSY = frozenset({"CREATING", "UPDATING"})
MAX_SERVICE_ENVIRONMENTS = 1  # spec §1.1: one service environment per job queue
_POLICY_FIXED = "Scheduling policy cannot be added to or removed from a job queue after creation"


# -- lookups other modules use ------------------------------------------------


def find_job_queue(backend: Any, name_or_arn: str) -> Resource | None:
    """The job queue named or ARN'd, in any status (DELETING included)."""
    return backend.job_queues.get(name_or_arn)


def compute_environments_of(backend: Any, queue: Resource) -> list[Resource]:
    """The queue's compute environments, in the order jobs are placed on them."""
    return [backend.compute_environments.by_arn[e["computeEnvironment"]] for e in queue.data["computeEnvironmentOrder"]]


def service_environments_of(backend: Any, queue: Resource) -> list[Resource]:
    return [
        backend.service_environments.by_arn[e["serviceEnvironment"]]
        for e in queue.data.get("serviceEnvironmentOrder", ())
    ]


def is_quota_management(backend: Any, queue: Resource) -> bool:
    """True if the queue schedules by quota shares (its policy is a quota-share policy)."""
    arn = queue.data.get("schedulingPolicyArn")
    policy = backend.scheduling_policies.get(arn) if arn else None
    return policy is not None and is_quota_share(policy)


def _arn_of(backend: Any, given: str) -> str:
    return given if given.startswith("arn:") else backend.arn(f"job-queue/{given}")


def _find(backend: Any, given: str) -> Resource:
    queue = backend.job_queues.get(given)
    if queue is None:
        # [obs] S7/S8: the message carries the full ARN even when a name was given.
        raise BatchClientError(f"{_arn_of(backend, given)} does not exist")
    return queue


# -- environments -------------------------------------------------------------


def _check_new_environment(env: Resource, attached: frozenset[str]) -> None:
    # Environments already attached may be UPDATING; only new ones must be VALID.
    if env.arn not in attached and env.data["status"] != "VALID":
        raise BatchClientError(f"{env.arn} is not in VALID status")


def _compute_order(backend: Any, entries: list[dict[str, Any]], attached: frozenset[str]) -> list[tuple[int, Resource]]:
    limit = backend.config.max_compute_environments_per_queue
    if len(entries) > limit:
        raise BatchClientError(f"computeEnvironmentOrder can contain at most {limit} compute environments")
    resolved: list[tuple[int, Resource]] = []
    for entry in entries:
        ce = find_compute_environment(backend, entry["computeEnvironment"])
        if ce is None:
            raise BatchClientError(f"{entry['computeEnvironment']} does not exist")
        _check_new_environment(ce, attached)
        if any(order == entry["order"] for order, _ in resolved):
            raise BatchClientError(f"computeEnvironmentOrder has order {entry['order']} more than once")
        if any(other is ce for _, other in resolved):
            raise BatchClientError(f"{ce.arn} appears more than once in computeEnvironmentOrder")
        resolved.append((entry["order"], ce))
    resolved.sort(key=lambda pair: pair[0])
    if len({platform(ce) for _, ce in resolved}) > 1:
        raise BatchClientError(
            "All of the compute environments must be either EC2 (EC2 or SPOT), Fargate (FARGATE or FARGATE_SPOT) "
            "or ECS_MANAGED_INSTANCES; they can't be mixed"
        )
    if len({ce.data["containerOrchestrationType"] for _, ce in resolved}) > 1:
        raise BatchClientError("All of the compute environments must use ECS or all must use EKS; they can't be mixed")
    return resolved


def _service_order(backend: Any, entries: list[dict[str, Any]], attached: frozenset[str]) -> list[tuple[int, Resource]]:
    if len(entries) > MAX_SERVICE_ENVIRONMENTS:
        raise BatchClientError(
            f"serviceEnvironmentOrder can contain at most {MAX_SERVICE_ENVIRONMENTS} service environment"
        )
    resolved: list[tuple[int, Resource]] = []
    for entry in entries:
        se = find_service_environment(backend, entry["serviceEnvironment"])
        if se is None:
            raise BatchClientError(f"{entry['serviceEnvironment']} does not exist")
        _check_new_environment(se, attached)
        resolved.append((entry["order"], se))
    return resolved


def _derived_type(compute: list[tuple[int, Resource]], service: list[tuple[int, Resource]]) -> str | None:
    if service:
        return SAGEMAKER_TRAINING
    if not compute:
        return None
    ce = compute[0][1]
    if ce.data["containerOrchestrationType"] == "EKS":
        return "EKS"
    kind = platform(ce)
    return "ECS_FARGATE" if kind == "FARGATE" else "ECS" if kind == "EC2" else kind


def _check_orders(compute: list, service: list) -> None:
    if compute and service:
        raise BatchClientError("A job queue can't have both a serviceEnvironmentOrder and a computeEnvironmentOrder")


def _check_type(queue_type: str, derived: str | None) -> None:
    if derived is not None and derived != queue_type:
        raise BatchClientError(f"jobQueueType {queue_type} doesn't match its environments, which make it {derived}")


# -- scheduling policy and quota management -------------------------------------


def _check_quota_management(
    backend: Any, queue_arn: str, queue_type: str, policy: Resource | None, service: list[tuple[int, Resource]]
) -> None:
    """Spec §1.3 prerequisites 1-4 and the one-queue-per-quota-environment rule."""
    quota = policy is not None and is_quota_share(policy)
    if not quota:
        if any(has_instance_type_limits(se) for _, se in service):
            raise BatchClientError(
                "A service environment with capacity limits by instance type can only be used by a job queue "
                "with a quota share scheduling policy"
            )
        return
    if queue_type != SAGEMAKER_TRAINING:
        raise BatchClientError("A quota share scheduling policy can only be used by a SAGEMAKER_TRAINING job queue")
    if len(service) != 1:
        raise BatchClientError("A quota management job queue needs exactly one SAGEMAKER_TRAINING service environment")
    se = service[0][1]
    if not has_instance_type_limits(se):
        raise BatchClientError(
            "The service environment of a quota management job queue must express capacity limits by instance type, "
            "not NUM_INSTANCES"
        )
    for queue in backend.job_queues:
        if queue.arn != queue_arn and any(
            e["serviceEnvironment"] == se.arn for e in queue.data.get("serviceEnvironmentOrder", ())
        ):
            raise BatchClientError(f"{se.arn} is already connected to job queue {queue.arn}")


def _new_policy(backend: Any, queue: Resource, given: str) -> Resource | None:
    """Spec §1.9: a policy can be replaced by one of its kind, never added or removed."""
    current_arn = queue.data.get("schedulingPolicyArn")
    if not given:
        if current_arn is not None:
            raise BatchClientError(_POLICY_FIXED)
        return None
    if current_arn is None:
        raise BatchClientError(_POLICY_FIXED)
    policy = find_scheduling_policy(backend, given)
    if is_quota_share(policy) != is_quota_management(backend, queue):
        raise BatchClientError(_POLICY_FIXED)
    return policy


# -- jobStateTimeLimitActions ---------------------------------------------------


def _check_time_limit_actions(actions: list[dict[str, Any]], queue_type: str) -> list[dict[str, Any]]:
    """Spec §7 row 24 (state RUNNABLE is the model's only enum value)."""
    expected = "TERMINATE" if queue_type == SAGEMAKER_TRAINING else "CANCEL"
    for action in actions:
        check_range("maxTimeSeconds", action["maxTimeSeconds"], 600, 86400)
        if action["action"] != expected:
            raise BatchClientError(
                f"action {action['action']} is not supported for {queue_type} job queues; use {expected}"
            )
    return actions


def _render_order(compute: list[tuple[int, Resource]], service: list[tuple[int, Resource]]) -> dict[str, Any]:
    out: dict[str, Any] = {"computeEnvironmentOrder": [{"order": o, "computeEnvironment": ce.arn} for o, ce in compute]}
    if service:
        out["serviceEnvironmentOrder"] = [{"order": o, "serviceEnvironment": se.arn} for o, se in service]
    return out


# -- CreateJobQueue -------------------------------------------------------------


@operation("CreateJobQueue")
def create_job_queue(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    name = params["jobQueueName"]
    check_name("jobQueueName", name)
    check_range("priority", params["priority"], 0, 1000)
    none: frozenset[str] = frozenset()
    compute = _compute_order(backend, params.get("computeEnvironmentOrder") or [], none)
    service = _service_order(backend, params.get("serviceEnvironmentOrder") or [], none)
    _check_orders(compute, service)
    derived = _derived_type(compute, service)
    if derived is None:
        raise BatchClientError("A job queue needs a computeEnvironmentOrder or a serviceEnvironmentOrder")
    queue_type = params.get("jobQueueType", derived)
    _check_type(queue_type, derived)
    policy_arn = params.get("schedulingPolicyArn")
    policy = find_scheduling_policy(backend, policy_arn) if policy_arn else None
    arn = backend.arn(f"job-queue/{name}")
    _check_quota_management(backend, arn, queue_type, policy, service)
    actions = _check_time_limit_actions(params.get("jobStateTimeLimitActions") or [], queue_type)
    check_tags(params.get("tags"))
    table = backend.job_queues
    check_new(table, name, backend.config.max_job_queues, "job queues")
    data: dict[str, Any] = {"jobQueueName": name, "jobQueueArn": arn, "state": params.get("state", "ENABLED")}
    if policy is not None:
        data["schedulingPolicyArn"] = policy.arn
    data.update(status="CREATING", priority=params["priority"], **_render_order(compute, service))
    data.update(jobQueueType=queue_type, tags=params.get("tags", {}), jobStateTimeLimitActions=actions)
    queue = Resource(backend.next_seq(), arn, name, data)
    table.add(queue)
    finish_later(backend, table, queue, "CREATING", status="VALID", statusReason=HEALTHY)
    return {"jobQueueName": name, "jobQueueArn": arn}


# -- UpdateJobQueue -------------------------------------------------------------


def _attached(queue: Resource, key: str, field: str, table: Any) -> list[tuple[int, Resource]]:
    # Attached environments cannot be deleted, so every ARN is still in its table.
    return [(e["order"], table.by_arn[e[field]]) for e in queue.data.get(key, ())]


def _new_orders(backend: Any, queue: Resource, params: dict[str, Any], changes: dict[str, Any]) -> list:
    """Check the environment orders an update asks for; return the service order it leaves."""
    compute = _attached(queue, "computeEnvironmentOrder", "computeEnvironment", backend.compute_environments)
    service = _attached(queue, "serviceEnvironmentOrder", "serviceEnvironment", backend.service_environments)
    if "computeEnvironmentOrder" not in params and "serviceEnvironmentOrder" not in params:
        return service
    if "computeEnvironmentOrder" in params:
        compute = _compute_order(backend, params["computeEnvironmentOrder"], frozenset(ce.arn for _, ce in compute))
    if "serviceEnvironmentOrder" in params:
        service = _service_order(backend, params["serviceEnvironmentOrder"], frozenset(se.arn for _, se in service))
    _check_orders(compute, service)
    _check_type(queue.data["jobQueueType"], _derived_type(compute, service))
    changes.update(_render_order(compute, service))
    if not service:
        changes["serviceEnvironmentOrder"] = None  # `updated` drops the key
    return service


@operation("UpdateJobQueue")
def update_job_queue(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    given = params["jobQueue"]
    queue = _find(backend, given)
    status = queue.data["status"]
    if status == "DELETING":
        raise BatchClientError(f"{_arn_of(backend, given)} does not exist")
    if status in BUSY:
        raise BatchClientError("Cannot update, resource is being modified")
    queue_type = queue.data["jobQueueType"]
    changes: dict[str, Any] = {}
    if "priority" in params:
        check_range("priority", params["priority"], 0, 1000)
        changes["priority"] = params["priority"]
    if "state" in params:
        changes["state"] = params["state"]
    policy_arn = queue.data.get("schedulingPolicyArn")
    policy = backend.scheduling_policies.get(policy_arn) if policy_arn else None
    if "schedulingPolicyArn" in params:
        policy = _new_policy(backend, queue, params["schedulingPolicyArn"])
        if policy is not None:
            changes["schedulingPolicyArn"] = policy.arn
    service = _new_orders(backend, queue, params, changes)
    _check_quota_management(backend, queue.arn, queue_type, policy, service)
    if "jobStateTimeLimitActions" in params:
        changes["jobStateTimeLimitActions"] = _check_time_limit_actions(params["jobStateTimeLimitActions"], queue_type)
    updated(backend, queue, status="UPDATING", statusReason=None, **changes)
    finish_later(backend, backend.job_queues, queue, "UPDATING", status="VALID", statusReason=HEALTHY)
    return {"jobQueueName": queue.name, "jobQueueArn": queue.arn}


# -- DeleteJobQueue -------------------------------------------------------------


def _remove_job_queue(backend: Any, queue: Resource) -> None:
    """The end of a delete: the queue leaves the table (its name is free again).

    The one place a queue disappears, so the fate of its jobs (spec §1.3
    [proposed]: non-terminal jobs FAILED with "Job queue deleted") and of its
    quota shares belongs here.
    """
    # Imported here: the engine modules import the api resource modules.
    from localbatch.api.quota_shares import shares_of_queue
    from localbatch.engine.flow import fail_jobs_of_queue
    from localbatch.engine.service_lifecycle import fail_jobs_of_queue as fail_service_jobs_of_queue

    table = backend.job_queues
    if table.by_arn.get(queue.arn) is queue:
        fail_jobs_of_queue(backend, queue.arn)
        fail_service_jobs_of_queue(backend, queue.arn)
        for share in shares_of_queue(backend, queue.arn):
            backend.quota_shares.remove(share)
        table.remove(queue)


@operation("DeleteJobQueue")
def delete_job_queue(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    queue = _find(backend, params["jobQueue"])
    status = queue.data["status"]
    if status == "DELETING":
        return {}  # already on its way out
    if status in BUSY:
        raise BatchClientError("Cannot delete, resource is being modified")
    if queue.data["state"] != "DISABLED":
        raise BatchClientError("Cannot delete, job queue must be in DISABLED state")
    updated(backend, queue, status="DELETING", statusReason=None)
    backend.schedule_in(backend.resource_latency_ms, _remove_job_queue, backend, queue)
    return {}


# -- DescribeJobQueues ----------------------------------------------------------


@operation("DescribeJobQueues")
def describe_job_queues(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    return describe_paged(params, "jobQueues", "jobQueues", backend.job_queues, fresh)
