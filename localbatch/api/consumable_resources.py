"""Consumable resources (spec §1.8, §3.4): named counters that jobs lock units of.

The unit accounting lives here and only here: `lock_units` / `release_units`
(called by the job engine when a job enters STARTING / reaches a final
state) and UpdateConsumableResource all go through `_set_quantities`, which
keeps `totalQuantity`, `inUseQuantity` and `availableQuantity` of the stored
describe output consistent.
"""

from __future__ import annotations

from typing import Any

from localbatch.api import operation
from localbatch.api._common import check_name, check_new, check_tags, clone, fresh, paged, require_one, updated
from localbatch.engine.schedulers import request_dispatch
from localbatch.engine.tables import Resource
from localbatch.errors import BatchClientError
from localbatch.service_model import enum_message

REPLENISHABLE = "REPLENISHABLE"
NON_REPLENISHABLE = "NON_REPLENISHABLE"
RESOURCE_TYPES = [REPLENISHABLE, NON_REPLENISHABLE]
UPDATE_OPERATIONS = ["SET", "ADD", "REMOVE"]
NAME_FILTER = "CONSUMABLE_RESOURCE_NAME"
CLIENT_TOKEN_TTL_MS = 8 * 3600 * 1000


class ConsumableResource(Resource):
    """A stored consumable resource, plus the clientTokens of its recent updates."""

    def __init__(self, seq: int, arn: str, name: str, data: dict[str, Any]) -> None:
        super().__init__(seq, arn, name, data)
        # token -> (request it answered, engine time it answered it, response)
        self.client_tokens: dict[str, tuple[tuple[str, int | None], int, dict[str, Any]]] = {}


def find_consumable_resource(backend: Any, name_or_arn: str) -> ConsumableResource:
    return require_one(backend.consumable_resources, name_or_arn, f"{name_or_arn} does not exist")


def available_units(resource: Resource) -> int:
    return resource.data["availableQuantity"]


def lock_units(backend: Any, resource: Resource, quantity: int) -> None:
    """Take `quantity` units for a job entering STARTING.

    A NON_REPLENISHABLE resource is consumed for good: the units leave the
    total and are never returned, so they never show as in use.
    """
    if quantity > available_units(resource):
        raise ValueError(f"cannot lock {quantity} units of {resource.name}: only {available_units(resource)} available")
    total, in_use = resource.data["totalQuantity"], resource.data["inUseQuantity"]
    if resource.data["resourceType"] == NON_REPLENISHABLE:
        _set_quantities(backend, resource, total - quantity, in_use)
    else:
        _set_quantities(backend, resource, total, in_use + quantity)


def release_units(backend: Any, resource: Resource, quantity: int) -> None:
    """Give back the units of a job that reached SUCCEEDED or FAILED (REPLENISHABLE only)."""
    if resource.data["resourceType"] == NON_REPLENISHABLE:
        return
    in_use = resource.data["inUseQuantity"]
    if quantity > in_use:
        raise ValueError(f"cannot release {quantity} units of {resource.name}: only {in_use} in use")
    _set_quantities(backend, resource, resource.data["totalQuantity"], in_use - quantity)


def _set_quantities(backend: Any, resource: Resource, total: int, in_use: int) -> None:
    updated(backend, resource, totalQuantity=total, inUseQuantity=in_use, availableQuantity=total - in_use)


def _check_quantity(field: str, value: int) -> None:
    if value < 0:
        raise BatchClientError(f"{field} must be greater than or equal to 0")


@operation("CreateConsumableResource")
def create_consumable_resource(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    name = params["consumableResourceName"]
    check_name("consumableResourceName", name)
    total = params.get("totalQuantity", 0)
    _check_quantity("totalQuantity", total)
    resource_type = params.get("resourceType", REPLENISHABLE)
    if resource_type not in RESOURCE_TYPES:
        raise BatchClientError(enum_message("resourceType", resource_type, RESOURCE_TYPES))
    check_tags(params.get("tags"))
    table = backend.consumable_resources
    check_new(table, name, backend.config.max_consumable_resources, "consumable resources")
    arn = backend.arn(f"consumable-resource/{name}")
    data = {
        "consumableResourceName": name,
        "consumableResourceArn": arn,
        "totalQuantity": total,
        "inUseQuantity": 0,
        "availableQuantity": total,
        "resourceType": resource_type,
        "createdAt": backend.now_ms,
        "tags": params.get("tags", {}),
    }
    table.add(ConsumableResource(backend.next_seq(), arn, name, data))
    request_dispatch(backend)  # a job may have been waiting for this resource
    return {"consumableResourceName": name, "consumableResourceArn": arn}


def _new_total(resource: Resource, operation_name: str, quantity: int) -> int:
    total, in_use = resource.data["totalQuantity"], resource.data["inUseQuantity"]
    if operation_name == "SET":
        new_total = quantity
    elif operation_name == "ADD":
        new_total = total + quantity
    else:
        new_total = total - quantity
    # Units locked by running jobs cannot be taken away from them.
    if new_total < in_use:
        raise BatchClientError(
            f"Cannot reduce totalQuantity of consumable resource {resource.name} to {new_total}: "
            f"{in_use} units are in use"
        )
    return new_total


def _replay(backend: Any, resource: ConsumableResource, token: str, request: tuple) -> dict[str, Any] | None:
    """The answer already given to this token and request, while the token is valid."""
    seen = resource.client_tokens.get(token)
    if seen is not None and seen[0] == request and backend.now_ms - seen[1] < CLIENT_TOKEN_TTL_MS:
        return clone(seen[2])
    return None


def _remember(backend: Any, resource: ConsumableResource, token: str, request: tuple, out: dict[str, Any]) -> None:
    # botocore fills in a fresh clientToken on every call, so expired tokens
    # are dropped as new ones arrive; the dict stays in first-use order.
    tokens = resource.client_tokens
    journal = backend.journal
    journal.pop(tokens, token)
    while tokens:
        oldest = next(iter(tokens))
        if backend.now_ms - tokens[oldest][1] < CLIENT_TOKEN_TTL_MS:
            break
        journal.pop(tokens, oldest)
    journal.put(tokens, token, (request, backend.now_ms, out))


@operation("UpdateConsumableResource")
def update_consumable_resource(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    resource = find_consumable_resource(backend, params["consumableResource"])
    operation_name = params.get("operation", "SET")
    if operation_name not in UPDATE_OPERATIONS:
        raise BatchClientError(enum_message("operation", operation_name, UPDATE_OPERATIONS))
    quantity = params.get("quantity")
    if quantity is not None:
        _check_quantity("quantity", quantity)
    token = params.get("clientToken")
    request = (operation_name, quantity)
    if token is not None:
        replayed = _replay(backend, resource, token, request)
        if replayed is not None:
            return replayed
    if quantity is not None:
        total = _new_total(resource, operation_name, quantity)
        _set_quantities(backend, resource, total, resource.data["inUseQuantity"])
        request_dispatch(backend)  # a job waiting for units may fit now
    out = {
        "consumableResourceName": resource.name,
        "consumableResourceArn": resource.arn,
        "totalQuantity": resource.data["totalQuantity"],
    }
    if token is not None:
        _remember(backend, resource, token, request, out)
    return clone(out)


@operation("DeleteConsumableResource")
def delete_consumable_resource(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    # Allowed at any time [proposed]: jobs that need it wait in RUNNABLE.
    backend.consumable_resources.remove(find_consumable_resource(backend, params["consumableResource"]))
    return {}


@operation("DescribeConsumableResource")
def describe_consumable_resource(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    return fresh(find_consumable_resource(backend, params["consumableResource"]))


def _name_matcher(filters: list[dict[str, Any]]):
    tests = []
    for entry in filters:
        if entry.get("name") != NAME_FILTER:
            raise BatchClientError(f"Invalid filter name {entry.get('name')}; the only supported name is {NAME_FILTER}")
        exact: set[str] = set()
        prefixes: list[str] = []
        for value in entry.get("values") or []:
            if value.endswith("*"):
                prefixes.append(value[:-1].lower())
            else:
                exact.add(value.lower())
        tests.append((exact, tuple(prefixes)))

    def keep(resource: Resource) -> bool:
        name = resource.name.lower()
        return all(name in exact or name.startswith(prefixes) for exact, prefixes in tests)

    return keep


def _summary(resource: Resource) -> dict[str, Any]:
    data = resource.data
    return {
        "consumableResourceArn": resource.arn,
        "consumableResourceName": resource.name,
        "totalQuantity": data["totalQuantity"],
        "inUseQuantity": data["inUseQuantity"],
        "resourceType": data["resourceType"],
    }


@operation("ListConsumableResources")
def list_consumable_resources(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    filters = params.get("filters")
    keep = _name_matcher(filters) if filters else None
    return paged(params, "consumableResources", backend.consumable_resources, _summary, keep)
