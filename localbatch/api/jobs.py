"""Container jobs: SubmitJob, DescribeJobs, ListJobs, CancelJob(s),
TerminateJob(s), ListJobsByConsumableResource (spec §2, §6.1, §6.2, §9).

SubmitJob checks in the order of spec §2.2, then resolves everything the
job will ever need once (overrides merged, `Ref::` substituted, vCPUs
counted) into a `JobSpec`, and hands the job to the engine
(localbatch/engine/flow.py). Describe and list render the output shapes
from the job's slots; they never change a job.
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_left
from itertools import islice
from typing import Any, Callable, Iterable

from localbatch.api import operation
from localbatch.api._common import check_tags, clone, page_request, page_token
from localbatch.api.compute_environments import platform
from localbatch.api.job_definitions import resolve_job_definition
from localbatch.api.job_queues import find_job_queue
from localbatch.engine import capacity, flow
from localbatch.engine.executors import container_of
from localbatch.engine.fair_share_usage import MAX_ACTIVE_SHARES
from localbatch.engine.jobs import RUNNING, STATUSES, Attempt, Job, JobSpec, derived_hex
from localbatch.engine.schedulers import fair_share as fair_share_scheduler
from localbatch.errors import BatchClientError

JOB_NAME_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,127}")
JOB_ID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}([:#][0-9]+)?")
REF_RE = re.compile(r"Ref::([A-Za-z0-9_-]+)")
MAX_SUBMIT_KIB = 30
MAX_DEPENDENCIES = 20
MAX_DESCRIBE = 100
MAX_BULK = 50
MAX_REASON = 1024
MAX_OVERRIDES_CHARS = 8192
MAX_TAGS = 50
ARRAY_SIZE = (2, 10000)
LIST_MAXIMUM = 1000
LIST_FILTERED_MAXIMUM = 100
FILTER_NAMES = ("JOB_NAME", "JOB_DEFINITION", "BEFORE_CREATED_AT", "AFTER_CREATED_AT", "SHARE_IDENTIFIER")
FIFO_SHARE_MESSAGE = (
    "Job with shareIdentifier or schedulingPriority can onlybe submitted to job queue with fair share scheduling policy."
)


# == SubmitJob ====================================================================


@operation("SubmitJob")
def submit_job(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    name = params["jobName"]
    if not JOB_NAME_RE.fullmatch(name):
        raise BatchClientError("Job name should match valid pattern", wrapped=True)
    _check_size(params, backend.request_size)
    plain = _plain_submission(backend, params)
    if plain is not None:
        (queue, spec), dependencies = plain, []
    else:
        queue, dependencies, spec = _checked(backend, params)
    job_id = backend.ids.uuid4()
    job = Job(backend.next_seq(), job_id, backend.arn(f"job/{job_id}"), name, queue.arn, spec, backend.now_ms)
    job.dependencies = dependencies
    job.tags = params.get("tags")
    flow.submit(backend, job, in_call=True)  # the controller ran the due events first
    return {"jobArn": job.arn, "jobName": name, "jobId": job_id}


def _checked(backend: Any, params: dict[str, Any]) -> tuple[Any, list[dict[str, Any]], JobSpec]:
    """(queue, dependsOn as stored, JobSpec) of a submission, checked in the order of spec §2.2."""
    queue = _submit_queue(backend, params["jobQueue"])
    jd = _job_definition(backend, params["jobDefinition"])
    _check_platform(backend, queue, jd.data)
    _check_share(backend, queue, params)
    dependencies, sequential = _dependencies(backend, params)
    return queue, dependencies, _spec(backend, params, jd.data, sequential)


_PLAIN = frozenset({"jobName", "jobQueue", "jobDefinition"})


def _plain_submission(backend: Any, params: dict[str, Any]) -> tuple[Any, JobSpec] | None:
    """(queue, spec) of a submission naming only a job, a queue and a job
    definition, or None for any other. Everything SubmitJob checks and
    resolves for one follows from the queue and definition references and
    from stored resources alone, so it is worked out once per pair and kept
    until a resource changes: any data replaced, or a queue, compute
    environment, job definition or scheduling policy added or removed (the
    versions of engine/tables.py and Backend.data_version). Derived data,
    not journaled: a rollback restores the versions with the state they
    describe. Definitions that name consumable resources are resolved
    against those on each call."""
    if not _PLAIN.issuperset(params):
        return None
    store = backend.jobs
    key = (params["jobQueue"], params["jobDefinition"])
    versions = (
        backend.data_version,
        backend.job_queues.version,
        backend.compute_environments.version,
        backend.job_definitions.version,
        backend.scheduling_policies.version,
    )
    found = store.plain_submissions.get(key)
    if found is not None and found[0] == versions:
        return found[1], found[2]
    queue, _, spec = _checked(backend, params)
    if spec.job_definition.get("consumableResourceProperties") is None:
        store.plain_submissions[key] = (versions, queue, spec)
    return queue, spec


def _check_size(params: dict[str, Any], request_size: int | None = None) -> None:
    """The request as compact UTF-8 JSON must fit in 30 KiB.

    `request_size` is the length of the body botocore serialised (the shim
    passes it): the same members with ", " / ": " separators and non-ASCII
    escaped, so never shorter than the compact form. A body that fits
    settles it without serialising the request again."""
    if request_size is not None and request_size <= MAX_SUBMIT_KIB * 1024:
        return
    size = len(json.dumps(params, separators=(",", ":"), ensure_ascii=False).encode())
    if size > MAX_SUBMIT_KIB * 1024:
        raise BatchClientError(
            f"Job size must be less than {MAX_SUBMIT_KIB} KiB, got {math.ceil(size / 1024)} KiB", wrapped=True
        )


def _submit_queue(backend: Any, given: str) -> Any:
    queue = find_job_queue(backend, given)
    if queue is None or queue.data.get("status") == "DELETED":
        raise BatchClientError(f"JobQueue {given} not found.")
    if queue.data.get("state") != "ENABLED":
        raise BatchClientError(f"JobQueue {queue.name} is not in ENABLED state")
    if queue.data.get("jobQueueType") == "SAGEMAKER_TRAINING":
        raise BatchClientError(
            f"JobQueue {queue.name} is a SAGEMAKER_TRAINING job queue; submit service jobs to it with SubmitServiceJob"
        )
    return queue


def _job_definition(backend: Any, ref: str) -> Any:
    return resolve_job_definition(backend, ref)


def _check_platform(backend: Any, queue: Any, jd: dict[str, Any]) -> None:
    """Spec §1.4 [obs]: the JD's platform capability must be one the queue's CEs run."""
    order = queue.data["computeEnvironmentOrder"]
    if not order:
        return
    by_arn = backend.compute_environments.by_arn
    wanted = (jd.get("platformCapabilities") or ["EC2"])[0]
    eks = runs_wanted = False
    for entry in order:  # one pass: it runs on every SubmitJob
        ce = by_arn[entry["computeEnvironment"]]
        if ce.data.get("containerOrchestrationType") == "EKS":
            eks = True
        elif not runs_wanted and platform(ce) == wanted:
            runs_wanted = True
    if jd.get("containerOrchestrationType") == "EKS":
        if not eks:
            raise BatchClientError("Job Queue is attached to Compute Environment that can not run EKS jobs.")
        return
    if eks:
        raise BatchClientError("Job Queue is attached to Compute Environment that can only run EKS jobs.")
    if not runs_wanted:
        raise BatchClientError(
            f"Job Queue is attached to Compute Environment that can not run Jobs with capability {wanted}."
        )


def _check_share(backend: Any, queue: Any, params: dict[str, Any]) -> None:
    """Spec §2.2 step 5, §7 rows 5, 15, 16."""
    share = params.get("shareIdentifier")
    priority = params.get("schedulingPriorityOverride")
    policy_arn = queue.data.get("schedulingPolicyArn")
    policy = backend.scheduling_policies.get(policy_arn) if policy_arn else None
    fair_share = policy is not None and "fairsharePolicy" in policy.data
    if not fair_share:
        if share is not None or priority is not None:
            raise BatchClientError(FIFO_SHARE_MESSAGE)
        return
    if share is None:
        raise BatchClientError("shareIdentifier is required for a job queue with a fair share scheduling policy")
    if priority is not None and not 0 <= priority <= 9999:
        raise BatchClientError("schedulingPriority must be between 0 and 9999")
    if not fair_share_scheduler.admits_share(backend, queue, share):
        raise BatchClientError(
            f"Exceeded the limit of {MAX_ACTIVE_SHARES} active share identifiers for job queue {queue.name}"
        )


def _dependencies(backend: Any, params: dict[str, Any]) -> tuple[list[dict[str, Any]], bool]:
    """Spec §2.2 step 6, §2.3: (dependsOn as stored, whether children run one after another)."""
    given = params.get("dependsOn") or []
    if len(given) > MAX_DEPENDENCIES:
        raise BatchClientError(f"Job cannot have more than {MAX_DEPENDENCIES} dependencies", wrapped=True)
    size = (params.get("arrayProperties") or {}).get("size")
    stored: list[dict[str, Any]] = []
    sequential = False
    for dependency in given:
        kind = dependency.get("type")
        if kind == "SEQUENTIAL":
            if size is None:
                raise BatchClientError("A SEQUENTIAL dependency can only be specified for an array job")
            sequential = True
            stored.append({"type": "SEQUENTIAL"})
            continue
        job_id = dependency.get("jobId")
        if not job_id:
            raise BatchClientError("jobId is required for a dependency that is not SEQUENTIAL")
        job_id = job_id.rpartition("/")[2] if job_id.startswith("arn:") else job_id
        target = backend.jobs.get(job_id)
        if target is None:
            raise BatchClientError(f"Dependent job {job_id} not found")
        if kind == "N_TO_N" and (size is None or not target.is_array_parent or target.spec.array_size != size):
            raise BatchClientError(f"An N_TO_N dependency needs two array jobs of the same size: {job_id}")
        stored.append({"jobId": job_id, "type": kind} if kind else {"jobId": job_id})
    return stored, sequential


# -- the job's effective description ----------------------------------------------------


# SubmitJob members that never change the JobSpec (tags only through
# propagateTags, dependsOn only through SEQUENTIAL, which needs arrayProperties).
_SPEC_NEUTRAL = frozenset({"jobName", "jobQueue", "jobDefinition", "dependsOn", "tags"})


def _spec(backend: Any, params: dict[str, Any], jd: dict[str, Any], sequential: bool) -> JobSpec:
    """The JobSpec of a submission. A submission that overrides nothing gets
    the one JobSpec of its job definition revision: specs are never changed
    after SubmitJob, and stored job definition data is never edited in place,
    so what follows from `jd` alone is resolved once."""
    if (
        _SPEC_NEUTRAL.issuperset(params)
        and jd.get("consumableResourceProperties") is None  # resolved against the current resources
        and not (params.get("tags") and jd.get("propagateTags"))
    ):
        check_tags(params.get("tags"))
        cache = backend.jobs.plain_specs
        found = cache.get(id(jd))
        if found is None or found[0] is not jd:
            found = (jd, _resolve_spec(backend, {}, jd, False))
            cache[id(jd)] = found  # derived from immutable data: not journaled
        return found[1]
    return _resolve_spec(backend, params, jd, sequential)


def _resolve_spec(backend: Any, params: dict[str, Any], jd: dict[str, Any], sequential: bool) -> JobSpec:
    from localbatch.api.job_definitions import check_environment, check_retry_strategy, check_timeout

    multinode = jd.get("type") == "multinode"
    array_size = _array_size(params, multinode)
    check_retry_strategy(params.get("retryStrategy"))
    check_timeout(params.get("timeout"))
    parameters = {**(jd.get("parameters") or {}), **(params.get("parameters") or {})}
    check_tags(params.get("tags"))
    overrides = params.get("containerOverrides")
    if overrides is not None:
        check_environment(overrides.get("environment"))
    container = ecs = eks = nodes = node_overrides = None
    if jd.get("containerProperties") is not None:
        container = _container(jd["containerProperties"], overrides, parameters)
    elif jd.get("ecsProperties") is not None:
        ecs = _ecs(jd["ecsProperties"], params.get("ecsPropertiesOverride"), parameters)
    elif jd.get("eksProperties") is not None:
        eks = _eks(jd["eksProperties"], params.get("eksPropertiesOverride"), parameters)
    if multinode:
        nodes, node_overrides = _nodes(jd["nodeProperties"], params.get("nodeOverrides"), parameters)
    propagate = params.get("propagateTags", jd.get("propagateTags"))
    consumable_properties = params.get("consumableResourcePropertiesOverride", jd.get("consumableResourceProperties"))
    spec = JobSpec(
        job_definition=jd,
        parameters=parameters,
        container=container,
        ecs_properties=ecs,
        eks_properties=eks,
        node_properties=nodes,
        node_overrides=node_overrides,
        retry_strategy=_retry_strategy(params.get("retryStrategy", jd.get("retryStrategy"))),
        timeout=params.get("timeout", jd.get("timeout")),
        propagate_tags=propagate,
        platform_capabilities=jd.get("platformCapabilities"),
        consumables=_consumables(backend, consumable_properties),
        consumable_properties=consumable_properties,
        share_identifier=params.get("shareIdentifier"),
        scheduling_priority=params.get("schedulingPriorityOverride", jd.get("schedulingPriority"))
        if params.get("shareIdentifier") is not None
        else None,
        array_size=array_size,
        sequential=sequential,
        fail_reason=_late_failure(params, jd, propagate),
    )
    spec.vcpus = _vcpus(spec)
    return spec


def _retry_strategy(strategy: dict[str, Any] | None) -> dict[str, Any] | None:
    """Actions are case-insensitive on the way in (spec §2.6) and the model's
    upper-case enum on the way out."""
    if not strategy or not strategy.get("evaluateOnExit"):
        return strategy
    entries = [{**entry, "action": entry["action"].upper()} for entry in strategy["evaluateOnExit"]]
    return {**strategy, "evaluateOnExit": entries}


def _array_size(params: dict[str, Any], multinode: bool) -> int | None:
    array = params.get("arrayProperties")
    if array is None:
        return None
    size = array.get("size")
    if size is None or not ARRAY_SIZE[0] <= size <= ARRAY_SIZE[1]:
        raise BatchClientError(f"Array size must be between {ARRAY_SIZE[0]} and {ARRAY_SIZE[1]}")
    if multinode:
        raise BatchClientError("Array jobs are not supported for multinode job definitions")
    return size


def _late_failure(params: dict[str, Any], jd: dict[str, Any], propagate: bool | None) -> str | None:
    """Spec §2.10: accepted submissions that fail without running."""
    overrides = params.get("containerOverrides")
    if overrides is not None and len(json.dumps(overrides, separators=(",", ":"))) > MAX_OVERRIDES_CHARS:
        return f"Container Overrides length must be at most {MAX_OVERRIDES_CHARS}"
    if propagate and len({**(jd.get("tags") or {}), **(params.get("tags") or {})}) > MAX_TAGS:
        return f"Total number of tags exceeds {MAX_TAGS}"
    return None


def substitute(command: list[str] | None, parameters: dict[str, str]) -> list[str] | None:
    """Spec §1.4: every `Ref::<name>` in a command element takes the parameter's value."""
    if command is None:
        return None

    def value(match: re.Match[str]) -> str:
        key = match[1]
        if key not in parameters:
            raise BatchClientError(f"Unable to substitute value. No parameter found for reference {key}")
        return parameters[key]

    return [REF_RE.sub(value, part) if "Ref::" in part else part for part in command]


def _merge_environment(base: list[dict[str, str]] | None, extra: list[dict[str, str]] | None) -> list[dict[str, str]]:
    merged = {v["name"]: v for v in base or ()}
    for variable in extra or ():
        merged[variable["name"]] = variable
    return list(merged.values())


def _merge_requirements(base: list[dict[str, str]] | None, extra: list[dict[str, str]] | None) -> list[dict[str, str]]:
    merged = {r["type"]: r for r in base or ()}
    for requirement in extra or ():
        merged[requirement["type"]] = requirement
    return list(merged.values())


def _container(base: dict[str, Any], overrides: dict[str, Any] | None, parameters: dict[str, str]) -> dict[str, Any]:
    """Spec §2.2 step 8: command replaces, environment merges by name,
    resourceRequirements replace by type."""
    if not overrides and not any("Ref::" in part for part in base.get("command") or ()):
        return base  # shared with the job definition: stored data is never edited
    container = dict(base)
    overrides = overrides or {}
    if "command" in overrides:
        container["command"] = overrides["command"]
    if "environment" in overrides:
        container["environment"] = _merge_environment(base.get("environment"), overrides["environment"])
    if "resourceRequirements" in overrides:
        container["resourceRequirements"] = _merge_requirements(
            base.get("resourceRequirements"), overrides["resourceRequirements"]
        )
    for key in ("vcpus", "memory", "instanceType"):
        if key in overrides:
            container[key] = overrides[key]
    if "command" in container:
        container["command"] = substitute(container["command"], parameters)
    return container


def _ecs(base: dict[str, Any], overrides: dict[str, Any] | None, parameters: dict[str, str]) -> dict[str, Any]:
    by_name: dict[str, dict[str, Any]] = {}
    for task in (overrides or {}).get("taskProperties") or ():
        for container in task.get("containers") or ():
            by_name[container.get("name") or ""] = container
    task = dict(base["taskProperties"][0])
    containers = []
    for container in task.get("containers") or ():
        override = by_name.get(container.get("name") or "")
        if override is not None:
            from localbatch.api.job_definitions import check_environment

            check_environment(override.get("environment"))
        containers.append(_container(container, _without(override, "name"), parameters))
    task["containers"] = containers
    return {**base, "taskProperties": [task]}


def _without(mapping: dict[str, Any] | None, key: str) -> dict[str, Any] | None:
    if mapping is None:
        return None
    return {k: v for k, v in mapping.items() if k != key}


def _eks(base: dict[str, Any], overrides: dict[str, Any] | None, parameters: dict[str, str]) -> dict[str, Any]:
    pod = dict(base.get("podProperties") or {})
    pod_overrides = (overrides or {}).get("podProperties") or {}
    by_name = {c.get("name") or "": c for c in pod_overrides.get("containers") or ()}
    containers = []
    for index, container in enumerate(pod.get("containers") or ()):
        override = by_name.get(container.get("name") or "")
        if override is None and index < len(pod_overrides.get("containers") or ()) and not container.get("name"):
            override = pod_overrides["containers"][index]
        merged = dict(container)
        for key in ("command", "args", "image", "resources"):
            if override is not None and key in override:
                merged[key] = override[key]
        if override is not None and "env" in override:
            merged["env"] = _merge_environment(container.get("env"), override["env"])
        for key in ("command", "args"):
            if key in merged:
                merged[key] = substitute(merged[key], parameters)
        containers.append(merged)
    pod["containers"] = containers
    if "metadata" in pod_overrides:
        pod["metadata"] = pod_overrides["metadata"]
    return {"podProperties": pod}


def _nodes(
    base: dict[str, Any], overrides: dict[str, Any] | None, parameters: dict[str, str]
) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """Spec §2.5: numNodes may change only when a range is open-ended."""
    from localbatch.api.job_definitions import node_range

    nodes = dict(base)
    overrides = overrides or {}
    count = overrides.get("numNodes")
    if count is not None:
        open_ended = [g for g in base["nodeRangeProperties"] if g["targetNodes"].endswith(":")]
        if not open_ended or any(int(g["targetNodes"][:-1] or 0) >= count for g in open_ended):
            raise BatchClientError("numNodes can only be overridden when a node range is open-ended (n:) below it")
        if base["mainNode"] >= count:
            raise BatchClientError("numNodes must be greater than the mainNode index")
        nodes["numNodes"] = count
    groups = []
    for group in base["nodeRangeProperties"]:
        if group.get("container") is not None:
            group = {**group, "container": _container(group["container"], None, parameters)}
        groups.append(group)
    nodes["nodeRangeProperties"] = groups
    extra = []
    for override in overrides.get("nodePropertyOverrides") or ():
        first, _ = node_range(override["targetNodes"], nodes["numNodes"])
        base_container = _base_node_container(groups, first, nodes["numNodes"])
        container = _container(base_container or {}, override.get("containerOverrides"), parameters)
        extra.append({"targetNodes": override["targetNodes"], "container": container})
    return nodes, extra


def _base_node_container(groups: list[dict[str, Any]], index: int, num_nodes: int) -> dict[str, Any] | None:
    from localbatch.api.job_definitions import node_range

    found = None
    for group in groups:
        first, last = node_range(group["targetNodes"], num_nodes)
        if first <= index <= last and group.get("container") is not None:
            found = group["container"]
    return found


def _consumables(backend: Any, properties: dict[str, Any] | None) -> tuple[tuple[str, int], ...]:
    from localbatch.api.consumable_resources import find_consumable_resource

    needs = []
    for requirement in (properties or {}).get("consumableResourceList") or ():
        resource = find_consumable_resource(backend, requirement["consumableResource"])
        needs.append((resource.arn, requirement.get("quantity") or 0))
    return tuple(needs)


def _vcpus(spec: JobSpec) -> float:
    nodes = spec.node_properties
    if nodes is None:
        return capacity.single_node_vcpus(spec.container, spec.ecs_properties, spec.eks_properties)
    total = 0.0
    for index in range(nodes["numNodes"]):
        total += capacity.container_vcpus(flow.node_container(spec, index)) or 1.0
    return total


# == DescribeJobs =================================================================


def _job_id(given: str) -> str:
    return given.rpartition("/")[2] if given.startswith("arn:") else given


@operation("DescribeJobs")
def describe_jobs(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    ids = params["jobs"]
    if len(ids) > MAX_DESCRIBE:
        raise BatchClientError(f"Maximum number of jobs supported is  {MAX_DESCRIBE} .", wrapped=True)
    found: dict[str, Job] = {}
    for given in ids:
        job = backend.jobs.get(_job_id(given))
        if job is not None:
            found.setdefault(job.id, job)  # duplicates collapse, request order kept
    return {"jobs": [job_detail(job, backend) for job in found.values()]}


def job_detail(job: Job, backend: Any = None) -> dict[str, Any]:
    """The JobDetail output shape of `job` (spec §2.12)."""
    spec = job.spec
    jd = spec.job_definition
    owner = job.parent if job.parent is not None else job
    detail: dict[str, Any] = {
        "jobArn": job.arn,
        "jobName": job.name,
        "jobId": job.id,
        "jobQueue": job.queue_arn,
        "status": job.status,
    }
    if spec.share_identifier is not None:
        detail["shareIdentifier"] = spec.share_identifier
        detail["schedulingPriority"] = spec.scheduling_priority or 0
    detail["attempts"] = [_attempt_detail(backend, job, a) for a in job.attempts if a.stopped_at is not None]
    if job.status_reason is not None:
        detail["statusReason"] = job.status_reason
    detail["createdAt"] = job.created_at
    if spec.retry_strategy is not None:
        detail["retryStrategy"] = clone(spec.retry_strategy)
    if job.started_at is not None:
        detail["startedAt"] = job.started_at
    if job.stopped_at is not None:
        detail["stoppedAt"] = job.stopped_at
    detail["dependsOn"] = clone(owner.dependencies)
    detail["jobDefinition"] = jd["jobDefinitionArn"]
    detail["parameters"] = dict(spec.parameters or {})
    if spec.container is not None or (spec.node_properties is not None and job.is_node):
        detail["container"] = _container_detail(backend, job)
    if job.is_node:
        detail["nodeDetails"] = {"nodeIndex": job.index, "isMainNode": job.index == spec.node_properties["mainNode"]}
    if spec.node_properties is not None:
        detail["nodeProperties"] = clone(spec.node_properties)
    array = _array_properties(job)
    if array is not None:
        detail["arrayProperties"] = array
    if spec.timeout is not None:
        detail["timeout"] = clone(spec.timeout)
    if owner.tags is not None:
        detail["tags"] = dict(owner.tags)
    if spec.propagate_tags is not None:
        detail["propagateTags"] = spec.propagate_tags
    if jd.get("containerOrchestrationType") != "EKS":
        detail["platformCapabilities"] = list(spec.platform_capabilities or ["EC2"])
    if spec.eks_properties is not None:
        detail["eksProperties"] = _eks_detail(job)
        detail["eksAttempts"] = [_eks_attempt(job, a) for a in job.attempts if a.stopped_at is not None]
    if spec.ecs_properties is not None:
        detail["ecsProperties"] = _ecs_detail(backend, job)
    flags = job.parent if job.is_node else job
    detail["isCancelled"] = flags.is_cancelled
    detail["isTerminated"] = flags.is_terminated
    if spec.consumable_properties is not None:
        detail["consumableResourceProperties"] = clone(spec.consumable_properties)
    return detail


def _array_properties(job: Job) -> dict[str, Any] | None:
    if job.is_array_child:
        return {"index": job.index}
    if not job.is_array_parent:
        return None
    from localbatch.engine.lifecycle import empty_summary

    out: dict[str, Any] = {"statusSummary": dict(job.summary or empty_summary())}
    if job.summary_at is not None:
        out["statusSummaryLastUpdatedAt"] = job.summary_at
    out["size"] = job.spec.array_size
    return out


# -- what ECS made of an attempt (ids follow from the job id: see jobs.derived_hex) ------


def _ids(backend: Any, job: Job, attempt: Attempt) -> dict[str, str]:
    _, _, _, region, account, _ = job.arn.split(":", 5)
    ce_arn = attempt.compute_environment
    ce = backend.compute_environments.by_arn.get(ce_arn) if backend is not None else None
    cluster_arn = (ce.data.get("ecsClusterArn") if ce is not None else None) or ""
    cluster = cluster_arn.rpartition("/")[2] or f"AWSBatch-{ce_arn.rpartition('/')[2]}"
    task = derived_hex(job.id, f"task/{attempt.number}", 32)
    out = {"taskArn": f"arn:aws:ecs:{region}:{account}:task/{cluster}/{task}", "task": task}
    kind = (ce.data.get("computeResources") or {}).get("type") if ce is not None else None
    if kind not in capacity.FARGATE_TYPES:
        instance = derived_hex(job.id, f"container-instance/{attempt.number}", 32)
        out["containerInstanceArn"] = f"arn:aws:ecs:{region}:{account}:container-instance/{cluster}/{instance}"
    return out


def _runtime(backend: Any, job: Job, attempt: Attempt, container_name: str = "default") -> dict[str, Any]:
    """containerInstanceArn, taskArn, exitCode, reason, logStreamName, networkInterfaces of one attempt."""
    ids = _ids(backend, job, attempt)
    out: dict[str, Any] = {}
    if "containerInstanceArn" in ids:
        out["containerInstanceArn"] = ids["containerInstanceArn"]
    out["taskArn"] = ids["taskArn"]
    if attempt.exit_code is not None:
        out["exitCode"] = attempt.exit_code
    if attempt.reason is not None:
        out["reason"] = attempt.reason[:255]
    if attempt.started_at is not None:
        out["logStreamName"] = f"{job.spec.job_definition['jobDefinitionName']}/{container_name}/{ids['task']}"
    out["networkInterfaces"] = []
    return out


def _attempt_detail(backend: Any, job: Job, attempt: Attempt) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if job.spec.eks_properties is None:
        out["container"] = _runtime(backend, job, attempt)
    if attempt.started_at is not None:
        out["startedAt"] = attempt.started_at
    out["stoppedAt"] = attempt.stopped_at
    out["statusReason"] = attempt.status_reason
    return out


def _container_detail(backend: Any, job: Job) -> dict[str, Any]:
    container = clone(container_of(job))
    if job.attempts:
        container.update(_runtime(backend, job, job.attempts[-1]))
    return container


def _ecs_detail(backend: Any, job: Job) -> dict[str, Any]:
    task = clone(job.spec.ecs_properties["taskProperties"][0])
    attempt = job.attempts[-1] if job.attempts else None
    containers = task.pop("containers", [])
    detail = {k: v for k, v in task.items() if k in _ECS_TASK_DETAIL_KEYS}
    rendered = []
    for container in containers:
        entry = {k: v for k, v in container.items() if k in _ECS_CONTAINER_DETAIL_KEYS}
        if attempt is not None:
            runtime = _runtime(backend, job, attempt, container.get("name") or "default")
            detail["taskArn"] = runtime["taskArn"]
            if "containerInstanceArn" in runtime:
                detail["containerInstanceArn"] = runtime["containerInstanceArn"]
            essential = container.get("essential", True)
            for key in ("exitCode", "reason", "logStreamName", "networkInterfaces"):
                if key in runtime and (essential or key != "exitCode"):
                    entry[key] = runtime[key]
        rendered.append(entry)
    detail["containers"] = rendered
    return {"taskProperties": [detail]}


_ECS_TASK_DETAIL_KEYS = frozenset({
    "containerInstanceArn", "taskArn", "ephemeralStorage", "executionRoleArn", "platformVersion", "ipcMode",
    "taskRoleArn", "pidMode", "networkConfiguration", "runtimePlatform", "volumes", "enableExecuteCommand",
})
_ECS_CONTAINER_DETAIL_KEYS = frozenset({
    "command", "dependsOn", "environment", "essential", "firelensConfiguration", "image", "linuxParameters",
    "logConfiguration", "mountPoints", "name", "privileged", "readonlyRootFilesystem", "repositoryCredentials",
    "resourceRequirements", "secrets", "ulimits", "user", "startTimeout", "stopTimeout",
})
_EKS_CONTAINER_DETAIL_KEYS = frozenset({
    "name", "image", "imagePullPolicy", "command", "args", "env", "resources", "volumeMounts", "securityContext",
})
_EKS_POD_DETAIL_KEYS = frozenset({
    "serviceAccountName", "hostNetwork", "dnsPolicy", "imagePullSecrets", "containers", "initContainers", "volumes",
    "metadata", "shareProcessNamespace",
})


def _eks_detail(job: Job) -> dict[str, Any]:
    pod = job.spec.eks_properties.get("podProperties") or {}
    out = {k: clone(v) for k, v in pod.items() if k in _EKS_POD_DETAIL_KEYS}
    for key in ("containers", "initContainers"):
        if key in out:
            out[key] = [{k: v for k, v in c.items() if k in _EKS_CONTAINER_DETAIL_KEYS} for c in out[key]]
    return {"podProperties": out}


def _eks_attempt(job: Job, attempt: Attempt) -> dict[str, Any]:
    pod = job.spec.eks_properties.get("podProperties") or {}
    containers = []
    for container in pod.get("containers") or ():
        entry: dict[str, Any] = {"name": container.get("name") or "default"}
        if attempt.exit_code is not None:
            entry["exitCode"] = attempt.exit_code
        if attempt.reason is not None:
            entry["reason"] = attempt.reason
        containers.append(entry)
    out: dict[str, Any] = {"containers": containers}
    if attempt.started_at is not None:
        out["startedAt"] = attempt.started_at
    out["stoppedAt"] = attempt.stopped_at
    out["statusReason"] = attempt.status_reason
    return out


# == ListJobs (spec §6.1) ==========================================================


@operation("ListJobs")
def list_jobs(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    scopes = [key for key in ("jobQueue", "arrayJobId", "multiNodeJobId") if params.get(key)]
    if len(scopes) != 1:
        raise BatchClientError("Exactly one of jobQueue, arrayJobId or multiNodeJobId must be specified")
    filters = params.get("filters") or []
    if len(filters) > 1:
        raise BatchClientError("Only one filter can be specified at a time")
    if filters:
        _filter(filters[0], params.get("jobStatus"))  # a bad filter is refused whatever the scope holds
    after, limit = page_request(params, maximum=LIST_FILTERED_MAXIMUM if filters else LIST_MAXIMUM)
    status = params.get("jobStatus")
    if status is None and not filters:
        status = RUNNING
    scope = scopes[0]
    if scope == "jobQueue":
        page = _queue_jobs(backend, params["jobQueue"], status, filters, after, limit + 1)
    else:
        found = _members(backend, params[scope], scope, status if not filters or params.get("jobStatus") else None, after)
        page = list(islice(found, limit + 1))
    more = len(page) > limit
    if more:
        del page[limit]
    out: dict[str, Any] = {"jobSummaryList": summaries(page)}
    if more:
        out["nextToken"] = page_token(params, page[-1].seq)
    return out


def _queue_jobs(
    backend: Any, given: str, status: str | None, filters: list[dict[str, Any]], after: int, count: int
) -> list[Job]:
    """Up to `count` jobs of the queue that the page shows, newest first."""
    queue = find_job_queue(backend, given)
    arn = queue.arn if queue is not None else (given if given.startswith("arn:") else backend.arn(f"job-queue/{given}"))
    jobs = backend.jobs.queues.get(arn)
    if jobs is None:
        if queue is None:
            raise BatchClientError(f"JobQueue {given} not found.")
        return []
    by_seq = backend.jobs.by_seq
    below = after or None
    if not filters:
        return list(map(by_seq.__getitem__, jobs.by_status[status].top(count, below)))
    keep, start = _filter(filters[0], status)
    listed = jobs.listed
    end = len(listed) if below is None else bisect_left(listed, below)
    if start is not None:
        # Creation times grow with the sequence: bisect instead of scanning.
        end = min(end, bisect_left(listed, start, key=lambda seq: by_seq[seq].created_at))
    found = (job for job in (by_seq[listed[i]] for i in range(end - 1, -1, -1)) if keep(job))
    return list(islice(found, count))


def _filter(given: dict[str, Any], status: str | None) -> tuple[Callable[[Job], bool], int | None]:
    """(predicate, created_at bound to start below) of one ListJobs filter."""
    name = given.get("name")
    values = given.get("values") or []
    if name not in FILTER_NAMES:
        raise BatchClientError(f"Invalid filter name {name}; valid names are {', '.join(FILTER_NAMES)}")
    if len(values) != 1:
        raise BatchClientError(f"Filter {name} must have exactly one value")
    value = values[0]
    if name == "JOB_NAME":
        return _name_matcher(value), None
    if name == "JOB_DEFINITION":
        return _definition_matcher(value), None
    if name in ("BEFORE_CREATED_AT", "AFTER_CREATED_AT"):
        try:
            bound = int(value)
        except ValueError:
            raise BatchClientError(f"Filter {name} value {value} must be a number of epoch milliseconds") from None
        if name == "BEFORE_CREATED_AT":
            return (lambda job: job.created_at < bound), bound
        return (lambda job: job.created_at > bound), None
    if status is not None:
        return (lambda job: job.spec.share_identifier == value and job.status == status), None
    return (lambda job: job.spec.share_identifier == value), None


def _name_matcher(pattern: str) -> Callable[[Job], bool]:
    folded = pattern.lower()
    if folded.endswith("*"):
        prefix = folded[:-1]
        return lambda job: job.name.lower().startswith(prefix)
    return lambda job: job.name.lower() == folded


def _definition_matcher(pattern: str) -> Callable[[Job], bool]:
    if pattern.startswith("arn:"):
        if "*" in pattern:
            raise BatchClientError("JOB_DEFINITION filter values that are ARNs cannot contain *")
        return lambda job: job.spec.job_definition["jobDefinitionArn"] == pattern
    if pattern.endswith("*"):
        prefix = pattern[:-1]
        return lambda job: job.spec.job_definition["jobDefinitionName"].startswith(prefix)
    name, colon, revision = pattern.partition(":")
    if colon:
        return lambda job: (
            job.spec.job_definition["jobDefinitionName"] == name and str(job.spec.job_definition["revision"]) == revision
        )
    return lambda job: job.spec.job_definition["jobDefinitionName"] == name


def _members(backend: Any, given: str, scope: str, status: str | None, after: int) -> Iterable[Job]:
    """Array children (by index) or MNP nodes (by node index) of one job."""
    parent = backend.jobs.get(_job_id(given))
    if parent is None or parent.children is None:
        return ()
    wanted_array = scope == "arrayJobId"
    if parent.is_array_parent != wanted_array:
        return ()
    return (c for c in parent.children if c.seq > after and (status is None or c.status == status))


def summaries(jobs: Iterable[Job]) -> list[dict[str, Any]]:
    """The ListJobs summaries of `jobs`, each rendered once per state of its job.

    A page holds up to 1000 summaries, so this loop is ListJobs. The
    rendered summary is kept on the job (`Job.rendered`) until a change
    clears it; its status reason is compared as well, because a scheduler
    sets a blocked reason without a transition. A rollback cannot leave it
    stale: only ListJobs renders, and it changes nothing, so every change
    made after a render cleared it. Callers get a copy whose nested parts
    are fresh too, so nothing they change reaches the cache.
    """
    out = []
    append = out.append
    for job in jobs:
        cached = job.rendered
        if cached is None or cached[0] is not job.status_reason:
            cached = _cache_summary(job)
        # The copy, inlined: it runs once per listed job.
        _, rendered, usage, container, other = cached
        summary = rendered.copy()
        if usage is not None:
            summary["capacityUsage"] = [usage.copy()]
        if container is not None:
            summary["container"] = container.copy()
        if other:
            _copy_other(rendered, summary)
        append(summary)
    return out


def job_summary(job: Job) -> dict[str, Any]:
    """The ListJobs summary of one job (a fresh copy)."""
    return summaries((job,))[0]


def _cache_summary(job: Job) -> tuple:
    """(status reason, summary, its one capacityUsage entry, its container,
    whether it has other nested parts): what the copy in `summaries` reads.
    A multi-node job's node shows its job's flags, which change without the
    node moving, so node summaries are not kept."""
    summary = _render_summary(job)
    usage = summary.get("capacityUsage")
    other = "nodeProperties" in summary or "arrayProperties" in summary
    if usage is not None and len(usage) != 1:
        usage, other = None, True
    if usage:
        usage = summary["capacityUsage"] = _shared(usage)
    container = summary.get("container")
    if container is not None and set(container) == {"exitCode"}:
        container = summary["container"] = _shared(container)
    cached = (job.status_reason, summary, usage[0] if usage else None, container, other)
    if "#" not in job.id:  # not Job.is_node
        job.rendered = cached  # derived data: not journaled
    return cached


# Nested summary parts that many jobs have alike ([one VCPU], {"exitCode": 0}),
# one object each for all the summaries kept. They are only ever copied
# (`summaries` hands out fresh nested parts), never handed out or changed,
# and a page copying the same few objects a hundred times reads them from
# cache instead of a hundred places in memory.
_SHARED_PARTS: dict[str, Any] = {}


def _shared(part: Any) -> Any:
    return _SHARED_PARTS.setdefault(repr(part), part)


def _copy_other(summary: dict[str, Any], out: dict[str, Any]) -> None:
    usage = summary.get("capacityUsage")
    if usage is not None:
        out["capacityUsage"] = [dict(u) for u in usage]
    nodes = summary.get("nodeProperties")
    if nodes is not None:
        out["nodeProperties"] = dict(nodes)
    array = summary.get("arrayProperties")
    if array is not None:
        out["arrayProperties"] = array = dict(array)
        if "statusSummary" in array:
            array["statusSummary"] = dict(array["statusSummary"])


def _render_summary(job: Job) -> dict[str, Any]:
    spec = job.spec
    out: dict[str, Any] = {"jobArn": job.arn, "jobId": job.id, "jobName": job.name}
    if not job.is_array_parent:
        unit = "cpu" if spec.eks_properties is not None else "VCPU"
        vcpus = spec.vcpus if not job.is_node else capacity.container_vcpus(container_of(job)) or 1.0
        out["capacityUsage"] = [{"capacityUnit": unit, "quantity": float(vcpus)}]
    out["createdAt"] = job.created_at
    if job.scheduled_at is not None:
        out["scheduledAt"] = job.scheduled_at
    if spec.share_identifier is not None:
        out["shareIdentifier"] = spec.share_identifier
    out["status"] = job.status
    if job.status_reason is not None:
        out["statusReason"] = job.status_reason
    if job.started_at is not None:
        out["startedAt"] = job.started_at
    if job.stopped_at is not None:
        out["stoppedAt"] = job.stopped_at
    last = job.attempts[-1] if job.attempts else None
    if last is not None and last.stopped_at is not None:
        container: dict[str, Any] = {}
        if last.exit_code is not None:
            container["exitCode"] = last.exit_code
        if last.reason is not None:
            container["reason"] = last.reason[:255]
        out["container"] = container
    array = _array_properties(job)
    if array is not None:
        out["arrayProperties"] = array
    nodes = spec.node_properties
    if nodes is not None:
        summary: dict[str, Any] = {"numNodes": nodes["numNodes"]}
        if job.is_node:
            summary = {"isMainNode": job.index == nodes["mainNode"], "numNodes": nodes["numNodes"],
                       "nodeIndex": job.index}
        out["nodeProperties"] = summary
    out["jobDefinition"] = spec.job_definition["jobDefinitionArn"]
    flags = job.parent if job.is_node else job
    out["isCancelled"] = flags.is_cancelled
    out["isTerminated"] = flags.is_terminated
    return out


# == CancelJob / TerminateJob (spec §2.8) and the bulk forms (spec §9) ==================


def _check_reason(reason: str) -> None:
    if len(reason) > MAX_REASON:
        raise BatchClientError(f"reason must be at most {MAX_REASON} characters long")


def _existing(backend: Any, given: str) -> Job:
    job = backend.jobs.get(_job_id(given))
    if job is None:
        raise BatchClientError(f"Job {given} not found")
    return job


@operation("CancelJob")
def cancel_job(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    _check_reason(params["reason"])
    flow.cancel_job(backend, _existing(backend, params["jobId"]), params["reason"])
    return {}


@operation("TerminateJob")
def terminate_job(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    _check_reason(params["reason"])
    flow.cancel_job(backend, _existing(backend, params["jobId"]), params["reason"], terminate=True)
    return {}


def _bulk(backend: Any, params: dict[str, Any], terminate: bool) -> dict[str, Any]:
    ids = params["jobs"]
    if len(ids) > MAX_BULK:
        raise BatchClientError(f"jobs must contain at most {MAX_BULK} items")
    _check_reason(params["reason"])
    successful: list[str] = []
    errors: list[dict[str, str]] = []
    for given in dict.fromkeys(ids):  # an id listed twice is processed once
        job_id = _job_id(given)
        if not JOB_ID_RE.fullmatch(job_id):
            errors.append({"job": given, "code": "ValidationException", "message": f"Invalid job id {given}"})
            continue
        job = backend.jobs.get(job_id)
        if job is not None:  # ids that cannot be found count as processed (spec §9)
            flow.cancel_job(backend, job, params["reason"], terminate=terminate)
        successful.append(given)
    return {"successful": successful, "errors": errors}


@operation("CancelJobs")
def cancel_jobs(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    return _bulk(backend, params, terminate=False)


@operation("TerminateJobs")
def terminate_jobs(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    return _bulk(backend, params, terminate=True)


# == ListJobsByConsumableResource (spec §1.8) =========================================


@operation("ListJobsByConsumableResource")
def list_jobs_by_consumable_resource(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    from localbatch.api.consumable_resources import find_consumable_resource

    resource = find_consumable_resource(backend, params["consumableResource"])
    keep = _consumable_filters(params.get("filters") or [])
    after, limit = page_request(params)
    store = backend.jobs
    seqs = store.by_consumable.get(resource.arn) or []
    page: list[Job] = []
    more = False
    for i in range(bisect_left(seqs, after + 1), len(seqs)):
        job = store.by_seq[seqs[i]]
        if not keep(job):
            continue
        if len(page) == limit:
            more = True
            break
        page.append(job)
    out: dict[str, Any] = {"jobs": [_consumable_summary(job, resource.arn) for job in page]}
    if more:
        out["nextToken"] = page_token(params, page[-1].seq)
    return out


def _consumable_filters(filters: list[dict[str, Any]]) -> Callable[[Job], bool]:
    checks: list[Callable[[Job], bool]] = []
    for given in filters:
        name, values = given.get("name"), given.get("values") or []
        if name == "JOB_STATUS":
            for value in values:
                if value not in STATUSES:
                    raise BatchClientError(f"JOB_STATUS {value} must be one of {' | '.join(STATUSES)}")
            wanted = frozenset(values)
            checks.append(lambda job, wanted=wanted: job.status in wanted)
        elif name == "JOB_NAME":
            matchers = [_name_matcher(v) for v in values]
            checks.append(lambda job, matchers=matchers: any(m(job) for m in matchers))
        else:
            raise BatchClientError(f"Invalid filter name {name}; valid names are JOB_STATUS, JOB_NAME")
    return lambda job: all(check(job) for check in checks)


def _consumable_summary(job: Job, resource_arn: str) -> dict[str, Any]:
    spec = job.spec
    quantity = sum(q for arn, q in spec.consumables if arn == resource_arn)
    out: dict[str, Any] = {
        "jobArn": job.arn,
        "jobQueueArn": job.queue_arn,
        "jobName": job.name,
        "jobDefinitionArn": spec.job_definition["jobDefinitionArn"],
    }
    if spec.share_identifier is not None:
        out["shareIdentifier"] = spec.share_identifier
    out["jobStatus"] = job.status
    out["quantity"] = quantity
    if job.status_reason is not None:
        out["statusReason"] = job.status_reason
    if job.started_at is not None:
        out["startedAt"] = job.started_at
    out["createdAt"] = job.created_at
    out["consumableResourceProperties"] = clone(spec.consumable_properties or {})
    return out

