"""Capacity faults a test injects (spec §2.9 [proposed]).

On AWS a job can wait in RUNNABLE because EC2 or SageMaker has no instances
of its type to give: `CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY`. localbatch
never invents that on its own; a test declares it with
`lb.insufficient_capacity(environment, instance_types)` and lifts it with
`lb.restore_capacity(environment)`. While a compute or service environment
is short, the schedulers place nothing of those instance types on it, and a
queue head that could otherwise start there waits with the CAPACITY reason,
which `jobStateTimeLimitActions` can target.

State: `backend.shortages`, environment ARN -> the instance types it is
short of (None: every type). Changed only through `declare`/`lift`, which
journal the change and ask both job engines for a pass.
"""

from __future__ import annotations

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


def declare(backend: Any, environment_arn: str, instance_types: frozenset[str] | None) -> None:
    backend.journal.put(backend.shortages, environment_arn, instance_types)
    _reschedule(backend)


def lift(backend: Any, environment_arn: str) -> None:
    if environment_arn in backend.shortages:
        backend.journal.pop(backend.shortages, environment_arn)
        _reschedule(backend)


def _reschedule(backend: Any) -> None:
    # What a scheduler may place changed without any resource data changing:
    # ask both engines for a pass (a waiting head may now start or now block).
    from localbatch.engine import schedulers, service_lifecycle

    schedulers.request_dispatch(backend)
    service_lifecycle.request_dispatch(backend)
