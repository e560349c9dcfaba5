"""TagResource / UntagResource / ListTagsForResource (spec §6.4).

Tags live in each resource's `data["tags"]`, so describe output and
ListTagsForResource always agree. The resource is found from the kind in
its ARN.
"""

from __future__ import annotations

from typing import Any

from localbatch.api import operation
from localbatch.api._common import check_tags, updated
from localbatch.errors import BatchClientError

# ARN resource kind -> Backend attribute holding that kind. Jobs and service
# jobs join when their tables exist (a backend without the attribute has none).
TABLES = {
    "compute-environment": "compute_environments",
    "job-queue": "job_queues",
    "job-definition": "job_definitions",
    "scheduling-policy": "scheduling_policies",
    "service-environment": "service_environments",
    "consumable-resource": "consumable_resources",
    "quota-share": "quota_shares",
    "job": "jobs",
    "service-job": "service_jobs",
}


def find_taggable(backend: Any, arn: str) -> Any:
    parts = arn.split(":", 5)
    if len(parts) != 6 or parts[0] != "arn" or parts[2] != "batch":
        raise BatchClientError(f"Invalid resource ARN: {arn}")
    path = parts[5]
    kind = "quota-share" if "/quota-share/" in path else path.split("/", 1)[0]
    if kind in ("job", "service-job") and (":" in path or "#" in path):
        raise BatchClientError(f"Tagging is not supported for array child or node jobs: {arn}")
    table = getattr(backend, TABLES.get(kind, ""), None)
    found = table.by_arn.get(arn) if table is not None else None
    if found is None or parts[3] != backend.region or parts[4] != backend.account_id:
        raise BatchClientError(f"{arn} does not exist")
    return found


@operation("TagResource")
def tag_resource(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    resource = find_taggable(backend, params["resourceArn"])
    existing = resource.data.get("tags") or {}
    check_tags(params["tags"], existing)
    updated(backend, resource, tags={**existing, **params["tags"]})
    return {}


@operation("UntagResource")
def untag_resource(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    resource = find_taggable(backend, params["resourceArn"])
    drop = set(params["tagKeys"])
    kept = {k: v for k, v in (resource.data.get("tags") or {}).items() if k not in drop}
    updated(backend, resource, tags=kept)
    return {}


@operation("ListTagsForResource")
def list_tags_for_resource(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    resource = find_taggable(backend, params["resourceArn"])
    return {"tags": dict(resource.data.get("tags") or {})}
