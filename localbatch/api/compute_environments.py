"""Compute environments (spec §1.2, §1.9, §7 rows 1, 3, 22, 23, 32).

A compute environment is created CREATING and turns VALID after the
resource latency; an update passes through UPDATING the same way. A delete
marks it DELETING, and an event removes it later, so its name can be reused.
"""

from __future__ import annotations

import re
from typing import Any

from localbatch import ids
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
from localbatch.engine.tables import Resource
from localbatch.errors import BatchClientError

HEALTHY = "ComputeEnvironment Healthy"
EC2_TYPES = frozenset({"EC2", "SPOT"})
FARGATE_TYPES = frozenset({"FARGATE", "FARGATE_SPOT"})
MANAGED_INSTANCES = "ECS_MANAGED_INSTANCES"
BUSY = frozenset({"CREATING", "UPDATING"})
MAX_FARGATE_SUBNETS = 16
MAX_FARGATE_SECURITY_GROUPS = 5
MAX_EC2_CONFIGURATIONS = 2
MAX_PER_EKS_CLUSTER = 5  # spec §1.1 hard quota, not a patch option
DEFAULT_UPDATE_POLICY = {"terminateJobsOnUpdate": False, "jobExecutionTimeoutMinutes": 30}
# Checked in this order, so the first offending field is the one named.
_EC2_ONLY = (
    "allocationStrategy",
    "minvCpus",
    "desiredvCpus",
    "instanceTypes",
    "imageId",
    "ec2KeyPair",
    "instanceRole",
    "placementGroup",
    "bidPercentage",
    "spotIamFleetRole",
    "launchTemplate",
    "ec2Configuration",
    "tags",
    "scalingPolicy",
)
_MANAGED_INSTANCES_ONLY = ("managedInstancesProvider", "capacityTags")
_NAMESPACE_RE = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SERVICE_LINKED_ROLE = "arn:{p}:iam::{a}:role/aws-service-role/batch.amazonaws.com/AWSServiceRoleForBatch"


# -- lookups other modules use ------------------------------------------------


def find_compute_environment(backend: Any, name_or_arn: str) -> Resource | None:
    """The compute environment named or ARN'd, in any status (DELETING included)."""
    return backend.compute_environments.get(name_or_arn)


def platform(ce: Resource) -> str:
    """`EC2` (EC2, SPOT, UNMANAGED), `FARGATE` (FARGATE, FARGATE_SPOT) or `ECS_MANAGED_INSTANCES`."""
    resources = ce.data.get("computeResources")
    if resources is None:
        return "EC2"
    kind = resources["type"]
    if kind in FARGATE_TYPES:
        return "FARGATE"
    return MANAGED_INSTANCES if kind == MANAGED_INSTANCES else "EC2"


def _find(backend: Any, given: str) -> Resource:
    ce = backend.compute_environments.get(given)
    if ce is None:
        raise BatchClientError(f"{given} does not exist")
    return ce


def _referenced_by_queue(backend: Any, ce: Resource) -> bool:
    # At most max_job_queues queues of at most 3 entries each: a scan is cheap
    # and keeps no second index to journal.
    return any(
        entry["computeEnvironment"] == ce.arn
        for queue in backend.job_queues
        for entry in queue.data["computeEnvironmentOrder"]
    )


# -- checks -------------------------------------------------------------------


def _not_for_fargate(field: str) -> BatchClientError:
    # [obs] wording, §1.2.
    return BatchClientError(f"{field} is not applicable for Fargate.", wrapped=True)


def _check_namespace(namespace: str) -> None:
    if len(namespace) >= 64:
        raise BatchClientError("kubernetesNamespace must be fewer than 64 characters long")
    if namespace == "default":
        raise BatchClientError("kubernetesNamespace can't be set to default")
    if namespace.startswith("kube-"):
        raise BatchClientError("kubernetesNamespace can't start with kube-")
    if not _NAMESPACE_RE.fullmatch(namespace):
        raise BatchClientError("kubernetesNamespace must match ^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")


def _check_eks(eks: dict[str, Any]) -> dict[str, Any]:
    _check_namespace(eks["kubernetesNamespace"])
    stored = {k: v for k, v in eks.items() if k != "accessEntry"}
    if "accessEntry" in eks:
        # `status` is observed on the cluster, never taken from the caller.
        stored["accessEntry"] = {"desiredState": eks["accessEntry"]["desiredState"]}
    return stored


def _check_cluster_quota(backend: Any, cluster: str) -> None:
    # A scan: at most max_compute_environments entries, and only on create.
    using = sum(
        1
        for ce in backend.compute_environments
        if (ce.data.get("eksConfiguration") or {}).get("eksClusterArn") == cluster
    )
    if using >= MAX_PER_EKS_CLUSTER:
        raise BatchClientError(
            f"Exceeded the limit of {MAX_PER_EKS_CLUSTER} compute environments per Amazon EKS cluster"
        )


def _check_vcpus(resources: dict[str, Any]) -> None:
    low = resources.get("minvCpus", 0)
    high = resources["maxvCpus"]
    if high < 0:
        raise BatchClientError("maxvCpus must be greater than or equal to 0")
    if low < 0:
        raise BatchClientError("minvCpus must be greater than or equal to 0")
    if low > high:
        raise BatchClientError("minvCpus must be less than or equal to maxvCpus")
    check_range("desiredvCpus", resources.get("desiredvCpus"), low, high)


def _check_scaling_policy(policy: dict[str, Any] | None) -> None:
    delay = (policy or {}).get("minScaleDownDelayMinutes")
    if delay is not None and delay != 0 and not 20 <= delay <= 10080:
        raise BatchClientError("minScaleDownDelayMinutes must be 0 or between 20 and 10080")


def _check_launch_template(template: dict[str, Any] | None) -> None:
    if template is not None and bool(template.get("launchTemplateId")) == bool(template.get("launchTemplateName")):
        raise BatchClientError("launchTemplate needs either a launchTemplateId or a launchTemplateName, not both")


def _check_ec2_configuration(configs: list[dict[str, Any]] | None) -> None:
    if configs is not None and len(configs) > MAX_EC2_CONFIGURATIONS:
        raise BatchClientError(f"ec2Configuration must contain at most {MAX_EC2_CONFIGURATIONS} items")


def _check_fargate_network(resources: dict[str, Any]) -> None:
    if len(resources.get("subnets") or []) > MAX_FARGATE_SUBNETS:
        raise BatchClientError(f"Fargate compute resources can contain up to {MAX_FARGATE_SUBNETS} subnets")
    groups = resources.get("securityGroupIds")
    if groups is not None and len(groups) > MAX_FARGATE_SECURITY_GROUPS:
        raise BatchClientError(
            f"Fargate compute resources can contain up to {MAX_FARGATE_SECURITY_GROUPS} security groups"
        )


def _check_type_only_fields(resources: dict[str, Any], kind: str) -> None:
    if kind in FARGATE_TYPES:
        for field in _EC2_ONLY:
            if field in resources:
                raise _not_for_fargate(field)
    if kind != MANAGED_INSTANCES:
        for field in _MANAGED_INSTANCES_ONLY:
            if field in resources:
                raise BatchClientError(f"{field} can only be specified for ECS_MANAGED_INSTANCES compute resources")


def _new_compute_resources(resources: dict[str, Any], eks: dict[str, Any] | None) -> dict[str, Any]:
    """Validate the computeResources of a MANAGED create; return what describe shows."""
    kind = resources["type"]
    _check_type_only_fields(resources, kind)
    if kind == MANAGED_INSTANCES:
        if eks is not None:
            raise BatchClientError("ECS_MANAGED_INSTANCES compute resources can't be used with eksConfiguration")
        if "managedInstancesProvider" not in resources:
            raise BatchClientError("managedInstancesProvider is required for ECS_MANAGED_INSTANCES compute resources")
    elif not resources.get("subnets"):
        raise BatchClientError("subnets is required for EC2, SPOT, FARGATE and FARGATE_SPOT compute resources")
    if kind in FARGATE_TYPES:
        if eks is not None:
            raise BatchClientError("Fargate compute resources are not supported for Amazon EKS compute environments")
        if not resources.get("securityGroupIds"):
            raise BatchClientError("securityGroupIds is required for Fargate compute resources")
        _check_fargate_network(resources)
    if kind in EC2_TYPES:
        # [obs] wording and order, §7 row 23.
        if not resources.get("instanceRole"):
            raise BatchClientError("Instance role is required.", wrapped=True)
        if "minvCpus" not in resources:
            raise BatchClientError("Resource minvCpus is required.", wrapped=True)
        best_fit = resources.get("allocationStrategy", "BEST_FIT") == "BEST_FIT"
        if kind == "SPOT" and best_fit and not resources.get("spotIamFleetRole"):
            raise BatchClientError("spotIamFleetRole is required for SPOT compute resources with BEST_FIT allocation")
    _check_vcpus(resources)
    _check_scaling_policy(resources.get("scalingPolicy"))
    _check_launch_template(resources.get("launchTemplate"))
    _check_ec2_configuration(resources.get("ec2Configuration"))
    if kind not in EC2_TYPES:
        return resources
    image = "EKS_AL2023" if eks is not None else "ECS_AL2023"
    defaults = {
        "allocationStrategy": "BEST_FIT",
        "desiredvCpus": resources["minvCpus"],
        "ec2Configuration": [{"imageType": image}],
    }
    return {**resources, **{k: v for k, v in defaults.items() if k not in resources}}


def _check_unmanaged_vcpus(ce_type: str, value: int | None) -> None:
    if value is None:
        return
    if ce_type != "UNMANAGED":
        raise BatchClientError("unmanagedvCpus is only supported for UNMANAGED compute environments")
    if value < 0:
        raise BatchClientError("unmanagedvCpus must be greater than or equal to 0")


def _check_update_policy(current: dict[str, Any] | None, update: dict[str, Any]) -> dict[str, Any]:
    # The vendored model documents 1-7200 minutes (the spec's 1-360 is older).
    check_range("jobExecutionTimeoutMinutes", update.get("jobExecutionTimeoutMinutes"), 1, 7200)
    return {**(current or DEFAULT_UPDATE_POLICY), **update}


# -- CreateComputeEnvironment ---------------------------------------------------


def _describe_data(
    backend: Any, arn: str, name: str, params: dict[str, Any], resources: dict | None, eks: dict | None
) -> dict[str, Any]:
    """What DescribeComputeEnvironments shows for a new compute environment."""
    ce_type = params["type"]
    uuid = backend.ids.uuid4()
    data: dict[str, Any] = {"computeEnvironmentName": name, "computeEnvironmentArn": arn}
    if eks is None:  # an EKS environment runs on the EKS cluster, not on an ECS one
        data["ecsClusterArn"] = (
            f"arn:{ids.PARTITION}:ecs:{backend.region}:{backend.account_id}:cluster/AWSBatch-{name}-{uuid}"
        )
    data.update(tags=params.get("tags", {}), type=ce_type, state=params.get("state", "ENABLED"), status="CREATING")
    if resources is not None:
        data["computeResources"] = resources
    role = params.get("serviceRole")
    if role is None and ce_type == "MANAGED":
        role = _SERVICE_LINKED_ROLE.format(p=ids.PARTITION, a=backend.account_id)
    if role is not None:
        data["serviceRole"] = role
    if ce_type == "MANAGED":
        data["updatePolicy"] = dict(DEFAULT_UPDATE_POLICY)
    if eks is not None:
        data["eksConfiguration"] = eks
    data["containerOrchestrationType"] = "EKS" if eks is not None else "ECS"
    data["uuid"] = uuid
    for optional in ("unmanagedvCpus", "context", "ecsSettings"):
        if optional in params:
            data[optional] = params[optional]
    return data


@operation("CreateComputeEnvironment")
def create_compute_environment(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    name = params["computeEnvironmentName"]
    check_name("computeEnvironmentName", name)
    ce_type = params["type"]
    eks = _check_eks(params["eksConfiguration"]) if "eksConfiguration" in params else None
    resources = params.get("computeResources")
    if ce_type == "MANAGED":
        if resources is None:
            raise BatchClientError("computeResources is required for MANAGED compute environments")
        resources = _new_compute_resources(resources, eks)
    elif resources is not None:
        raise BatchClientError("computeResources can't be specified for UNMANAGED compute environments")
    _check_unmanaged_vcpus(ce_type, params.get("unmanagedvCpus"))
    check_tags(params.get("tags"))
    table = backend.compute_environments
    check_new(table, name, backend.config.max_compute_environments, "compute environments")
    if eks is not None:
        _check_cluster_quota(backend, eks["eksClusterArn"])
    arn = backend.arn(f"compute-environment/{name}")
    data = _describe_data(backend, arn, name, params, resources, eks)
    ce = Resource(backend.next_seq(), arn, name, data)
    table.add(ce)
    finish_later(backend, table, ce, "CREATING", status="VALID", statusReason=HEALTHY)
    return {"computeEnvironmentName": name, "computeEnvironmentArn": arn}


# -- UpdateComputeEnvironment ---------------------------------------------------


def _same_family(old: str, new: str) -> bool:
    # Infrastructure updates switch EC2<->SPOT or FARGATE<->FARGATE_SPOT only.
    return old == new or {old, new} <= EC2_TYPES or {old, new} <= FARGATE_TYPES


def _merge_vcpus(current: dict[str, Any], update: dict[str, Any], merged: dict[str, Any]) -> None:
    desired = current.get("desiredvCpus", 0)
    if "desiredvCpus" in update:
        if update["desiredvCpus"] < desired:
            raise BatchClientError(
                f"desiredvCpus can't be decreased: it is {desired}, the update asks for {update['desiredvCpus']}"
            )
    elif "desiredvCpus" in merged:
        # Batch moves desired into the new bounds by itself.
        low, high = merged.get("minvCpus", 0), merged["maxvCpus"]
        if low <= high:
            merged["desiredvCpus"] = min(max(desired, low), high)
    _check_vcpus(merged)


def _merge_managed_instances(current: dict[str, Any], update: dict[str, Any]) -> dict[str, Any]:
    template = {**current["instanceLaunchTemplate"], **update.get("instanceLaunchTemplate", {})}
    return {**current, **update, "instanceLaunchTemplate": template}


def _merge_resources(ce: Resource, update: dict[str, Any]) -> dict[str, Any]:
    current = ce.data["computeResources"]
    old_kind = current["type"]
    kind = update.get("type", old_kind)
    if not _same_family(old_kind, kind):
        raise BatchClientError(f"computeResources type can't be changed from {old_kind} to {kind}")
    _check_type_only_fields(update, kind)
    fargate = kind in FARGATE_TYPES
    merged = {**current}
    for field, value in update.items():
        if field == "updateToLatestImageVersion":
            continue  # an instruction for this update, not a setting describe shows
        if field in ("subnets", "securityGroupIds") and not value:
            if not fargate:
                merged.pop(field, None)  # EC2: an empty list removes them; Fargate: no change
            continue
        if field in ("imageId", "ec2KeyPair") and value == "":
            merged.pop(field, None)
            continue
        if field == "launchTemplate":
            if not (value.get("launchTemplateId") or value.get("launchTemplateName")):
                merged.pop(field, None)  # empty id/name: back to the default launch template
                continue
            _check_launch_template(value)
        if field == "ec2Configuration" and not value:
            image = "EKS_AL2023" if ce.data["containerOrchestrationType"] == "EKS" else "ECS_AL2023"
            merged[field] = [{"imageType": image}]
            continue
        if field == "managedInstancesProvider":
            value = _merge_managed_instances(current[field], value)
        merged[field] = value
    if fargate:
        _check_fargate_network(merged)
    _merge_vcpus(current, update, merged)
    _check_scaling_policy(merged.get("scalingPolicy"))
    _check_ec2_configuration(merged.get("ec2Configuration"))
    return merged


def _update_eks(ce: Resource, update: dict[str, Any]) -> dict[str, Any]:
    current = ce.data.get("eksConfiguration")
    if current is None:
        raise BatchClientError("eksConfiguration can only be updated on compute environments that use Amazon EKS")
    if "accessEntry" not in update:
        return current
    return {**current, "accessEntry": {"desiredState": update["accessEntry"]["desiredState"]}}


def _check_updatable(ce: Resource, given: str) -> None:
    status = ce.data["status"]
    if status == "DELETING":
        raise BatchClientError(f"{given} does not exist")
    if status in BUSY:
        raise BatchClientError("Cannot update, resource is being modified")


@operation("UpdateComputeEnvironment")
def update_compute_environment(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    given = params["computeEnvironment"]
    ce = _find(backend, given)
    _check_updatable(ce, given)
    managed = ce.data["type"] == "MANAGED"
    changes: dict[str, Any] = {}
    if "state" in params:
        changes["state"] = params["state"]
    if "unmanagedvCpus" in params:
        _check_unmanaged_vcpus(ce.data["type"], params["unmanagedvCpus"])
        changes["unmanagedvCpus"] = params["unmanagedvCpus"]
    if "computeResources" in params:
        if not managed:
            raise BatchClientError("computeResources can't be specified for UNMANAGED compute environments")
        changes["computeResources"] = _merge_resources(ce, params["computeResources"])
    if "updatePolicy" in params:
        changes["updatePolicy"] = _check_update_policy(ce.data.get("updatePolicy"), params["updatePolicy"])
    if "eksConfiguration" in params:
        changes["eksConfiguration"] = _update_eks(ce, params["eksConfiguration"])
    for plain in ("serviceRole", "context", "ecsSettings"):
        if plain in params:
            changes[plain] = params[plain]
    updated(backend, ce, status="UPDATING", statusReason=None, **changes)
    finish_later(backend, backend.compute_environments, ce, "UPDATING", status="VALID", statusReason=HEALTHY)
    return {"computeEnvironmentName": ce.name, "computeEnvironmentArn": ce.arn}


# -- DeleteComputeEnvironment ---------------------------------------------------


def _remove_compute_environment(backend: Any, ce: Resource) -> None:
    table = backend.compute_environments
    if table.by_arn.get(ce.arn) is ce:
        table.remove(ce)


@operation("DeleteComputeEnvironment")
def delete_compute_environment(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    ce = _find(backend, params["computeEnvironment"])
    status = ce.data["status"]
    if status == "DELETING":
        return {}  # already on its way out
    if status in BUSY:
        raise BatchClientError("Cannot delete, resource is being modified")
    if ce.data["state"] != "DISABLED":
        raise BatchClientError("Cannot delete, compute environment must be in DISABLED state")
    if _referenced_by_queue(backend, ce):
        raise BatchClientError("Cannot delete, found existing JobQueue relationship.")
    updated(backend, ce, status="DELETING", statusReason=None)
    backend.schedule_in(backend.resource_latency_ms, _remove_compute_environment, backend, ce)
    return {}


# -- DescribeComputeEnvironments ------------------------------------------------


@operation("DescribeComputeEnvironments")
def describe_compute_environments(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    return describe_paged(params, "computeEnvironments", "computeEnvironments", backend.compute_environments, fresh)
