"""Job definitions (spec §1.4, §2.6, §2.7, §7 rows 5-10, 13, 22, 31).

Revisions of one name are numbered 1, 2, 3... and never reused; a
deregistered revision stays (INACTIVE) so its number stays taken. Besides
the table, the backend keeps `job_definition_revisions`: every name's
revisions in order, and the names sorted, so that SubmitJob resolution and
DescribeJobDefinitions (name asc, revision asc) never scan all definitions.
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_left
from typing import Any, Iterator

from localbatch.api import operation
from localbatch.api._common import check_name, check_range, check_tags, cursor_request, cursor_token, fresh, updated
from localbatch.engine.tables import JobDefinitionRevisions, Resource
from localbatch.errors import BatchClientError
from localbatch.ids import is_arn

ACTIVE = "ACTIVE"
INACTIVE = "INACTIVE"
MAX_DESCRIBE = 100
MAX_SIZE_KIB = 24
MAX_ATTEMPTS = 10
MAX_EVALUATE_ON_EXIT = 5
MAX_PATTERN = 512
MIN_TIMEOUT_SECONDS = 60
MIN_MEMORY_MIB = 4
MAX_NODES = 1000
MAX_NODE_GROUPS = 5
MAX_TASK_CONTAINERS = 10
RESERVED_ENV_PREFIX = "AWS_BATCH"
BODIES = ("containerProperties", "ecsProperties", "eksProperties")

# Members of the JobDefinition output shape copied from the request, in the model's order.
_BEFORE_TAGS = ("schedulingPriority", "parameters", "retryStrategy", "containerProperties", "timeout", "nodeProperties")
_AFTER_TAGS = ("propagateTags", "platformCapabilities", "ecsProperties", "eksProperties")

# Fargate VCPU -> MEMORY (MiB) values it may pair with (ResourceRequirement docs of the model).
FARGATE_MEMORY: dict[float, frozenset[int]] = {
    0.25: frozenset((512, 1024, 2048)),
    0.5: frozenset(range(1024, 4097, 1024)),
    1: frozenset(range(2048, 8193, 1024)),
    2: frozenset(range(4096, 16385, 1024)),
    4: frozenset(range(8192, 30721, 1024)),
    8: frozenset(range(16384, 61441, 4096)),
    16: frozenset(range(32768, 122881, 8192)),
    32: frozenset((61440, 122880, 249856)),
}

_INTEGER_RE = re.compile(r"[0-9]+")
_NUMBER_RE = re.compile(r"[0-9]+(\.[0-9]+)?")
_TARGET_NODES_RE = re.compile(r"([0-9]*):([0-9]*)")
# evaluateOnExit patterns: the documented characters, optionally ending in `*`.
_REASON_RE = re.compile(r"[A-Za-z0-9.:\s]*\*?")
_EXIT_CODE_RE = re.compile(r"[0-9]*\*?")
_PATTERNS = (
    ("onStatusReason", _REASON_RE, "letters, numbers, periods, colons and white space"),
    ("onReason", _REASON_RE, "letters, numbers, periods, colons and white space"),
    ("onExitCode", _EXIT_CODE_RE, "digits"),
)


def _revisions(backend: Any) -> JobDefinitionRevisions:
    return backend.job_definition_revisions


def _add_revision(backend: Any, jd: Resource) -> None:
    index = _revisions(backend)
    earlier = index.by_name.get(jd.name, ())
    if not earlier:
        at = bisect_left(index.names, jd.name)
        index.names.insert(at, jd.name)
        backend.journal.record(index.names.pop, at)
    backend.journal.put(index.by_name, jd.name, earlier + (jd,))
    backend.job_definitions.add(jd)


# -- resolution (SubmitJob, DeregisterJobDefinition, DescribeJobDefinitions) ----


def _parse_ref(backend: Any, ref: str) -> tuple[str, int | None] | None:
    """(name, revision or None) of `name`, `name:rev` or an ARN of this backend."""
    rest = ref
    if is_arn(ref):
        prefix = backend.arn("job-definition/")
        if not ref.startswith(prefix):
            return None
        rest = ref[len(prefix) :]
    name, colon, revision = rest.rpartition(":")
    if not colon:
        return rest, None
    if not (revision.isascii() and revision.isdigit()):
        return None
    return name, int(revision)


def _revision(backend: Any, name: str, revision: int) -> Resource | None:
    revisions = _revisions(backend).by_name.get(name, ())
    return revisions[revision - 1] if 1 <= revision <= len(revisions) else None


def _latest_active(backend: Any, name: str) -> Resource | None:
    for jd in reversed(_revisions(backend).by_name.get(name, ())):
        if jd.data["status"] == ACTIVE:
            return jd
    return None


def _find_revision(backend: Any, ref: str) -> Resource | None:
    """The revision named by `name:rev` or a full ARN; None for anything else."""
    parsed = _parse_ref(backend, ref)
    if parsed is None or parsed[1] is None:
        return None
    return _revision(backend, *parsed)


def resolve_job_definition(backend: Any, ref: str) -> Resource:
    """The job definition SubmitJob runs for `ref` (spec §1.4 "JD resolution at SubmitJob").

    A name means its latest ACTIVE revision; `name:rev` or an ARN with a
    revision means that revision, which must be ACTIVE; an ARN without a
    revision means the latest ACTIVE revision of its name.
    """
    parsed = _parse_ref(backend, ref)
    if parsed is not None and parsed[1] is None and not is_arn(ref):
        found = _latest_active(backend, ref)
        if found is None:
            raise BatchClientError(f"JobDefinition name {ref} does not exist or is not in ACTIVE status")
        return found
    found = None
    if parsed is not None:
        name, revision = parsed
        found = _latest_active(backend, name) if revision is None else _revision(backend, name, revision)
    if found is None or found.data["status"] != ACTIVE:
        raise BatchClientError(f"JobDefinition {ref} not found.")
    return found


# -- validation shared with SubmitJob -----------------------------------------


def check_retry_strategy(strategy: dict[str, Any] | None) -> dict[str, Any] | None:
    """Check a retryStrategy (spec §2.6, §7 rows 6-8); return it as describe output shows it.

    `action` is accepted in any case but the output shape only knows RETRY
    and EXIT, so the returned copy carries it upper-cased: store that one.
    """
    if strategy is None:
        return None
    attempts = strategy.get("attempts")
    conditions = strategy.get("evaluateOnExit")
    if conditions and attempts is None:
        raise BatchClientError("RetryAttempts must be provided with retry strategy", wrapped=True)
    if attempts is not None and not 1 <= attempts <= MAX_ATTEMPTS:
        raise BatchClientError(f"Attempts must be between 1 and {MAX_ATTEMPTS}")
    if not conditions:
        return strategy
    if len(conditions) > MAX_EVALUATE_ON_EXIT:
        raise BatchClientError(f"evaluateOnExit must contain at most {MAX_EVALUATE_ON_EXIT} items")
    for condition in conditions:
        for field, pattern, allowed in _PATTERNS:
            value = condition.get(field)
            if value is None:
                continue
            if len(value) > MAX_PATTERN:
                raise BatchClientError(f"{field} must be at most {MAX_PATTERN} characters long")
            if not pattern.fullmatch(value):
                raise BatchClientError(f"{field} {value} may contain only {allowed}, optionally ending with *")
    return {**strategy, "evaluateOnExit": [{**c, "action": c["action"].upper()} for c in conditions]}


def check_timeout(timeout: dict[str, Any] | None) -> None:
    """Spec §2.7 and §7 row 10."""
    seconds = (timeout or {}).get("attemptDurationSeconds")
    if seconds is not None and seconds < MIN_TIMEOUT_SECONDS:
        raise BatchClientError(f"Timeout must be at least {MIN_TIMEOUT_SECONDS} seconds")


def check_environment(variables: list[dict[str, Any]] | None) -> None:
    """Spec §2.11: the AWS_BATCH prefix is reserved for the variables Batch sets."""
    for variable in variables or ():
        if (variable.get("name") or "").startswith(RESERVED_ENV_PREFIX):
            raise BatchClientError(f"Environment variable name cannot start with {RESERVED_ENV_PREFIX}")


# -- container resources ------------------------------------------------------


def _invalid_value(kind: str, value: str) -> BatchClientError:
    return BatchClientError(
        f"Value {value} for type {kind} in resourceRequirement is not valid. Please provide a numeric value.",
        wrapped=True,
    )


def _integer(kind: str, value: str) -> int:
    if not _INTEGER_RE.fullmatch(value):
        raise _invalid_value(kind, value)
    return int(value)


def _number(kind: str, value: str) -> float:
    if not _NUMBER_RE.fullmatch(value):
        raise _invalid_value(kind, value)
    return float(value)


def _requirements(requirements: list[dict[str, str]] | None) -> dict[str, str]:
    by_type: dict[str, str] = {}
    for requirement in requirements or ():
        kind = requirement["type"]
        if kind in by_type:
            raise BatchClientError(f"resourceRequirements contains type {kind} more than once")
        by_type[kind] = requirement["value"]
    return by_type


def _not_applicable(field: str, platform: str) -> BatchClientError:
    label = "Fargate" if platform == "FARGATE" else platform
    return BatchClientError(f"{field} not applicable for {label}.", wrapped=True)


def _check_memory(memory: int | None) -> None:
    if memory is not None and memory < MIN_MEMORY_MIB:
        raise BatchClientError(f"Memory must be at least {MIN_MEMORY_MIB} MiB, got {memory}")


def _check_fargate_pair(vcpu: float | None, memory: int | None) -> None:
    if vcpu is None:
        raise BatchClientError("vCPU is not provided.", wrapped=True)
    if memory is None:
        raise BatchClientError("memory is not provided.", wrapped=True)
    if memory not in FARGATE_MEMORY.get(vcpu, ()):
        raise BatchClientError(f"Fargate does not support VCPU {vcpu:g} with MEMORY {memory} MiB")


def _check_container(container: dict[str, Any], platform: str) -> None:
    """containerProperties of a single-node job, or `container` of a node range."""
    check_environment(container.get("environment"))
    requirements = _requirements(container.get("resourceRequirements"))
    if platform == "FARGATE":
        for field in ("vcpus", "memory", "instanceType"):
            if container.get(field) is not None:
                raise _not_applicable(field, platform)
        if "GPU" in requirements:
            raise _not_applicable("GPU", platform)
        vcpu = _number("VCPU", requirements["VCPU"]) if "VCPU" in requirements else None
        memory = _integer("MEMORY", requirements["MEMORY"]) if "MEMORY" in requirements else None
        _check_memory(memory)
        _check_fargate_pair(vcpu, memory)
        return
    for field in ("networkConfiguration", "fargatePlatformConfiguration"):
        if container.get(field) is not None:
            raise _not_applicable(field, platform)
    for legacy, kind in (("vcpus", "VCPU"), ("memory", "MEMORY")):
        if container.get(legacy) is not None and kind in requirements:
            raise BatchClientError(f"{legacy} and a {kind} resourceRequirement cannot both be specified")
    vcpu = _integer("VCPU", requirements["VCPU"]) if "VCPU" in requirements else container.get("vcpus")
    if vcpu is None:
        raise BatchClientError("vCPU is not provided.", wrapped=True)
    if vcpu < 1:
        raise BatchClientError(f"vCPU must be at least 1, got {vcpu}")
    _check_memory(_integer("MEMORY", requirements["MEMORY"]) if "MEMORY" in requirements else container.get("memory"))
    if "GPU" in requirements:
        _integer("GPU", requirements["GPU"])


def _check_ecs(ecs: dict[str, Any], platform: str) -> None:
    tasks = ecs["taskProperties"]
    if len(tasks) != 1:
        raise BatchClientError("ecsProperties.taskProperties must contain exactly one task")
    task = tasks[0]
    containers = task["containers"]
    if not 1 <= len(containers) <= MAX_TASK_CONTAINERS:
        raise BatchClientError(f"A task must have between 1 and {MAX_TASK_CONTAINERS} containers")
    if not any(c.get("essential", True) for c in containers):
        raise BatchClientError("At least one container of a task must be essential")
    if platform != "FARGATE" and task.get("networkConfiguration") is not None:
        raise _not_applicable("networkConfiguration", platform)
    vcpu: float | None = None
    memory: int | None = None
    for container in containers:
        check_environment(container.get("environment"))
        requirements = _requirements(container.get("resourceRequirements"))
        if "GPU" in requirements:
            if platform == "FARGATE":
                raise _not_applicable("GPU", platform)
            _integer("GPU", requirements["GPU"])
        if "VCPU" in requirements:
            vcpu = (vcpu or 0) + _number("VCPU", requirements["VCPU"])
        if "MEMORY" in requirements:
            container_memory = _integer("MEMORY", requirements["MEMORY"])
            _check_memory(container_memory)
            memory = (memory or 0) + container_memory
    # A Fargate task is sized by the sum of its containers.
    if platform == "FARGATE":
        _check_fargate_pair(vcpu, memory)
    elif vcpu is None:
        raise BatchClientError("vCPU is not provided.", wrapped=True)


def _check_eks(eks: dict[str, Any]) -> None:
    pod = eks.get("podProperties") or {}
    containers = pod.get("containers") or []
    if not containers:
        raise BatchClientError("eksProperties.podProperties.containers must contain at least one container")
    for container in containers + (pod.get("initContainers") or []):
        check_environment(container.get("env"))


# -- multi-node parallel ------------------------------------------------------


def node_range(target_nodes: str, num_nodes: int) -> tuple[int, int]:
    """First and last node index of `a:b`, `:b` or `a:` (open ends run to 0 / numNodes-1)."""
    match = _TARGET_NODES_RE.fullmatch(target_nodes)
    if match is None:
        raise BatchClientError(f"targetNodes {target_nodes} must be a node range like 0:3, :3 or 3:")
    first = int(match[1]) if match[1] else 0
    last = int(match[2]) if match[2] else num_nodes - 1
    if first > last or last >= num_nodes:
        raise BatchClientError(f"targetNodes {target_nodes} must lie within nodes 0 to {num_nodes - 1}")
    return first, last


def _check_nodes(nodes: dict[str, Any]) -> None:
    num_nodes = nodes["numNodes"]
    check_range("numNodes", num_nodes, 1, MAX_NODES)
    check_range("mainNode", nodes["mainNode"], 0, num_nodes - 1)
    groups = nodes["nodeRangeProperties"]
    if not 1 <= len(groups) <= MAX_NODE_GROUPS:
        raise BatchClientError(f"nodeRangeProperties must contain between 1 and {MAX_NODE_GROUPS} node groups")
    covered = bytearray(num_nodes)
    instance_types: set[str] = set()
    for group in groups:
        first, last = node_range(group["targetNodes"], num_nodes)
        covered[first : last + 1] = b"\x01" * (last - first + 1)
        _check_node_group(group, instance_types)
    if len(instance_types) > 1:
        raise BatchClientError("All node groups of a multinode job definition must use the same instance type")
    if 0 in covered:
        raise BatchClientError(f"Node {covered.index(0)} is not covered by the targetNodes of any node range")


def _check_node_group(group: dict[str, Any], instance_types: set[str]) -> None:
    if group.get("eksProperties") is not None:
        raise BatchClientError("multinode job definitions are not supported on EKS")
    container, ecs = group.get("container"), group.get("ecsProperties")
    if (container is None) == (ecs is None):
        raise BatchClientError("A node range needs exactly one of container or ecsProperties")
    if container is not None:
        _check_container(container, "EC2")
        if container.get("instanceType"):
            instance_types.add(container["instanceType"])
    else:
        _check_ecs(ecs, "EC2")
    listed = group.get("instanceTypes") or []
    if len(listed) > 1:
        raise BatchClientError("instanceTypes of a node range can contain at most one instance type")
    instance_types.update(listed)


# -- RegisterJobDefinition ----------------------------------------------------


def _check_size(params: dict[str, Any]) -> None:
    size = len(json.dumps(params, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_SIZE_KIB * 1024:
        raise BatchClientError(
            f"Job definition size must be less than {MAX_SIZE_KIB} KiB, got {math.ceil(size / 1024)} KiB", wrapped=True
        )


def _platform(params: dict[str, Any], eks: bool) -> str:
    capabilities = params.get("platformCapabilities")
    if eks:
        if capabilities:
            raise BatchClientError("platformCapabilities cannot be specified for an EKS job definition")
        return "EKS"
    if capabilities is None:
        return "EC2"
    if len(capabilities) != 1:
        raise BatchClientError("platformCapabilities must contain exactly one value")
    return capabilities[0]


def _check_body(params: dict[str, Any]) -> str:
    """Check type, properties and platform; return the containerOrchestrationType."""
    bodies = [key for key in BODIES if params.get(key) is not None]
    eks = "eksProperties" in bodies
    platform = _platform(params, eks)
    if eks and params.get("propagateTags"):
        raise BatchClientError("propagateTags cannot be specified for an EKS job definition")
    if params["type"] == "multinode":
        _check_multinode(params, bodies, platform)
    else:
        _check_single_node(params, bodies, platform)
    return "EKS" if eks else "ECS"


def _check_single_node(params: dict[str, Any], bodies: list[str], platform: str) -> None:
    if params.get("nodeProperties") is not None:
        raise BatchClientError("nodeProperties can only be specified for a multinode job definition")
    if len(bodies) != 1:
        raise BatchClientError(
            "A container job definition needs exactly one of containerProperties, ecsProperties or eksProperties"
        )
    if bodies[0] == "containerProperties":
        if platform == "MANAGED_INSTANCES":
            raise BatchClientError("Job definitions with platform capability MANAGED_INSTANCES must use ecsProperties")
        _check_container(params["containerProperties"], platform)
    elif bodies[0] == "ecsProperties":
        _check_ecs(params["ecsProperties"], platform)
    else:
        _check_eks(params["eksProperties"])


def _check_multinode(params: dict[str, Any], bodies: list[str], platform: str) -> None:
    if bodies:
        raise BatchClientError(
            "containerProperties, ecsProperties and eksProperties cannot be specified for a multinode job "
            "definition; specify them in nodeRangeProperties"
        )
    if params.get("nodeProperties") is None:
        raise BatchClientError("nodeProperties is required for a multinode job definition")
    if platform != "EC2":
        raise BatchClientError(f"multinode job definitions are not supported with platform capability {platform}")
    _check_nodes(params["nodeProperties"])


@operation("RegisterJobDefinition")
def register_job_definition(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    name = params["jobDefinitionName"]
    check_name("jobDefinitionName", name)
    _check_size(params)
    orchestration = _check_body(params)
    check_range("schedulingPriority", params.get("schedulingPriority"), 0, 9999)
    retry_strategy = check_retry_strategy(params.get("retryStrategy"))
    check_timeout(params.get("timeout"))
    check_tags(params.get("tags"))
    revision = len(_revisions(backend).by_name.get(name, ())) + 1
    arn = backend.arn(f"job-definition/{name}:{revision}")
    data: dict[str, Any] = {
        "jobDefinitionName": name,
        "jobDefinitionArn": arn,
        "revision": revision,
        "status": ACTIVE,
        "type": params["type"],
    }
    data.update((key, params[key]) for key in _BEFORE_TAGS if key in params)
    if retry_strategy is not None:
        data["retryStrategy"] = retry_strategy
    data["tags"] = params.get("tags", {})
    data.update((key, params[key]) for key in _AFTER_TAGS if key in params)
    data["containerOrchestrationType"] = orchestration
    if "consumableResourceProperties" in params:
        data["consumableResourceProperties"] = params["consumableResourceProperties"]
    _add_revision(backend, Resource(backend.next_seq(), arn, name, data))
    return {"jobDefinitionName": name, "jobDefinitionArn": arn, "revision": revision}


@operation("DeregisterJobDefinition")
def deregister_job_definition(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    ref = params["jobDefinition"]
    jd = _find_revision(backend, ref)
    if jd is None:
        raise BatchClientError(f"JobDefinition {ref} not found.")
    if jd.data["status"] == ACTIVE:  # deregistering an INACTIVE revision again is a no-op [proposed]
        updated(backend, jd, status=INACTIVE)
    return {}


# -- DescribeJobDefinitions ---------------------------------------------------


def _order(jd: Resource) -> tuple[str, int]:
    return jd.name, jd.data["revision"]


def _parse_cursor(cursor: str | None) -> tuple[str, int] | None:
    if cursor is None:
        return None
    name, _, revision = cursor.rpartition(":")
    if not (name and revision.isascii() and revision.isdigit()):
        raise BatchClientError("Invalid nextToken")
    return name, int(revision)


def _page_in_order(
    backend: Any, after: tuple[str, int] | None, only_name: str | None, status: str | None, limit: int
) -> tuple[list[Resource], bool]:
    """Up to `limit` job definitions in (name, revision) order after `after`
    (only those with `status`, if given), and whether any more follow."""
    index = _revisions(backend)
    if only_name is None:
        names = index.names
    else:
        names = [only_name] if only_name in index.by_name else []
    page: list[Resource] = []
    want = limit + 1  # one past the page says whether a next page exists
    # Index walks over names: a slice of `names` would copy everything left.
    for i in range(bisect_left(names, after[0]) if after else 0, len(names)):
        revisions = index.by_name[names[i]]
        start = after[1] if after and names[i] == after[0] else 0
        if status is None:
            page += revisions[start : start + want - len(page)]
        else:
            for k in range(start, len(revisions)):
                if revisions[k].data["status"] == status:
                    page.append(revisions[k])
                    if len(page) == want:
                        break
        if len(page) == want:
            return page[:limit], True
    return page, False


def _listed(backend: Any, refs: list[str], after: tuple[str, int] | None) -> Iterator[Resource]:
    found = {jd.arn: jd for ref in refs if (jd := _find_revision(backend, ref)) is not None}
    for jd in sorted(found.values(), key=_order):
        if after is None or _order(jd) > after:
            yield jd


@operation("DescribeJobDefinitions")
def describe_job_definitions(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    refs = params.get("jobDefinitions") or []
    name = params.get("jobDefinitionName")
    status = params.get("status")
    if refs and (name is not None or status is not None):
        raise BatchClientError("jobDefinitions cannot be combined with jobDefinitionName or status")
    if len(refs) > MAX_DESCRIBE:
        raise BatchClientError(f"jobDefinitions must contain at most {MAX_DESCRIBE} items")
    cursor, limit = cursor_request(params, maximum=MAX_DESCRIBE)
    after = _parse_cursor(cursor)
    if refs:
        listed = list(_listed(backend, refs, after))
        page, more = listed[:limit], len(listed) > limit
    else:
        page, more = _page_in_order(backend, after, name, status, limit)
    out: dict[str, Any] = {"jobDefinitions": [fresh(jd) for jd in page]}
    if more:
        last_name, last_revision = _order(page[-1])
        out["nextToken"] = cursor_token(params, f"{last_name}:{last_revision}")
    return out
