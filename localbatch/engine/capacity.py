"""What a job needs and what a compute environment has (spec §3.2, §3.4).

The capacity unit is the vCPU: a job's VCPU resource requirement (or legacy
`vcpus`), Σ over the containers of an ECS task, the `cpu` request (else
limit) of an EKS pod, Σ over the nodes of a multi-node job. A compute
environment holds jobs while the vCPUs of its STARTING + RUNNING jobs stay
within `maxvCpus` (UNMANAGED: `unmanagedvCpus`, or unlimited when unset).
Memory and GPU are not placed (instance types are not modelled, except to
name what a test declared short: engine/faults.py).
"""

from __future__ import annotations

import math
from typing import Any

from localbatch.engine import faults
from localbatch.engine.jobs import Job

UNLIMITED = math.inf
FARGATE_TYPES = frozenset({"FARGATE", "FARGATE_SPOT"})
FARGATE_MAX_VCPUS = 16

BLOCKED_MAX_RESOURCE = (
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - CE(s) associated with the job queue cannot meet the CPU "
    "requirement of the job."
)
BLOCKED_REQUIREMENT = (
    "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement (vCPU/memory/GPU) is higher than that "
    "can be met by the CE(s) attached to the job queue."
)
BLOCKED_INVALID_CE = "ACTION_REQUIRED - CE(s) associated with the job queue are invalid."


# -- what a job needs -----------------------------------------------------------


def _requirement(requirements: list[dict[str, str]] | None, kind: str) -> str | None:
    for requirement in requirements or ():
        if requirement.get("type") == kind:
            return requirement.get("value")
    return None


def container_vcpus(container: dict[str, Any] | None) -> float:
    if not container:
        return 0.0
    value = _requirement(container.get("resourceRequirements"), "VCPU")
    if value is not None:
        return float(value)
    return float(container.get("vcpus") or 0)


def container_gpus(container: dict[str, Any] | None) -> int:
    value = _requirement((container or {}).get("resourceRequirements"), "GPU")
    return int(value) if value else 0


def ecs_vcpus(ecs: dict[str, Any] | None) -> float:
    total = 0.0
    for task in (ecs or {}).get("taskProperties") or ():
        for container in task.get("containers") or ():
            total += container_vcpus(container)
    return total


def _kubernetes_cpu(value: str) -> float:
    if value.endswith("m"):
        return float(value[:-1]) / 1000
    return float(value)


def eks_vcpus(eks: dict[str, Any] | None) -> float:
    total = 0.0
    for container in ((eks or {}).get("podProperties") or {}).get("containers") or ():
        resources = container.get("resources") or {}
        cpu = (resources.get("requests") or {}).get("cpu") or (resources.get("limits") or {}).get("cpu")
        if cpu:
            total += _kubernetes_cpu(str(cpu))
    return total


def single_node_vcpus(container: Any, ecs: Any, eks: Any) -> float:
    vcpus = container_vcpus(container) + ecs_vcpus(ecs) + eks_vcpus(eks)
    return vcpus if vcpus > 0 else 1.0


# -- what a compute environment has ---------------------------------------------


def capacity(ce: Any) -> float:
    data = ce.data
    if data.get("type") == "UNMANAGED":
        limit = data.get("unmanagedvCpus")
        return float(limit) if limit else UNLIMITED
    return float((data.get("computeResources") or {}).get("maxvCpus") or 0)


def usable(ce: Any) -> bool:
    """Only ENABLED and VALID compute environments get new jobs."""
    return ce.data.get("state") == "ENABLED" and ce.data.get("status") == "VALID"


def ce_kind(ce: Any) -> str:
    resources = ce.data.get("computeResources") or {}
    return resources.get("type") or ce.data.get("type") or "EC2"


def can_host(ce: Any, job: Job) -> bool:
    """Multi-node jobs run only on EC2 capacity (not SPOT, not Fargate)."""
    if job.spec.node_properties is not None:
        return ce_kind(ce) not in FARGATE_TYPES and ce_kind(ce) != "SPOT"
    return True


def free(backend: Any, ce: Any) -> float:
    return capacity(ce) - backend.jobs.ce_used.get(ce.arn, 0.0)


def hold(backend: Any, job: Job, ce_arn: str) -> None:
    used = backend.jobs.ce_used
    backend.journal.put(used, ce_arn, used.get(ce_arn, 0.0) + job.spec.vcpus)
    backend.journal.set(job, "compute_environment", ce_arn)


def release(backend: Any, job: Job) -> None:
    ce_arn = job.compute_environment
    if ce_arn is None:
        return
    used = backend.jobs.ce_used
    left = used.get(ce_arn, 0.0) - job.spec.vcpus
    backend.journal.put(used, ce_arn, left if left > 1e-9 else 0.0)
    backend.journal.set(job, "compute_environment", None)


def never_fits(backend: Any, job: Job, attached: list[Any]) -> str | None:
    """The blocked statusReason of a head job that no attached CE could ever
    take (spec §2.9 [proposed]), or None if waiting may help."""
    if not attached:
        return None
    live = [ce for ce in attached if ce.data.get("status") != "INVALID"]
    if not live:
        return BLOCKED_INVALID_CE
    hosts = [ce for ce in live if can_host(ce, job)]
    if not hosts:
        return BLOCKED_REQUIREMENT
    vcpus = job.spec.vcpus
    fargate_only = all(ce_kind(ce) in FARGATE_TYPES for ce in hosts)
    if fargate_only and (vcpus > FARGATE_MAX_VCPUS or container_gpus(job.spec.container) > 0):
        return BLOCKED_REQUIREMENT
    if vcpus > max(capacity(ce) for ce in hosts):
        return BLOCKED_MAX_RESOURCE
    return None


def short_for(backend: Any, ce: Any) -> str | None:
    """The CAPACITY reason if a test declared `ce` short of every instance
    type it launches (engine/faults.py), else None. Free when nothing is short."""
    if not backend.shortages:
        return None
    return faults.compute_environment_short(backend, ce)


def shortage(backend: Any, job: Job, attached: list[Any]) -> str | None:
    """The CAPACITY reason of a head job that was not placed only because
    the compute environments with room for it are short of instances
    (spec §2.9 [proposed]): the first such environment's, in `order`."""
    if not backend.shortages or not consumables_available(backend, job):
        return None
    vcpus = job.spec.vcpus
    for ce in attached:
        if usable(ce) and can_host(ce, job) and free(backend, ce) >= vcpus:
            reason = short_for(backend, ce)
            if reason is not None:
                return reason
    return None


def blocked_reason(backend: Any, job: Job, attached: list[Any]) -> str | None:
    """The statusReason a head job that could not be placed shows while it
    waits (spec §2.9): a MISCONFIGURATION when it can never fit, else the
    injected capacity shortage that stopped it, else None."""
    return never_fits(backend, job, attached) or shortage(backend, job, attached)


# -- consumable resources (spec §3.4) ---------------------------------------------


def consumables_available(backend: Any, job: Job) -> bool:
    if not job.spec.consumables:
        return True
    table = backend.consumable_resources
    for arn, quantity in job.spec.consumables or ():
        resource = table.by_arn.get(arn)
        if resource is None or resource.data["availableQuantity"] < quantity:
            return False
    return True


def lock_consumables(backend: Any, job: Job) -> None:
    if not job.spec.consumables:
        return
    from localbatch.api.consumable_resources import lock_units

    table = backend.consumable_resources
    for arn, quantity in job.spec.consumables or ():
        lock_units(backend, table.by_arn[arn], quantity)


def release_consumables(backend: Any, job: Job) -> None:
    if not job.spec.consumables:
        return
    from localbatch.api.consumable_resources import release_units

    table = backend.consumable_resources
    for arn, quantity in job.spec.consumables or ():
        resource = table.by_arn.get(arn)
        if resource is None:
            continue  # a deleted resource takes nothing back
        if resource.data["resourceType"] != "NON_REPLENISHABLE":
            # A resource deleted and created again under the same name never
            # lent these units; give back at most what is in use.
            quantity = min(quantity, resource.data["inUseQuantity"])
        if quantity:
            release_units(backend, resource, quantity)
