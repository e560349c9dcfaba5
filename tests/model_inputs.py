"""Inputs for any operation, built from the vendored service model.

`minimal_params(op)` is the smallest request botocore accepts and the
model's enum/maximum checks let through. `input_strategy(op)` generates
requests for hypothesis: required members always, optional ones sometimes,
strings mostly from a small pool of names and ARNs that the seeded
resources (see tests/test_contract.py) actually use, so update, delete and
tag paths are reached, not only "does not exist".
"""

from __future__ import annotations

from functools import cache
from typing import Any

from hypothesis import strategies as st

from localbatch import service_model

REGION = "us-east-1"
ACCOUNT = "123456789012"
PREFIX = f"arn:aws:batch:{REGION}:{ACCOUNT}:"

# Filled in at run time with the ids of the seeded jobs.
JOB_ID = "<seed-job-id>"
SERVICE_JOB_ID = "<seed-service-job-id>"

CE = PREFIX + "compute-environment/"
JQ = PREFIX + "job-queue/"
SP = PREFIX + "scheduling-policy/"
SE = PREFIX + "service-environment/"
CR = PREFIX + "consumable-resource/"
JD = PREFIX + "job-definition/"
QS = JQ + "seed-sm/quota-share/"

NAMES = ["seed", "seed-fair", "seed-quota", "seed-sm", "seed-unmanaged", "seed-disabled", "new", "x"]
ARNS = [
    CE + "seed",
    CE + "seed-unmanaged",
    CE + "seed-disabled",
    JQ + "seed",
    JQ + "seed-fair",
    JQ + "seed-sm",
    JQ + "seed-disabled",
    QS + "seed",
    QS + "seed-disabled",
    JD + "seed:1",
    JD + "seed",
    SP + "seed",
    SP + "seed-quota",
    SP + "seed-spare",
    SE + "seed",
    SE + "seed-disabled",
    CR + "seed",
    PREFIX + "job/" + JOB_ID,
    PREFIX + "service-job/" + SERVICE_JOB_ID,
    JQ + "missing",
    "arn:aws:batch:eu-west-1:123456789012:job-queue/seed",
    "arn:aws:batch:us-east-1:210987654321:scheduling-policy/seed",
    "arn:aws:s3:::bucket",
    "arn:",
]
ODD_STRINGS = [
    "seed:1",
    "seed:2",
    JOB_ID,
    JOB_ID + ":0",
    SERVICE_JOB_ID,
    "VCPU",
    "MEMORY",
    "1",
    "512",
    "0.25",
    "ml.m5.large",
    "NUM_INSTANCES",
    "FIFO",
    "busybox",
    "Ref::x",
    "bad name!",
    "aws:reserved",
    "a" * 129,
    "",
]
# Likely values by member name (a list's items use the list's member name),
# so a request names resources that exist more often than chance would.
_NEW_NAMES = ["new", "seed", "x", "bad name!", "a" * 129]
HINTS: dict[str, list[str]] = {
    "name": _NEW_NAMES,
    "computeEnvironmentName": _NEW_NAMES,
    "jobQueueName": _NEW_NAMES,
    "jobDefinitionName": _NEW_NAMES,
    "serviceEnvironmentName": _NEW_NAMES,
    "consumableResourceName": _NEW_NAMES,
    "quotaShareName": _NEW_NAMES + ["seed-disabled"],
    "jobName": _NEW_NAMES,
    "arn": [SP + "seed", SP + "seed-quota", SP + "seed-spare", SP + "missing"],
    "arns": [SP + "seed", SP + "seed-quota", SP + "seed-spare", SP + "missing"],
    "schedulingPolicyArn": [SP + "seed", SP + "seed-quota", SP + "seed-spare"],
    "computeEnvironment": ["seed", "seed-unmanaged", "seed-disabled", CE + "seed", CE + "missing"],
    "computeEnvironments": ["seed", "seed-unmanaged", "seed-disabled", CE + "seed", "missing"],
    "jobQueue": ["seed", "seed-fair", "seed-sm", "seed-disabled", JQ + "seed", JQ + "seed-sm", "missing"],
    "jobQueues": ["seed", "seed-fair", "seed-sm", "seed-disabled", JQ + "seed", "missing"],
    "serviceEnvironment": ["seed", "seed-disabled", SE + "seed", "missing"],
    "serviceEnvironments": ["seed", "seed-disabled", SE + "seed", "missing"],
    "quotaShareArn": [QS + "seed", QS + "seed-disabled", QS + "missing", JQ + "seed"],
    "consumableResource": ["seed", CR + "seed", "missing"],
    "jobDefinition": ["seed", "seed:1", "seed:2", JD + "seed:1", JD + "seed", "missing"],
    "jobDefinitions": ["seed:1", "seed:2", JD + "seed:1", "seed"],
    "jobId": [JOB_ID, SERVICE_JOB_ID, JOB_ID + ":0", "missing"],
    "jobs": [JOB_ID, SERVICE_JOB_ID, JOB_ID + ":0", "missing"],
    "arrayJobId": [JOB_ID, "missing"],
    "multiNodeJobId": [JOB_ID, "missing"],
    "resourceArn": [a for a in ARNS if a.startswith(PREFIX)] + ["arn:", "seed"],
    "capacityUnit": ["ml.m5.large", "ml.g5.xlarge", "NUM_INSTANCES"],
    "value": ["1", "2", "0.25", "512", "2048"],
    "shareIdentifier": ["a", "b", "a*", "bad id"],
    "serviceRequestPayload": ["{}", '{"TrainingJobName": "t"}', "not json"],
    "image": ["busybox"],
}


def weighted(*choices: tuple[int, st.SearchStrategy]) -> st.SearchStrategy:
    """Draw from one of `choices`, picked in proportion to its weight."""
    table = [strategy for weight, strategy in choices for _ in range(weight)]
    return st.sampled_from(table).flatmap(lambda strategy: strategy)


STRINGS = weighted(
    (4, st.sampled_from(NAMES + ARNS + ODD_STRINGS)),
    (1, st.text(alphabet="aZ09-_*:/ ", max_size=6)),
)
INTEGERS = weighted(
    (4, st.integers(0, 12)),
    (1, st.integers(-3, -1)),
    (1, st.sampled_from([60, 100, 1000, 9999, 10_000, 604_801, 2**31 - 1])),
)
FLOATS = weighted(
    (4, st.floats(0.0001, 999.9999)),
    (1, st.sampled_from([-1.0, 0.0, 0.00001, 999.9999, 1000.0])),
)


def _string(member: str) -> st.SearchStrategy:
    hinted = HINTS.get(member)
    if hinted is None:
        return STRINGS
    return weighted((3, st.sampled_from(hinted)), (1, STRINGS))


# Beyond this depth, structures carry only their required members and lists
# and maps stay as short as the model allows.
MAX_DEPTH = 4


def _shapes() -> dict[str, Any]:
    return service_model.load()["shapes"]


def input_shape(operation: str) -> str | None:
    return service_model.load()["operations"][operation].get("input", {}).get("shape")


# -- the smallest valid request -----------------------------------------------------


def minimal_value(shape_name: str) -> Any:
    spec = _shapes()[shape_name]
    kind = spec["type"]
    if kind == "structure":
        return {m: minimal_value(spec["members"][m]["shape"]) for m in spec.get("required", [])}
    if kind == "list":
        return [minimal_value(spec["member"]["shape"]) for _ in range(spec.get("min", 0))]
    if kind == "map":
        return {f"k{i}": minimal_value(spec["value"]["shape"]) for i in range(spec.get("min", 0))}
    if kind == "string":
        if "enum" in spec:
            return spec["enum"][0]
        return "x" * max(1, spec.get("min", 1))
    if kind in ("integer", "long"):
        return spec.get("min", 1)
    if kind in ("float", "double"):
        return 1.0
    if kind == "boolean":
        return False
    raise AssertionError(f"shape {shape_name} has unexpected type {kind}")


def minimal_params(operation: str) -> dict[str, Any]:
    shape = input_shape(operation)
    return minimal_value(shape) if shape else {}


# -- hypothesis strategies -----------------------------------------------------------


@cache
def shape_strategy(shape_name: str, depth: int = 0, member: str = "") -> st.SearchStrategy:
    spec = _shapes()[shape_name]
    kind = spec["type"]
    deep = depth >= MAX_DEPTH
    if kind == "structure":
        required = set(spec.get("required", []))
        members = spec.get("members", {})
        must = {m: shape_strategy(ref["shape"], depth + 1, m) for m, ref in members.items() if m in required}
        may = {}
        if not deep:
            may = {m: shape_strategy(ref["shape"], depth + 1, m) for m, ref in members.items() if m not in required}
        return st.fixed_dictionaries(must, optional=may)
    if kind == "list":
        low = spec.get("min", 0)
        high = low if deep else max(low, 3)
        return st.lists(shape_strategy(spec["member"]["shape"], depth + 1, member), min_size=low, max_size=high)
    if kind == "map":
        low = spec.get("min", 0)
        high = low if deep else max(low, 3)
        keys = shape_strategy(spec["key"]["shape"], depth + 1)
        return st.dictionaries(keys, shape_strategy(spec["value"]["shape"], depth + 1), min_size=low, max_size=high)
    if kind == "string":
        if "enum" in spec:
            enum = list(spec["enum"])
            # mostly valid values; sometimes wrong case or not a value at all
            return st.sampled_from(enum * 4 + [enum[0].lower(), "BOGUS"])
        return _string(member)
    if kind in ("integer", "long"):
        return INTEGERS
    if kind in ("float", "double"):
        return FLOATS
    if kind == "boolean":
        return st.booleans()
    raise AssertionError(f"shape {shape_name} has unexpected type {kind}")


def input_strategy(operation: str) -> st.SearchStrategy:
    shape = input_shape(operation)
    return shape_strategy(shape) if shape else st.just({})


def substitute(value: Any, replacements: dict[str, str]) -> Any:
    """Put run-time ids (seeded jobs) in place of their placeholders."""
    if isinstance(value, str):
        for placeholder, real in replacements.items():
            value = value.replace(placeholder, real)
        return value
    if isinstance(value, dict):
        return {substitute(k, replacements): substitute(v, replacements) for k, v in value.items()}
    if isinstance(value, list):
        return [substitute(v, replacements) for v in value]
    return value
