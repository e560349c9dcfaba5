"""Capacity faults a test injects (spec §2.9 [proposed]).

On AWS a job can wait in RUNNABLE because EC2 or SageMaker has no instances
of its type to give: `CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY`. localbatch
never invents that on its own; a test declares it with
`lb.insufficient_capacity(environment, instance_types)` and lifts it with
`lb.restore_capacity(environment)`. While a compute or service environment
is short, the schedulers place nothing of those instance types on it, and a
queue head that would otherwise start there waits with the CAPACITY reason,
which `jobStateTimeLimitActions` can target.

Which instance type a job "would use":

* Container job on a compute environment: the first of the environment's
  `computeResources.instanceTypes` it is not short of (AWS picks another
  allowed type when one runs out), compared as written: `optimal`, a family
  such as `m5`, or a size such as `m5.large` are three different names. An
  environment that lists no instance types uses its type instead:
  `FARGATE`, `FARGATE_SPOT`, or `UNMANAGED`. The environment is short for
  the job only when it is short of every type it lists; the reason then
  names the first one.
* Service job on a service environment: the `InstanceType`s of its
  `ResourceConfig` (several with `InstanceGroups`); it is short if the
  environment is short of any of them, and the reason names the first such.

A shortage matters only when the scheduler would place the job: a head
that waits for vCPUs or instances anyway has no reason to show; the moment
room frees up and the shortage stops it, it gets the CAPACITY reason (and
the jobStateTimeLimitActions timer starts).

State: `backend.shortages`, environment ARN -> the instance types it is
short of (None: every type). Changed only through `declare`/`lift`, which
journal the change and ask both job engines for a pass.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

INSUFFICIENT_CAPACITY = "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"


def insufficient_capacity_reason(instance_type: str) -> str:
    """The statusReason of a head that waits for capacity AWS cannot give (spec §2.9)."""
    return f"{INSUFFICIENT_CAPACITY} - Service cannot fulfill the capacity requested for instance type [{instance_type}]"


def short_of(backend: Any, environment_arn: str, instance_type: str) -> str | None:
    """The blocked reason if `environment_arn` cannot give `instance_type` now, else None."""
    found = backend.shortages
    if not found or environment_arn not in found:
        return None
    types = found[environment_arn]
    if types is None or instance_type in types:
        return insufficient_capacity_reason(instance_type)
    return None


# -- container jobs on compute environments ------------------------------------------------


def instance_types_of(ce: Any) -> list[str]:
    """What a compute environment launches, in the order it would try them."""
    resources = ce.data.get("computeResources") or {}
    listed = resources.get("instanceTypes")
    if listed:
        return list(listed)
    return [resources.get("type") or ce.data.get("type") or "EC2"]


def compute_environment_short(backend: Any, ce: Any) -> str | None:
    """The blocked reason if `ce` is short of every instance type it could
    launch (a job would find no instance there), else None."""
    if not backend.shortages or ce.arn not in backend.shortages:
        return None
    types = instance_types_of(ce)
    if all(short_of(backend, ce.arn, kind) is not None for kind in types):
        return insufficient_capacity_reason(types[0])
    return None


# -- service jobs on service environments ----------------------------------------------------


def service_environment_short(backend: Any, se_arn: str, instance_types: Iterable[str]) -> str | None:
    """The blocked reason for the first of `instance_types` (a service job's
    units) the environment is short of, else None."""
    if not backend.shortages or se_arn not in backend.shortages:
        return None
    for kind in instance_types:
        reason = short_of(backend, se_arn, kind)
        if reason is not None:
            return reason
    return None


# -- declaring and lifting ---------------------------------------------------------------------


def declare(backend: Any, environment_arn: str, instance_types: frozenset[str] | None) -> None:
    """`environment_arn` is (also) short of `instance_types` (None: of every type)."""
    current = backend.shortages.get(environment_arn, frozenset())
    merged = None if instance_types is None or current is None else current | instance_types
    backend.journal.put(backend.shortages, environment_arn, merged)
    _reschedule(backend)


def lift(backend: Any, environment_arn: str) -> None:
    """`environment_arn` can give every instance type again."""
    if environment_arn in backend.shortages:
        backend.journal.pop(backend.shortages, environment_arn)
        _reschedule(backend)


def _reschedule(backend: Any) -> None:
    # What a scheduler may place changed without any resource data changing:
    # ask both engines for a pass (a waiting head may now start or now block).
    from localbatch.engine import schedulers, service_lifecycle

    schedulers.request_dispatch(backend)
    service_lifecycle.request_dispatch(backend)
