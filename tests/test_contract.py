"""The model is the contract.

(a) Every operation of the vendored model has a handler, or is PENDING and
    then answers a ClientException that names it.
(b) Driven with inputs generated from the model's input shapes, every
    operation answers either a response (checked against its output shape,
    LOCALBATCH_CHECK_RESPONSES) or one of the two errors a caller may see
    (botocore's ParamValidationError, ClientException); a call that fails
    leaves the stored state exactly as it was, and the tables' indexes
    always agree.
"""

from __future__ import annotations

import datetime as dt
import functools
import random
import types
from typing import Any

import boto3
import botocore
import pytest
import time_machine
from botocore.exceptions import ClientError, ParamValidationError
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import localbatch
from localbatch import service_model
from localbatch.api import OPERATIONS
from localbatch.config import EngineConfig
from localbatch.engine.events import EventQueue
from localbatch.engine.journal import Journal
from localbatch.engine.tables import Table
from localbatch.ids import IdFactory
from tests.helpers import client_error
from tests.model_inputs import JOB_ID, REGION, SERVICE_JOB_ID, input_strategy, minimal_params, substitute

MODEL_OPERATIONS = service_model.operation_names()

# Operations whose engine work belongs to later issues. Shrinks as work
# lands: an operation that gains a handler must leave this set.
PENDING: set[str] = set()


def method(client: Any, operation: str) -> Any:
    return getattr(client, botocore.xform_name(operation))


# -- (a) walking the model -----------------------------------------------------------


def test_the_model_has_48_operations():
    assert len(MODEL_OPERATIONS) == 48


def test_every_operation_is_handled_or_pending():
    unaccounted = [op for op in MODEL_OPERATIONS if op not in OPERATIONS and op not in PENDING]
    assert unaccounted == []


def test_pending_lists_no_operation_that_has_a_handler():
    assert sorted(PENDING & set(OPERATIONS)) == []


def test_pending_and_handlers_name_only_model_operations():
    assert sorted(PENDING - set(MODEL_OPERATIONS)) == []
    assert sorted(set(OPERATIONS) - set(MODEL_OPERATIONS)) == []


def test_a_pending_operation_answers_that_it_is_not_implemented(batch):
    for operation in sorted(PENDING):
        with pytest.raises(batch.exceptions.ClientException) as e:
            method(batch, operation)(**minimal_params(operation))
        assert client_error(e) == f"localbatch does not implement the {operation} operation"


def test_minimal_params_pass_botocore_and_the_model_checks():
    # What the pending test sends must reach the handler lookup for every
    # operation, so it stays meaningful for whatever is pending.
    for operation in MODEL_OPERATIONS:
        params = minimal_params(operation)
        CLIENT._serializer.serialize_to_request(params, CLIENT.meta.service_model.operation_model(operation))
        service_model.check_request(operation, params)


# -- (b) fuzzing every operation -----------------------------------------------------------

T0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=dt.timezone.utc)
HANDLED = [op for op in MODEL_OPERATIONS if op in OPERATIONS]
# About 200 examples in all, most of them where there is code to exercise.
EXAMPLES_PER_HANDLED_OP = max(4, 200 // max(1, len(HANDLED)))
CALLS_PER_EXAMPLE = 4

# Created before every example, when their operations exist, so update,
# delete, tag and describe paths meet real resources. Each later entry may
# depend on earlier ones; a seed the module refuses is simply skipped.
SEEDS: list[tuple[str, dict[str, Any]]] = [
    (
        "CreateSchedulingPolicy",
        {
            "name": "seed",
            "fairsharePolicy": {"shareDecaySeconds": 3600, "shareDistribution": [{"shareIdentifier": "a"}]},
            "tags": {"seeded": "yes"},
        },
    ),
    ("CreateSchedulingPolicy", {"name": "seed-quota", "quotaSharePolicy": {"idleResourceAssignmentStrategy": "FIFO"}}),
    ("CreateSchedulingPolicy", {"name": "seed-spare"}),
    (
        "CreateComputeEnvironment",
        {
            "computeEnvironmentName": "seed",
            "type": "MANAGED",
            "computeResources": {
                "type": "FARGATE",
                "maxvCpus": 16,
                "subnets": ["subnet-1"],
                "securityGroupIds": ["sg-1"],
            },
            "tags": {"seeded": "yes"},
        },
    ),
    (
        "CreateComputeEnvironment",
        {"computeEnvironmentName": "seed-unmanaged", "type": "UNMANAGED", "unmanagedvCpus": 4},
    ),
    (
        "CreateComputeEnvironment",
        {
            "computeEnvironmentName": "seed-disabled",
            "type": "MANAGED",
            "state": "DISABLED",
            "computeResources": {
                "type": "FARGATE",
                "maxvCpus": 4,
                "subnets": ["subnet-1"],
                "securityGroupIds": ["sg-1"],
            },
        },
    ),
    (
        "CreateJobQueue",
        {
            "jobQueueName": "seed",
            "priority": 1,
            "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "seed"}],
        },
    ),
    (
        "CreateJobQueue",
        {
            "jobQueueName": "seed-fair",
            "priority": 2,
            "schedulingPolicyArn": "arn:aws:batch:us-east-1:123456789012:scheduling-policy/seed",
            "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "seed"}],
        },
    ),
    (
        "CreateJobQueue",
        {
            "jobQueueName": "seed-disabled",
            "priority": 3,
            "state": "DISABLED",
            "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": "seed"}],
        },
    ),
    (
        "RegisterJobDefinition",
        {
            "jobDefinitionName": "seed",
            "type": "container",
            "platformCapabilities": ["FARGATE"],
            "containerProperties": {
                "image": "busybox",
                "command": ["true"],
                "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}],
            },
        },
    ),
    (
        "CreateServiceEnvironment",
        {
            "serviceEnvironmentName": "seed",
            "serviceEnvironmentType": "SAGEMAKER_TRAINING",
            "capacityLimits": [{"maxCapacity": 4, "capacityUnit": "ml.m5.large"}],
        },
    ),
    (
        "CreateServiceEnvironment",
        {
            "serviceEnvironmentName": "seed-disabled",
            "serviceEnvironmentType": "SAGEMAKER_TRAINING",
            "state": "DISABLED",
            "capacityLimits": [{"maxCapacity": 1, "capacityUnit": "NUM_INSTANCES"}],
        },
    ),
    (
        "CreateJobQueue",
        {
            "jobQueueName": "seed-sm",
            "priority": 1,
            "jobQueueType": "SAGEMAKER_TRAINING",
            "schedulingPolicyArn": "arn:aws:batch:us-east-1:123456789012:scheduling-policy/seed-quota",
            "serviceEnvironmentOrder": [{"order": 1, "serviceEnvironment": "seed"}],
        },
    ),
    (
        "CreateQuotaShare",
        {
            "quotaShareName": "seed",
            "jobQueue": "seed-sm",
            "capacityLimits": [{"maxCapacity": 2, "capacityUnit": "ml.m5.large"}],
            "resourceSharingConfiguration": {"strategy": "LEND_AND_BORROW", "borrowLimit": 100},
            "preemptionConfiguration": {"inSharePreemption": "DISABLED"},
        },
    ),
    (
        "CreateQuotaShare",
        {
            "quotaShareName": "seed-disabled",
            "jobQueue": "seed-sm",
            "state": "DISABLED",
            "capacityLimits": [{"maxCapacity": 1, "capacityUnit": "ml.m5.large"}],
            "resourceSharingConfiguration": {"strategy": "RESERVE"},
            "preemptionConfiguration": {"inSharePreemption": "ENABLED"},
        },
    ),
    ("CreateConsumableResource", {"consumableResourceName": "seed", "totalQuantity": 10}),
    ("SubmitJob", {"jobName": "seed", "jobQueue": "seed", "jobDefinition": "seed"}),
    (
        "SubmitServiceJob",
        {
            "jobName": "seed",
            "jobQueue": "seed-sm",
            "serviceJobType": "SAGEMAKER_TRAINING",
            "serviceRequestPayload": "{}",
            "quotaShareName": "seed",
        },
    ),
]


def seed(client: Any) -> dict[str, str]:
    """Create the seed resources that can be created; the ids of seeded jobs."""
    ids = {JOB_ID: "00000000-0000-4000-8000-000000000000", SERVICE_JOB_ID: "00000000-0000-4000-8000-000000000001"}
    for operation, params in SEEDS:
        if operation not in OPERATIONS:
            continue
        try:
            out = method(client, operation)(**params)
        except ClientError as error:
            # A ServerException here is a bug in that module: let the test report it.
            if error.response["Error"]["Code"] != "ClientException":
                raise
            continue
        if operation == "SubmitJob":
            ids[JOB_ID] = out["jobId"]
        elif operation == "SubmitServiceJob":
            ids[SERVICE_JOB_ID] = out["jobId"]
    return ids


# -- the state digest --------------------------------------------------------------------

# Backend attributes that are not stored state: failed calls may consume ids
# and sequence numbers, and engine time moves on its own.
_NOT_STATE = {"journal", "ids", "_seq", "config", "now_ms", "account_id", "region", "request_size"}
_PRIMITIVES = (str, int, float, bool, type(None))


def _fields(obj: Any) -> list[str]:
    names = list(getattr(obj, "__dict__", {}))
    for cls in type(obj).__mro__:
        slots = cls.__dict__.get("__slots__", ())
        names += [slots] if isinstance(slots, str) else list(slots)
    return sorted({n for n in names if n not in ("__dict__", "__weakref__") and hasattr(obj, n)})


class _Canon:
    """A comparable picture of a whole object graph (dicts by content, lists
    and objects in order, shared objects visited once and then referred to)."""

    def __init__(self) -> None:
        self._seen: dict[int, int] = {}

    def __call__(self, value: Any) -> Any:
        if isinstance(value, _PRIMITIVES):
            return value
        if isinstance(value, (Journal, IdFactory, EngineConfig, random.Random)):
            return (type(value).__name__,)
        if isinstance(value, EventQueue):
            return ("events", self.events(value))
        if isinstance(value, types.MethodType):
            return ("method", value.__func__.__qualname__, self(value.__self__))
        if isinstance(value, (types.FunctionType, types.BuiltinFunctionType, type)):
            return ("callable", getattr(value, "__qualname__", repr(value)))
        if isinstance(value, functools.partial):
            return ("partial", self(value.func), self(value.args), self(value.keywords))
        if isinstance(value, (list, tuple)):  # named tuples too
            return (type(value).__name__, [self(v) for v in value])
        if isinstance(value, dict):
            return ("dict", [(self._key(k), self(value[k])) for k in sorted(value, key=self._key)])
        if isinstance(value, (set, frozenset)):
            return ("set", [self(v) for v in sorted(value, key=self._key)])
        if id(value) in self._seen:
            return ("ref", self._seen[id(value)])
        self._seen[id(value)] = len(self._seen)
        fields = _fields(value)
        if not fields:
            return ("opaque", type(value).__name__)  # counters and the like
        return (type(value).__name__, [(name, self(getattr(value, name))) for name in fields])

    @staticmethod
    def _key(value: Any) -> str:
        if isinstance(value, _PRIMITIVES) or (type(value) is tuple and all(isinstance(v, _PRIMITIVES) for v in value)):
            return repr(value)
        return f"~{type(value).__name__}"

    def events(self, queue: EventQueue) -> list:
        # Only live entries: a rolled-back schedule stays in the heap, cancelled.
        live = sorted(entry for entry in queue._heap if entry[2] is not None)
        return [(due, seq, self(action), self(args)) for due, seq, action, args in live]


def check_table(name: str, table: Table) -> None:
    """The four indexes of a table describe the same resources."""
    assert table._seqs == sorted(table._by_seq), name
    assert len(table._seqs) == len(set(table._seqs)), name
    assert len(table.by_arn) == len(table._by_seq), name
    for seq, resource in table._by_seq.items():
        assert resource.seq == seq, name
        assert table.by_arn.get(resource.arn) is resource, name
    for key, resource in table.by_name.items():
        assert resource.name == key and table.by_arn.get(resource.arn) is resource, name


def digest(backend: Any) -> dict[str, Any]:
    """Everything a backend stores, after checking each table's indexes agree."""
    canon = _Canon()
    out: dict[str, Any] = {}
    for attr, value in sorted(vars(backend).items()):
        if isinstance(value, Table):
            check_table(attr, value)
        if attr not in _NOT_STATE:
            out[attr] = canon(value)
    return out


# One client for every example: clients made before a patch starts are answered by it.
CLIENT = boto3.client("batch", region_name=REGION)


def call_and_check(lb: Any, operation: str, params: dict[str, Any]) -> None:
    """One call: only modeled errors, and a failed call changes nothing."""
    # Events already due (an earlier call's UPDATING -> VALID) run first and
    # commit on their own; the digest is taken after them.
    lb.advance(0)
    backend = lb.backend(REGION)
    before = digest(backend)
    try:
        method(CLIENT, operation)(**params)
    except ParamValidationError:
        pass
    except ClientError as error:
        code = error.response["Error"]["Code"]
        assert code == "ClientException", f"{operation}({params!r}) answered {code}: {error}"
    else:
        digest(backend)  # the indexes still agree
        return
    assert digest(backend) == before, f"{operation}({params!r}) failed but changed the stored state"


def drive(operation: str, calls: list[dict[str, Any]]) -> None:
    """A few calls of `operation` in a row, on freshly seeded state.

    Later calls see what earlier ones did (create, then update or delete),
    so each example reaches more paths for the same setup cost.
    """
    with time_machine.travel(T0, tick=False), localbatch.patch(check_responses=True) as lb:
        ids = seed(CLIENT)
        for params in calls:
            call_and_check(lb, operation, substitute(params, ids))


def fuzz(operation: str, examples: int) -> None:
    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much],
    )
    @given(calls=st.lists(input_strategy(operation), min_size=1, max_size=CALLS_PER_EXAMPLE))
    def run(calls: list[dict[str, Any]]) -> None:
        drive(operation, calls)

    run()


@pytest.mark.parametrize("operation", MODEL_OPERATIONS)
def test_generated_inputs_answer_only_modeled_errors_and_fail_cleanly(operation):
    fuzz(operation, EXAMPLES_PER_HANDLED_OP if operation in OPERATIONS else 1)


def test_the_state_digest_sees_a_change():
    # The fuzz test is only as good as its digest: a change it cannot see
    # would pass unnoticed.
    with time_machine.travel(T0, tick=False), localbatch.patch() as lb:
        seed(CLIENT)
        backend = lb.backend(REGION)
        before = digest(backend)
        assert digest(backend) == before  # stable when nothing changes
        policy = backend.scheduling_policies.get("seed")
        localbatch.api._common.updated(backend, policy, tags={})
        assert digest(backend) != before
        after_update = digest(backend)
        entry = backend.schedule_in(1_000, print, "x")
        assert digest(backend) != after_update
        with_event = digest(backend)
        backend.events.cancel(entry)
        assert digest(backend) == after_update
        backend.schedule_in(1_000, print, "x")
        backend.scheduling_policies.remove(policy)
        assert digest(backend) != with_event


class _Slotted:
    __slots__ = ("items", "peer", "status")

    def __init__(self) -> None:
        self.status = "RUNNABLE"
        self.peer = None
        self.items = {"a": [1, 2]}


def test_the_state_digest_looks_inside_objects_and_survives_cycles():
    with localbatch.patch() as lb:
        backend = lb.backend(REGION)
        first, second = _Slotted(), _Slotted()
        first.peer, second.peer = second, first  # a cycle
        backend.extra = {"by_id": {"j1": first, "j2": second}, "order": [second, first]}
        before = digest(backend)
        second.status = "STARTING"
        assert digest(backend) != before
        second.status = "RUNNABLE"
        assert digest(backend) == before
        first.items["a"].append(3)
        assert digest(backend) != before
