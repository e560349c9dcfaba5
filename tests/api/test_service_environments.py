"""Service environments through a real boto3 client (spec §1.6, §1.9, §6.3, §6.4)."""

from __future__ import annotations

import boto3
import pytest

import localbatch
from tests.helpers import client_error

ARN = "arn:aws:batch:us-east-1:123456789012:service-environment/"
NUM_INSTANCES = [{"maxCapacity": 50, "capacityUnit": "NUM_INSTANCES"}]
BY_TYPE = [{"maxCapacity": 3, "capacityUnit": "ml.g5.xlarge"}, {"maxCapacity": 2, "capacityUnit": "ml.m6i.xlarge"}]


def create(batch, name="se", limits=NUM_INSTANCES, **kwargs):
    return batch.create_service_environment(
        serviceEnvironmentName=name, serviceEnvironmentType="SAGEMAKER_TRAINING", capacityLimits=limits, **kwargs
    )


def describe(batch, name="se"):
    (found,) = batch.describe_service_environments(serviceEnvironments=[name])["serviceEnvironments"]
    return found


def refused(client, call, **kwargs) -> str:
    with pytest.raises(client.exceptions.ClientException) as e:
        call(**kwargs)
    return client_error(e)


def attach(batch, queue="q", se="se", **kwargs):
    batch.create_job_queue(
        jobQueueName=queue, priority=1, serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": se}], **kwargs
    )


@pytest.fixture
def slow():
    """A patch where CREATING/UPDATING/DELETING last five seconds."""
    with localbatch.patch(resource_latency=5) as lb:
        yield lb, boto3.client("batch", region_name="us-east-1")


# -- create and describe ------------------------------------------------------


def test_create_describe_shape(batch):
    out = create(batch, tags={"team": "x"})
    assert (out["serviceEnvironmentName"], out["serviceEnvironmentArn"]) == ("se", ARN + "se")
    assert describe(batch) == {
        "serviceEnvironmentName": "se",
        "serviceEnvironmentArn": ARN + "se",
        "serviceEnvironmentType": "SAGEMAKER_TRAINING",
        "state": "ENABLED",
        "status": "VALID",
        "capacityLimits": NUM_INSTANCES,
        "tags": {"team": "x"},
    }


def test_instance_type_limits_and_disabled_state(batch):
    create(batch, "typed", BY_TYPE, state="DISABLED")
    found = describe(batch, ARN + "typed")
    assert (found["capacityLimits"], found["state"]) == (BY_TYPE, "DISABLED")


def test_duplicate_name_and_name_pattern(batch):
    create(batch)
    assert refused(batch, create, batch=batch) == "Object already exists"
    message = refused(batch, create, batch=batch, name="bad/name")
    assert message.startswith(
        "Error executing request, Exception : serviceEnvironmentName should match valid pattern, RequestId: "
    )


def test_enums_checked_server_side(batch):
    message = refused(
        batch,
        batch.create_service_environment,
        serviceEnvironmentName="se",
        serviceEnvironmentType="ECS",
        capacityLimits=NUM_INSTANCES,
    )
    assert message == "serviceEnvironmentType ECS must be one of SAGEMAKER_TRAINING"
    assert refused(batch, create, batch=batch, state="ON") == "state ON must be one of ENABLED | DISABLED"


def test_region_quota():
    with localbatch.patch(max_service_environments=1):
        batch = boto3.client("batch", region_name="us-east-1")
        create(batch, "a")
        assert refused(batch, create, batch=batch, name="b") == "Exceeded the limit of 1 service environments"


# -- capacityLimits ---------------------------------------------------------------


def types(n):
    return [{"maxCapacity": 1, "capacityUnit": f"ml.g5.{i + 1}xlarge"} for i in range(n)]


@pytest.mark.parametrize(
    "limits, message",
    [
        ([], "capacityLimits must contain at least 1 item"),
        ([{"maxCapacity": 1}], "Each capacity limit needs a maxCapacity and a capacityUnit"),
        ([{"capacityUnit": "NUM_INSTANCES"}], "Each capacity limit needs a maxCapacity and a capacityUnit"),
        ([{"maxCapacity": -1, "capacityUnit": "NUM_INSTANCES"}], "maxCapacity must be greater than or equal to 0"),
        (
            [{"maxCapacity": 1, "capacityUnit": "VCPU"}],
            "capacityUnit VCPU must be NUM_INSTANCES or a SageMaker instance type such as ml.m5.large",
        ),
        (NUM_INSTANCES * 2, "capacityUnit NUM_INSTANCES appears more than once in capacityLimits"),
        (types(1) * 2, "capacityUnit ml.g5.1xlarge appears more than once in capacityLimits"),
        (NUM_INSTANCES + types(1), "A NUM_INSTANCES capacity limit can't be combined with other capacity limits"),
        (types(6), "capacityLimits can contain at most 5 instance types"),
    ],
)
def test_capacity_limit_rules(batch, limits, message):
    assert refused(batch, create, batch=batch, limits=limits) == message
    assert batch.describe_service_environments()["serviceEnvironments"] == []


def test_five_instance_types_and_zero_capacity_are_fine(batch):
    create(batch, "five", types(5))
    create(batch, "zero", [{"maxCapacity": 0, "capacityUnit": "NUM_INSTANCES"}])
    assert len(describe(batch, "five")["capacityLimits"]) == 5


# -- asynchronous statuses ----------------------------------------------------------


def test_creating_updating_deleting(slow):
    lb, batch = slow
    create(batch)
    assert describe(batch)["status"] == "CREATING"
    assert refused(batch, batch.update_service_environment, serviceEnvironment="se", state="DISABLED") == (
        "Cannot update, resource is being modified"
    )
    assert refused(batch, batch.delete_service_environment, serviceEnvironment="se") == (
        "Cannot delete, resource is being modified"
    )
    lb.advance(5)
    assert describe(batch)["status"] == "VALID"
    batch.update_service_environment(serviceEnvironment="se", state="DISABLED")
    assert describe(batch)["status"] == "UPDATING"
    lb.advance(5)
    batch.delete_service_environment(serviceEnvironment="se")
    assert describe(batch)["status"] == "DELETING"
    batch.delete_service_environment(serviceEnvironment="se")  # again: nothing more to do
    assert refused(batch, batch.update_service_environment, serviceEnvironment="se", state="ENABLED") == (
        "se does not exist"
    )
    assert refused(batch, create, batch=batch) == "Object already exists"
    lb.advance(5)
    assert batch.describe_service_environments(serviceEnvironments=["se"])["serviceEnvironments"] == []
    create(batch)


# -- UpdateServiceEnvironment -----------------------------------------------------


def test_update_state_and_limits(batch):
    create(batch)
    out = batch.update_service_environment(
        serviceEnvironment=ARN + "se",
        state="DISABLED",
        capacityLimits=[{"maxCapacity": 7, "capacityUnit": "NUM_INSTANCES"}],
    )
    assert (out["serviceEnvironmentName"], out["serviceEnvironmentArn"]) == ("se", ARN + "se")
    found = describe(batch)
    assert (found["state"], found["status"]) == ("DISABLED", "VALID")
    assert found["capacityLimits"] == [{"maxCapacity": 7, "capacityUnit": "NUM_INSTANCES"}]
    message = refused(batch, batch.update_service_environment, serviceEnvironment="se", capacityLimits=[])
    assert message == "capacityLimits must contain at least 1 item"


def test_update_unknown(batch):
    message = refused(batch, batch.update_service_environment, serviceEnvironment="nope", state="ENABLED")
    assert message == "nope does not exist"


def test_update_kind_switch_only_when_detached(batch):
    create(batch)
    # Detached: the environment may switch to instance types.
    batch.update_service_environment(serviceEnvironment="se", capacityLimits=BY_TYPE)
    batch.update_service_environment(serviceEnvironment="se", capacityLimits=NUM_INSTANCES)
    attach(batch)
    message = refused(batch, batch.update_service_environment, serviceEnvironment="se", capacityLimits=BY_TYPE)
    assert message.startswith("capacityLimits can't switch between NUM_INSTANCES and instance types")
    # Same kind, other numbers: fine.
    batch.update_service_environment(
        serviceEnvironment="se", capacityLimits=[{"maxCapacity": 1, "capacityUnit": "NUM_INSTANCES"}]
    )


def test_quota_environment_cannot_switch_to_num_instances_while_attached(batch):
    create(batch, "typed", BY_TYPE)
    policy = batch.create_scheduling_policy(name="quota", quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"})
    attach(batch, se="typed", schedulingPolicyArn=policy["arn"])
    message = refused(batch, batch.update_service_environment, serviceEnvironment="typed", capacityLimits=NUM_INSTANCES)
    assert message.startswith("capacityLimits can't switch")
    batch.update_service_environment(serviceEnvironment="typed", capacityLimits=BY_TYPE[:1])
    assert describe(batch, "typed")["capacityLimits"] == BY_TYPE[:1]


# -- DeleteServiceEnvironment -------------------------------------------------------


def test_delete_rules(batch):
    create(batch)
    attach(batch)
    assert refused(batch, batch.delete_service_environment, serviceEnvironment="se") == (
        "Cannot delete, service environment must be in DISABLED state"
    )
    batch.update_service_environment(serviceEnvironment="se", state="DISABLED")
    assert refused(batch, batch.delete_service_environment, serviceEnvironment="se") == (
        "Cannot delete, found existing JobQueue relationship."
    )
    batch.update_job_queue(jobQueue="q", state="DISABLED")
    batch.delete_job_queue(jobQueue="q")
    batch.delete_service_environment(serviceEnvironment=ARN + "se")
    assert batch.describe_service_environments()["serviceEnvironments"] == []


def test_delete_detached_by_update(batch):
    create(batch, state="DISABLED")
    attach(batch)
    batch.update_job_queue(jobQueue="q", serviceEnvironmentOrder=[])
    batch.delete_service_environment(serviceEnvironment="se")


def test_delete_unknown(batch):
    assert refused(batch, batch.delete_service_environment, serviceEnvironment="nope") == "nope does not exist"


# -- DescribeServiceEnvironments ------------------------------------------------------


def test_describe_unknown_omitted_creation_order(batch):
    for name in ("a", "b", "c"):
        create(batch, name)
    got = batch.describe_service_environments(serviceEnvironments=["c", "nope", ARN + "a", "c"])
    assert [s["serviceEnvironmentName"] for s in got["serviceEnvironments"]] == ["a", "c"]
    everything = batch.describe_service_environments()["serviceEnvironments"]
    assert [s["serviceEnvironmentName"] for s in everything] == ["a", "b", "c"]


def test_describe_limits_and_pagination(batch):
    for i in range(5):
        create(batch, f"se{i}")
    message = refused(batch, batch.describe_service_environments, serviceEnvironments=["se0"] * 101)
    assert message == "serviceEnvironments must contain at most 100 items"
    for bad in (0, 101):
        message = refused(batch, batch.describe_service_environments, maxResults=bad)
        assert message == "maxResults must be between 1 and 100"
    assert refused(batch, batch.describe_service_environments, nextToken="garbage") == "Invalid nextToken"
    page = batch.describe_service_environments(maxResults=4)
    assert len(page["serviceEnvironments"]) == 4 and "nextToken" in page
    pages = batch.get_paginator("describe_service_environments").paginate(PaginationConfig={"PageSize": 2})
    names = [s["serviceEnvironmentName"] for page in pages for s in page["serviceEnvironments"]]
    assert names == [f"se{i}" for i in range(5)]
    pages = batch.get_paginator("describe_service_environments").paginate(
        serviceEnvironments=["se3", "se1"], PaginationConfig={"PageSize": 1}
    )
    assert [s["serviceEnvironmentName"] for page in pages for s in page["serviceEnvironments"]] == ["se1", "se3"]


# -- tags ------------------------------------------------------------------------------


def test_tags_round_trip(batch):
    arn = create(batch, tags={"a": "1"})["serviceEnvironmentArn"]
    batch.tag_resource(resourceArn=arn, tags={"b": "2"})
    batch.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}
    assert describe(batch)["tags"] == {"b": "2"}
    assert "aws:" in refused(batch, create, batch=batch, name="t", tags={"aws:x": "1"})
    batch.update_service_environment(serviceEnvironment="se", state="DISABLED")
    batch.delete_service_environment(serviceEnvironment="se")
    assert refused(batch, batch.list_tags_for_resource, resourceArn=arn) == f"{arn} does not exist"
