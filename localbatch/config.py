"""Engine settings a test may change through `patch(...)` keyword arguments.

Defaults are AWS's: the per-region quotas of the Batch service-limits page
(spec §1.1) and zero latency for the asynchronous CREATING/UPDATING/DELETING
statuses, so a frozen-clock test never waits for a resource (spec §1.1
[proposed]).
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any

from localbatch.errors import LocalBatchError

EXECUTORS = ("rules", "subprocess")


@dataclass(frozen=True)
class EngineConfig:
    # Seconds a resource stays CREATING / UPDATING / DELETING.
    resource_latency: float = 0.0
    # Per-region quotas (spec §1.1).
    max_compute_environments: int = 50
    max_job_queues: int = 50
    max_service_environments: int = 50
    max_compute_environments_per_queue: int = 3
    max_quota_shares_per_queue: int = 20
    max_consumable_resources: int = 50_000
    # Container jobs (spec §3.1 dwell times): seconds a job stays SUBMITTED
    # before its evaluation, STARTING before RUNNING, and RUNNING when no
    # `lb.on_job` rule says otherwise.
    submitted_seconds: float = 0.0
    starting_seconds: float = 0.0
    job_duration: float = 0.0
    # Service jobs (spec §3.1, §4.3): seconds a service job stays SCHEDULED
    # (SageMaker Pending) and STARTING (Downloading) before it is RUNNING.
    service_scheduled_seconds: float = 0.0
    service_starting_seconds: float = 0.0
    # Let later RUNNABLE jobs past a head job that cannot be placed (spec §3.2).
    backfill: bool = False
    # Keep every job transition for `lb.timeline()` (off saves memory in big runs).
    record_timeline: bool = True
    # How a RUNNING container job's exit code is decided: "rules" (the
    # `lb.on_job` rules, default) or "subprocess" (its command runs as a real
    # local process; engine/executors.py).
    executor: str = "rules"

    def __post_init__(self) -> None:
        if self.executor not in EXECUTORS:
            raise LocalBatchError(f"executor must be one of {', '.join(EXECUTORS)}, got {self.executor!r}")

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "EngineConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise LocalBatchError(f"unknown localbatch option(s): {', '.join(unknown)}")
        return cls(**options)
