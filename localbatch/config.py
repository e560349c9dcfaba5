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

    @classmethod
    def from_options(cls, options: dict[str, Any]) -> "EngineConfig":
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(options) - known)
        if unknown:
            raise LocalBatchError(f"unknown localbatch option(s): {', '.join(unknown)}")
        return cls(**options)
