"""Describe and list answers are fresh copies (api/_common.py `fresh`, `copier`).

Each response must be an object tree the caller owns: mutating any dict or
list in it, at any depth, changes neither engine state nor any later answer.
The compiled copiers must also copy exactly what `clone` copies, for any
JSON-like value.
"""

from __future__ import annotations

import copy
from typing import Any
from unittest import mock

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from localbatch.api import _common
from localbatch.api._common import clone, copier, fresh
from localbatch.engine.tables import Resource
from tests.api.test_quota_shares import make_quota_queue

MUTATED = "mutated-by-the-caller"


def containers(value: Any) -> list[Any]:
    """Every dict and list inside `value`, `value` included."""
    found = []
    if type(value) in (dict, list):
        found.append(value)
        for item in value.values() if type(value) is dict else value:
            found += containers(item)
    return found


def mutate_everything(value: Any) -> None:
    """Change every container of `value` in place, deepest first."""
    if type(value) is dict:
        for key in list(value):
            mutate_everything(value[key])
            value[key] = MUTATED
        value[MUTATED] = MUTATED
    elif type(value) is list:
        for i, item in enumerate(value):
            mutate_everything(item)
            value[i] = MUTATED
        value.append(MUTATED)


def shared_containers(a: Any, b: Any) -> set[int]:
    return {id(c) for c in containers(a)} & {id(c) for c in containers(b)}


def key_orders(value: Any) -> Any:
    """`value` with every dict turned into its list of (key, ...) pairs: equal
    only if key order matches too."""
    if type(value) is dict:
        return [(k, key_orders(v)) for k, v in value.items()]
    if type(value) is list:
        return [key_orders(v) for v in value]
    return value


def state(lb) -> dict[str, list[dict[str, Any]]]:
    """A deep copy of every stored describe output of the default region."""
    backend = lb.backend("us-east-1")
    tables = (
        "job_definitions",
        "compute_environments",
        "job_queues",
        "service_environments",
        "quota_shares",
        "consumable_resources",
        "scheduling_policies",
    )
    return {name: copy.deepcopy([r.data for r in getattr(backend, name)]) for name in tables}


def assert_caller_owns(lb, call) -> None:
    """Mutating everything in one answer of `call` leaves state and the next answer alone."""
    before = state(lb)
    first = call()
    second = call()
    assert first == second
    assert not shared_containers(first, second)
    untouched = copy.deepcopy(second)
    assert containers(first)[1:], "the answer should hold something to mutate"
    mutate_everything(first)
    assert state(lb) == before
    assert call() == untouched
    assert second == untouched


# -- the resources, each with nested parts in every shape a copier handles ----

ENVIRONMENT = [{"name": f"VAR_{i}", "value": str(i)} for i in range(6)]  # a long list of flat dicts
CONTAINER = {
    "image": "busybox",
    "command": ["echo", "Ref::greeting"],
    "environment": ENVIRONMENT,
    "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}],
    "volumes": [{"name": "data", "host": {"sourcePath": "/data"}}],
    "mountPoints": [{"sourceVolume": "data", "containerPath": "/data", "readOnly": True}],
    "ulimits": [{"name": "nofile", "softLimit": 1024, "hardLimit": 4096}],
    "linuxParameters": {"devices": [{"hostPath": "/dev/fuse", "permissions": ["READ", "WRITE"]}], "tmpfs": []},
    "logConfiguration": {"logDriver": "awslogs", "options": {"awslogs-group": "g"}},
}
RETRY = {
    "attempts": 3,
    "evaluateOnExit": [{"onExitCode": "137", "action": "RETRY"}, {"onReason": "*", "action": "EXIT"}],
}
ECS = {
    "taskProperties": [
        {
            "containers": [
                {
                    "image": "busybox",
                    "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}],
                }
            ]
        }
    ]
}
EKS = {"podProperties": {"containers": [{"image": "busybox", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}}
NODES = {"numNodes": 2, "mainNode": 0, "nodeRangeProperties": [{"targetNodes": "0:", "container": CONTAINER}]}
COMPUTE = {
    "type": "EC2",
    "minvCpus": 0,
    "maxvCpus": 16,
    "instanceTypes": ["optimal"],
    "subnets": ["subnet-1", "subnet-2"],
    "securityGroupIds": ["sg-1"],
    "instanceRole": "ecsInstanceRole",
    "tags": {"team": "a"},
    "ec2Configuration": [{"imageType": "ECS_AL2023"}],
}


@pytest.fixture
def held(batch, lb):
    """Every issue-2 resource kind, each with nested dicts and lists."""
    for i in range(3):
        batch.register_job_definition(
            jobDefinitionName=f"jd-{i}",
            type="container",
            containerProperties=CONTAINER,
            retryStrategy=RETRY,
            parameters={"greeting": "hi"},
            timeout={"attemptDurationSeconds": 60},
            tags={"team": "a"},
        )
    batch.register_job_definition(jobDefinitionName="jd-ecs", type="container", ecsProperties=ECS)
    batch.register_job_definition(jobDefinitionName="jd-eks", type="container", eksProperties=EKS)
    batch.register_job_definition(jobDefinitionName="jd-mnp", type="multinode", nodeProperties=NODES)
    for i in range(2):
        batch.create_compute_environment(
            computeEnvironmentName=f"ce-{i}", type="MANAGED", computeResources=COMPUTE, tags={"team": "a"}
        )
    lb.run_until_idle()
    batch.create_job_queue(
        jobQueueName="q",
        priority=1,
        tags={"team": "a"},
        computeEnvironmentOrder=[
            {"order": 1, "computeEnvironment": "ce-0"},
            {"order": 2, "computeEnvironment": "ce-1"},
        ],
        jobStateTimeLimitActions=[{"reason": "stuck", "state": "RUNNABLE", "maxTimeSeconds": 600, "action": "CANCEL"}],
    )
    batch.create_scheduling_policy(
        name="fair",
        tags={"team": "a"},
        fairsharePolicy={"shareDecaySeconds": 60, "shareDistribution": [{"shareIdentifier": "a", "weightFactor": 1}]},
    )
    batch.create_consumable_resource(consumableResourceName="licenses", totalQuantity=3, tags={"team": "a"})
    make_quota_queue(batch, lb)
    for name in ("s0", "s1"):
        batch.create_quota_share(
            quotaShareName=name,
            jobQueue="training",
            tags={"team": "a"},
            capacityLimits=[{"maxCapacity": 1, "capacityUnit": "ml.g5.xlarge"}],
            resourceSharingConfiguration={"strategy": "LEND_AND_BORROW", "borrowLimit": 200},
            preemptionConfiguration={"inSharePreemption": "ENABLED"},
        )
    lb.run_until_idle()
    return batch


QUEUE_ARN = "arn:aws:batch:us-east-1:123456789012:job-queue/training"
CALLS = {
    "describe_job_definitions page": lambda b: b.describe_job_definitions(maxResults=4),
    "describe_job_definitions all": lambda b: b.describe_job_definitions(),
    "describe_job_definitions name:rev": lambda b: b.describe_job_definitions(jobDefinitions=["jd-1:1", "jd-mnp:1"]),
    "describe_job_definitions by name": lambda b: b.describe_job_definitions(jobDefinitionName="jd-ecs"),
    "describe_job_definitions status": lambda b: b.describe_job_definitions(status="ACTIVE", maxResults=5),
    "describe_compute_environments": lambda b: b.describe_compute_environments(),
    "describe_compute_environments names": lambda b: b.describe_compute_environments(computeEnvironments=["ce-1"]),
    "describe_job_queues": lambda b: b.describe_job_queues(),
    "describe_job_queues names": lambda b: b.describe_job_queues(jobQueues=["q", "training"]),
    "describe_service_environments": lambda b: b.describe_service_environments(),
    "describe_scheduling_policies": lambda b: b.describe_scheduling_policies(
        arns=[p["arn"] for p in b.list_scheduling_policies()["schedulingPolicies"]]
    ),
    "describe_consumable_resource": lambda b: b.describe_consumable_resource(consumableResource="licenses"),
    "list_consumable_resources": lambda b: b.list_consumable_resources(),
    "describe_quota_share": lambda b: b.describe_quota_share(quotaShareArn=f"{QUEUE_ARN}/quota-share/s0"),
    "list_quota_shares": lambda b: b.list_quota_shares(jobQueue="training"),
    "list_tags_for_resource": lambda b: b.list_tags_for_resource(resourceArn=f"{QUEUE_ARN}/quota-share/s0"),
}


@pytest.mark.parametrize("name", sorted(CALLS))
def test_mutating_an_answer_changes_nothing_stored(held, lb, name):
    call = CALLS[name]
    assert_caller_owns(lb, lambda: _body(call(held)))


def _body(response: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in response.items() if k != "ResponseMetadata"}


def test_nested_parts_come_back_as_registered(held):
    (jd,) = held.describe_job_definitions(jobDefinitions=["jd-0:1"])["jobDefinitions"]
    assert jd["containerProperties"]["environment"] == ENVIRONMENT
    assert jd["containerProperties"]["linuxParameters"] == CONTAINER["linuxParameters"]
    assert jd["retryStrategy"] == RETRY and jd["parameters"] == {"greeting": "hi"}
    (mnp,) = held.describe_job_definitions(jobDefinitionName="jd-mnp")["jobDefinitions"]
    assert mnp["nodeProperties"]["nodeRangeProperties"][0]["container"]["environment"] == ENVIRONMENT


def test_a_new_version_of_the_data_is_copied_with_its_own_layout(held, lb):
    """`updated` replaces data (tags gain a key, status changes): the next
    describe must show the new version, and still be a safe copy."""
    held.describe_job_definitions(jobDefinitions=["jd-2:1"])  # caches a copier for the first version
    arn = "arn:aws:batch:us-east-1:123456789012:job-definition/jd-2:1"
    held.tag_resource(resourceArn=arn, tags={"extra": "x"})
    held.deregister_job_definition(jobDefinition="jd-2:1")
    (jd,) = held.describe_job_definitions(jobDefinitions=["jd-2:1"])["jobDefinitions"]
    assert jd["status"] == "INACTIVE" and jd["tags"] == {"team": "a", "extra": "x"}
    assert_caller_owns(lb, lambda: held.describe_job_definitions(jobDefinitions=["jd-2:1"])["jobDefinitions"])


def test_a_failed_call_leaves_describe_answers_alone(held, lb):
    before = held.describe_compute_environments()["computeEnvironments"]
    with pytest.raises(held.exceptions.ClientException):
        held.update_compute_environment(computeEnvironment="ce-0", computeResources={"maxvCpus": -5})
    assert held.describe_compute_environments()["computeEnvironments"] == before


# -- the compiled copiers, against clone, for any JSON-like value --------------

leaves = st.none() | st.booleans() | st.integers() | st.text(max_size=3)
keys = st.text(max_size=3) | st.sampled_from(["a", "b", "t0", "t1", "x", "_copy_dict", "'", '"', "\\", "{"])
json_like = st.recursive(
    leaves,
    lambda inner: (
        st.lists(inner, max_size=7)
        | st.dictionaries(keys, inner, max_size=5)
        | st.lists(st.dictionaries(keys, leaves, max_size=3), min_size=5, max_size=8)
    ),
    max_leaves=40,
)


def compiled(value: Any) -> Any:
    """The copier for `value`, compiled without growing the process-wide
    cache (random layouts would fill it and leave later layouts to clone)."""
    with mock.patch.dict(_common._COPIERS):
        found = copier(value)
    if type(value) in (dict, list):
        assert found is not clone  # str keys and a small tree: always compiled
    return found


@settings(max_examples=80, deadline=None)
@given(json_like)
def test_copier_copies_exactly_what_clone_copies(value):
    out = compiled(value)(value)
    assert key_orders(out) == key_orders(value) == key_orders(clone(value))
    assert not shared_containers(out, value)
    assert all(type(c) in (dict, list) for c in containers(out))


@settings(max_examples=30, deadline=None)
@given(json_like)
def test_mutating_a_copy_leaves_the_original_alone(value):
    original = copy.deepcopy(value)
    out = compiled(value)(value)
    mutate_everything(out)
    assert key_orders(value) == key_orders(original)


def test_one_copier_per_layout_whatever_the_leaves():
    a = {"name": "a", "tags": {"x": "1"}, "env": [{"n": 1}, {"n": 2}]}
    b = {"name": "b", "tags": {"y": "2", "z": "3"}, "env": [{"m": 3}, {"m": 4, "k": 5}]}
    assert copier(a) is copier(b)
    assert copier(a) is not copier({**a, "env": [{"n": 1}]})


def test_layouts_the_compiler_leaves_to_clone():
    assert copier({1: {"a": []}}) is clone  # a non-str key
    deep: Any = []
    for _ in range(100):
        deep = [deep, 1]
    assert copier(deep) is clone
    assert copier(deep)(deep) == deep


def test_fresh_rechooses_the_copier_when_data_is_replaced():
    resource = Resource(1, "arn", "name", {"tags": {}, "list": [1]})
    first = fresh(resource)
    plan = resource.copy_plan
    assert fresh(resource) == first and resource.copy_plan is plan
    resource.data = {"tags": {}, "list": [{"nested": [1]}]}
    out = fresh(resource)
    assert out == resource.data and resource.copy_plan[0] is resource.data
    out["list"][0]["nested"].append(2)
    assert resource.data == {"tags": {}, "list": [{"nested": [1]}]}
