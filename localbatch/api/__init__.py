"""The operation registry: AWS operation name -> handler(backend, params).

Handlers take the request as botocore validated it (camelCase dicts, already
copied, so they may keep what they are given) and return the response body
as a dict in the operation's output shape. Each resource family lives in its
own module and registers its operations with `@operation`.
"""

from __future__ import annotations

from typing import Any, Callable

Handler = Callable[[Any, dict[str, Any]], dict[str, Any]]
OPERATIONS: dict[str, Handler] = {}


def operation(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        if name in OPERATIONS:
            raise RuntimeError(f"operation {name} registered twice")
        OPERATIONS[name] = fn
        return fn

    return register


def _load_all() -> None:
    # Importing a module registers its operations.
    from localbatch.api import (  # noqa: F401
        compute_environments,
        consumable_resources,
        job_definitions,
        job_queues,
        jobs,
        quota_shares,
        scheduling_policies,
        service_environments,
        service_jobs,
        snapshots,
        tags,
    )


_load_all()
