"""Service environments for SageMaker Training jobs (spec §1.6, §1.9).

Capacity is either one `NUM_INSTANCES` limit (FIFO and fair-share queues)
or 1-5 limits by instance type (`ml.m5.large`), which is what makes the
environment a quota-management one [proposed §1.6].
"""

from __future__ import annotations

import re
from typing import Any

from localbatch.api import operation
from localbatch.api._common import check_name, check_new, check_tags, describe_paged, finish_later, fresh, updated
from localbatch.engine.tables import Resource
from localbatch.errors import BatchClientError

NUM_INSTANCES = "NUM_INSTANCES"
MAX_INSTANCE_TYPE_LIMITS = 5
BUSY = frozenset({"CREATING", "UPDATING"})
_INSTANCE_TYPE_RE = re.compile(r"ml\.[a-z0-9-]+\.[a-z0-9]+")


# -- lookups other modules use ------------------------------------------------


def find_service_environment(backend: Any, name_or_arn: str) -> Resource | None:
    """The service environment named or ARN'd, in any status (DELETING included)."""
    return backend.service_environments.get(name_or_arn)


def has_instance_type_limits(se: Resource) -> bool:
    """True for a quota-management environment (limits by instance type)."""
    return _by_instance_type(se.data["capacityLimits"])


def _by_instance_type(limits: list[dict[str, Any]]) -> bool:
    return any(limit["capacityUnit"] != NUM_INSTANCES for limit in limits)


def _find(backend: Any, given: str) -> Resource:
    se = backend.service_environments.get(given)
    if se is None:
        raise BatchClientError(f"{given} does not exist")
    return se


def _referenced_by_queue(backend: Any, se: Resource) -> bool:
    # At most max_job_queues queues of at most one entry each: a scan is cheap.
    return any(
        entry["serviceEnvironment"] == se.arn
        for queue in backend.job_queues
        for entry in queue.data.get("serviceEnvironmentOrder", ())
    )


# -- checks -------------------------------------------------------------------


def _check_capacity_limits(limits: list[dict[str, Any]]) -> list[dict[str, Any]]:
    if not limits:
        raise BatchClientError("capacityLimits must contain at least 1 item")
    units: list[str] = []
    for limit in limits:
        if "capacityUnit" not in limit or "maxCapacity" not in limit:
            raise BatchClientError("Each capacity limit needs a maxCapacity and a capacityUnit")
        unit = limit["capacityUnit"]
        if limit["maxCapacity"] < 0:
            raise BatchClientError("maxCapacity must be greater than or equal to 0")
        if unit != NUM_INSTANCES and not _INSTANCE_TYPE_RE.fullmatch(unit):
            raise BatchClientError(
                f"capacityUnit {unit} must be NUM_INSTANCES or a SageMaker instance type such as ml.m5.large"
            )
        if unit in units:
            raise BatchClientError(f"capacityUnit {unit} appears more than once in capacityLimits")
        units.append(unit)
    # [proposed §1.6]
    if NUM_INSTANCES in units and len(units) > 1:
        raise BatchClientError("A NUM_INSTANCES capacity limit can't be combined with other capacity limits")
    if len(units) > MAX_INSTANCE_TYPE_LIMITS:
        raise BatchClientError(f"capacityLimits can contain at most {MAX_INSTANCE_TYPE_LIMITS} instance types")
    return limits


# -- operations ---------------------------------------------------------------


@operation("CreateServiceEnvironment")
def create_service_environment(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    name = params["serviceEnvironmentName"]
    check_name("serviceEnvironmentName", name)
    limits = _check_capacity_limits(params["capacityLimits"])
    check_tags(params.get("tags"))
    table = backend.service_environments
    check_new(table, name, backend.config.max_service_environments, "service environments")
    arn = backend.arn(f"service-environment/{name}")
    data = {
        "serviceEnvironmentName": name,
        "serviceEnvironmentArn": arn,
        "serviceEnvironmentType": params["serviceEnvironmentType"],
        "state": params.get("state", "ENABLED"),
        "status": "CREATING",
        "capacityLimits": limits,
        "tags": params.get("tags", {}),
    }
    se = Resource(backend.next_seq(), arn, name, data)
    table.add(se)
    finish_later(backend, table, se, "CREATING", status="VALID")
    return {"serviceEnvironmentName": name, "serviceEnvironmentArn": arn}


@operation("UpdateServiceEnvironment")
def update_service_environment(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    given = params["serviceEnvironment"]
    se = _find(backend, given)
    status = se.data["status"]
    if status == "DELETING":
        raise BatchClientError(f"{given} does not exist")
    if status in BUSY:
        raise BatchClientError("Cannot update, resource is being modified")
    changes: dict[str, Any] = {}
    if "state" in params:
        changes["state"] = params["state"]
    if "capacityLimits" in params:
        limits = _check_capacity_limits(params["capacityLimits"])
        # A queue's quota-management rules (§1.3) were checked against the old kind.
        if _by_instance_type(limits) != has_instance_type_limits(se) and _referenced_by_queue(backend, se):
            raise BatchClientError(
                "capacityLimits can't switch between NUM_INSTANCES and instance types "
                "while a job queue uses the service environment"
            )
        changes["capacityLimits"] = limits
    updated(backend, se, status="UPDATING", **changes)
    finish_later(backend, backend.service_environments, se, "UPDATING", status="VALID")
    return {"serviceEnvironmentName": se.name, "serviceEnvironmentArn": se.arn}


def _remove_service_environment(backend: Any, se: Resource) -> None:
    table = backend.service_environments
    if table.by_arn.get(se.arn) is se:
        table.remove(se)


@operation("DeleteServiceEnvironment")
def delete_service_environment(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    se = _find(backend, params["serviceEnvironment"])
    status = se.data["status"]
    if status == "DELETING":
        return {}  # already on its way out
    if status in BUSY:
        raise BatchClientError("Cannot delete, resource is being modified")
    if se.data["state"] != "DISABLED":
        raise BatchClientError("Cannot delete, service environment must be in DISABLED state")
    if _referenced_by_queue(backend, se):
        raise BatchClientError("Cannot delete, found existing JobQueue relationship.")
    updated(backend, se, status="DELETING")
    backend.schedule_in(backend.resource_latency_ms, _remove_service_environment, backend, se)
    return {}


@operation("DescribeServiceEnvironments")
def describe_service_environments(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    return describe_paged(params, "serviceEnvironments", "serviceEnvironments", backend.service_environments, fresh)
