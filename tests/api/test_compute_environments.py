"""Compute environments through a real boto3 client (spec §1.2, §1.9, §6.3, §6.4, §7)."""

from __future__ import annotations

import re

import boto3
import botocore.exceptions
import pytest

import localbatch
from tests.helpers import client_error

ARN = "arn:aws:batch:us-east-1:123456789012:compute-environment/"
QUEUE_ARN = "arn:aws:batch:us-east-1:123456789012:job-queue/"
WRAPPED = re.compile(r"^Error executing request, Exception : (.*), RequestId: [0-9a-f-]{36}$")
UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")
CLUSTER = "arn:aws:eks:us-east-1:123456789012:cluster/c1"


def ec2(**changes):
    resources = {
        "type": "EC2",
        "minvCpus": 0,
        "maxvCpus": 16,
        "instanceTypes": ["optimal"],
        "subnets": ["subnet-1"],
        "securityGroupIds": ["sg-1"],
        "instanceRole": "ecsInstanceRole",
    }
    resources.update(changes)
    return {k: v for k, v in resources.items() if v is not None}


def fargate(**changes):
    resources = {"type": "FARGATE", "maxvCpus": 8, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}
    resources.update(changes)
    return {k: v for k, v in resources.items() if v is not None}


def create(batch, name="ce", resources=None, **kwargs):
    return batch.create_compute_environment(
        computeEnvironmentName=name, type="MANAGED", computeResources=resources or ec2(), **kwargs
    )


def describe(batch, name):
    (ce,) = batch.describe_compute_environments(computeEnvironments=[name])["computeEnvironments"]
    return ce


def wrapped(excinfo) -> str:
    match = WRAPPED.match(client_error(excinfo))
    assert match, client_error(excinfo)
    return match.group(1)


def refused(client, call, **kwargs) -> str:
    with pytest.raises(client.exceptions.ClientException) as e:
        call(**kwargs)
    return client_error(e)


@pytest.fixture
def slow():
    """A patch where CREATING/UPDATING/DELETING last five seconds."""
    with localbatch.patch(resource_latency=5) as lb:
        yield lb, boto3.client("batch", region_name="us-east-1")


# -- create and describe ------------------------------------------------------


def test_create_ec2_describe_shape(batch):
    out = create(batch, tags={"team": "x"})
    assert out["computeEnvironmentName"] == "ce"
    assert out["computeEnvironmentArn"] == ARN + "ce"
    ce = describe(batch, "ce")
    assert UUID.fullmatch(ce["uuid"])
    assert ce["ecsClusterArn"] == f"arn:aws:ecs:us-east-1:123456789012:cluster/AWSBatch-ce-{ce['uuid']}"
    assert ce == {
        "computeEnvironmentName": "ce",
        "computeEnvironmentArn": ARN + "ce",
        "ecsClusterArn": ce["ecsClusterArn"],
        "tags": {"team": "x"},
        "type": "MANAGED",
        "state": "ENABLED",
        "status": "VALID",
        "statusReason": "ComputeEnvironment Healthy",
        "computeResources": {
            **ec2(),
            "allocationStrategy": "BEST_FIT",
            "desiredvCpus": 0,
            "ec2Configuration": [{"imageType": "ECS_AL2023"}],
        },
        "serviceRole": "arn:aws:iam::123456789012:role/aws-service-role/batch.amazonaws.com/AWSServiceRoleForBatch",
        "updatePolicy": {"terminateJobsOnUpdate": False, "jobExecutionTimeoutMinutes": 30},
        "containerOrchestrationType": "ECS",
        "uuid": ce["uuid"],
    }


def test_fargate_keeps_what_was_given(batch):
    create(batch, "f", fargate(), serviceRole="arn:aws:iam::123456789012:role/batch", state="DISABLED")
    ce = describe(batch, "f")
    assert ce["computeResources"] == fargate()
    assert ce["serviceRole"] == "arn:aws:iam::123456789012:role/batch"
    assert ce["state"] == "DISABLED"
    assert ce["status"] == "VALID"


def test_spot_and_given_defaults_are_kept(batch):
    resources = ec2(
        type="SPOT",
        allocationStrategy="SPOT_CAPACITY_OPTIMIZED",
        desiredvCpus=4,
        ec2Configuration=[{"imageType": "ECS_AL2023_NVIDIA"}],
    )
    create(batch, "spot", resources)
    assert describe(batch, "spot")["computeResources"] == resources


def test_unmanaged(batch):
    batch.create_compute_environment(computeEnvironmentName="u", type="UNMANAGED", unmanagedvCpus=32)
    ce = describe(batch, "u")
    assert ce["type"] == "UNMANAGED"
    assert ce["unmanagedvCpus"] == 32
    assert "computeResources" not in ce and "updatePolicy" not in ce
    assert ce["ecsClusterArn"].startswith("arn:aws:ecs:us-east-1:123456789012:cluster/AWSBatch-u-")
    message = refused(
        batch, batch.create_compute_environment, computeEnvironmentName="u2", type="UNMANAGED", computeResources=ec2()
    )
    assert "UNMANAGED" in message
    message = refused(batch, create, batch=batch, name="m", unmanagedvCpus=4)
    assert message == "unmanagedvCpus is only supported for UNMANAGED compute environments"


def test_managed_needs_compute_resources(batch):
    message = refused(batch, batch.create_compute_environment, computeEnvironmentName="m", type="MANAGED")
    assert message == "computeResources is required for MANAGED compute environments"


def test_context_and_ecs_settings_are_echoed(batch):
    create(batch, context="ctx", ecsSettings={"containerInsights": "ENHANCED"})
    ce = describe(batch, "ce")
    assert ce["context"] == "ctx"
    assert ce["ecsSettings"] == {"containerInsights": "ENHANCED"}


def test_duplicate_name_is_object_already_exists(batch):
    create(batch)
    assert refused(batch, create, batch=batch) == "Object already exists"
    assert len(batch.describe_compute_environments()["computeEnvironments"]) == 1


@pytest.mark.parametrize("name", ["bad name", "a" * 129, "x:y", ""])
def test_name_pattern(batch, name):
    with pytest.raises(batch.exceptions.ClientException) as e:
        create(batch, name)
    assert wrapped(e) == "computeEnvironmentName should match valid pattern"


def test_name_of_128_characters_is_fine(batch):
    create(batch, "a" * 128)
    assert describe(batch, "a" * 128)["computeEnvironmentName"] == "a" * 128


def test_enum_checked_server_side(batch):
    message = refused(batch, create, batch=batch, resources=ec2(type="BOGUS"))
    assert message.startswith("type BOGUS must be one of EC2 | SPOT | FARGATE")
    message = refused(batch, create, batch=batch, state="ON")
    assert message == "state ON must be one of ENABLED | DISABLED"


def test_region_quota():
    with localbatch.patch(max_compute_environments=2):
        batch = boto3.client("batch", region_name="us-east-1")
        create(batch, "a")
        create(batch, "b")
        assert refused(batch, create, batch=batch, name="c") == "Exceeded the limit of 2 compute environments"
        # Quotas are per region.
        create(boto3.client("batch", region_name="eu-west-1"), "c")


# -- EC2 / Fargate rules ---------------------------------------------------------

FARGATE_INAPPLICABLE = [
    ("allocationStrategy", "BEST_FIT_PROGRESSIVE"),
    ("minvCpus", 0),
    ("desiredvCpus", 0),
    ("instanceTypes", ["optimal"]),
    ("imageId", "ami-1"),
    ("ec2KeyPair", "key"),
    ("instanceRole", "ecsInstanceRole"),
    ("placementGroup", "pg"),
    ("bidPercentage", 50),
    ("spotIamFleetRole", "arn:aws:iam::123456789012:role/fleet"),
    ("launchTemplate", {"launchTemplateName": "lt"}),
    ("ec2Configuration", [{"imageType": "ECS_AL2023"}]),
    ("tags", {"Name": "x"}),
    ("scalingPolicy", {"minScaleDownDelayMinutes": 30}),
]


@pytest.mark.parametrize("field, value", FARGATE_INAPPLICABLE)
@pytest.mark.parametrize("kind", ["FARGATE", "FARGATE_SPOT"])
def test_fargate_inapplicable_fields(batch, kind, field, value):
    with pytest.raises(batch.exceptions.ClientException) as e:
        create(batch, "f", fargate(type=kind, **{field: value}))
    assert wrapped(e) == f"{field} is not applicable for Fargate."


@pytest.mark.parametrize("kind", ["EC2", "SPOT"])
def test_ec2_requires_instance_role_then_min_vcpus(batch, kind):
    extra = {"allocationStrategy": "SPOT_CAPACITY_OPTIMIZED"} if kind == "SPOT" else {}
    with pytest.raises(batch.exceptions.ClientException) as e:
        create(batch, resources=ec2(type=kind, instanceRole=None, minvCpus=None, **extra))
    assert wrapped(e) == "Instance role is required."
    with pytest.raises(batch.exceptions.ClientException) as e:
        create(batch, resources=ec2(type=kind, minvCpus=None, **extra))
    assert wrapped(e) == "Resource minvCpus is required."


def test_service_role_is_optional(batch):
    create(batch)  # no serviceRole: the service-linked role is used
    assert describe(batch, "ce")["serviceRole"].endswith("/AWSServiceRoleForBatch")


def test_spot_best_fit_needs_fleet_role(batch):
    for strategy in (None, "BEST_FIT"):
        message = refused(batch, create, batch=batch, resources=ec2(type="SPOT", allocationStrategy=strategy))
        assert "spotIamFleetRole" in message
    create(batch, "a", ec2(type="SPOT", spotIamFleetRole="arn:aws:iam::123456789012:role/fleet"))
    create(batch, "b", ec2(type="SPOT", allocationStrategy="SPOT_PRICE_CAPACITY_OPTIMIZED"))


@pytest.mark.parametrize(
    "resources, message",
    [
        (ec2(desiredvCpus=17), "desiredvCpus must be between 0 and 16"),
        (ec2(minvCpus=4, desiredvCpus=2), "desiredvCpus must be between 4 and 16"),
        (ec2(minvCpus=17), "minvCpus must be less than or equal to maxvCpus"),
        (ec2(minvCpus=-1), "minvCpus must be greater than or equal to 0"),
        (fargate(maxvCpus=-1), "maxvCpus must be greater than or equal to 0"),
    ],
)
def test_vcpu_bounds(batch, resources, message):
    assert refused(batch, create, batch=batch, resources=resources) == message


def test_desired_vcpus_at_the_bounds(batch):
    create(batch, "low", ec2(minvCpus=2, desiredvCpus=2))
    create(batch, "high", ec2(minvCpus=2, desiredvCpus=16))
    assert describe(batch, "high")["computeResources"]["desiredvCpus"] == 16


@pytest.mark.parametrize("resources", [ec2(subnets=[]), ec2(subnets=None), fargate(subnets=None)])
def test_subnets_required(batch, resources):
    assert "subnets is required" in refused(batch, create, batch=batch, resources=resources)


def test_fargate_subnet_and_security_group_limits(batch):
    create(batch, "f16", fargate(subnets=[f"subnet-{i}" for i in range(16)]))
    message = refused(batch, create, batch=batch, name="f17", resources=fargate(subnets=[f"s{i}" for i in range(17)]))
    assert message == "Fargate compute resources can contain up to 16 subnets"
    for groups in (None, []):
        message = refused(batch, create, batch=batch, name="g", resources=fargate(securityGroupIds=groups))
        assert message == "securityGroupIds is required for Fargate compute resources"
    create(batch, "g5", fargate(securityGroupIds=[f"sg-{i}" for i in range(5)]))
    message = refused(batch, create, batch=batch, name="g6", resources=fargate(securityGroupIds=["a"] * 6))
    assert message == "Fargate compute resources can contain up to 5 security groups"
    # EC2 has neither limit.
    create(batch, "e", ec2(subnets=[f"s{i}" for i in range(17)], securityGroupIds=[]))


@pytest.mark.parametrize("delay, ok", [(0, True), (19, False), (20, True), (10080, True), (10081, False)])
def test_scaling_policy_range(batch, delay, ok):
    resources = ec2(scalingPolicy={"minScaleDownDelayMinutes": delay})
    if ok:
        create(batch, resources=resources)
        assert describe(batch, "ce")["computeResources"]["scalingPolicy"] == {"minScaleDownDelayMinutes": delay}
    else:
        message = refused(batch, create, batch=batch, resources=resources)
        assert message == "minScaleDownDelayMinutes must be 0 or between 20 and 10080"


def test_launch_template_and_ec2_configuration(batch):
    both = {"launchTemplateId": "lt-1", "launchTemplateName": "lt"}
    assert "launchTemplate" in refused(batch, create, batch=batch, resources=ec2(launchTemplate=both))
    assert "launchTemplate" in refused(batch, create, batch=batch, resources=ec2(launchTemplate={"version": "1"}))
    three = [{"imageType": "ECS_AL2023"}] * 3
    message = refused(batch, create, batch=batch, resources=ec2(ec2Configuration=three))
    assert message == "ec2Configuration must contain at most 2 items"
    create(batch, resources=ec2(launchTemplate={"launchTemplateName": "lt", "version": "$Latest"}))


def test_ecs_managed_instances(batch):
    provider = {
        "infrastructureRoleArn": "arn:aws:iam::123456789012:role/infra",
        "instanceLaunchTemplate": {
            "ec2InstanceProfileArn": "arn:aws:iam::123456789012:instance-profile/p",
            "networkConfiguration": {"subnets": ["s"], "securityGroups": ["g"]},
        },
    }
    message = refused(batch, create, batch=batch, resources={"type": "ECS_MANAGED_INSTANCES", "maxvCpus": 8})
    assert message == "managedInstancesProvider is required for ECS_MANAGED_INSTANCES compute resources"
    message = refused(batch, create, batch=batch, resources=ec2(managedInstancesProvider=provider))
    assert message == "managedInstancesProvider can only be specified for ECS_MANAGED_INSTANCES compute resources"
    message = refused(batch, create, batch=batch, resources=ec2(capacityTags={"a": "b"}))
    assert "capacityTags" in message
    resources = {"type": "ECS_MANAGED_INSTANCES", "maxvCpus": 8, "managedInstancesProvider": provider}
    create(batch, "mi", resources)
    assert describe(batch, "mi")["computeResources"] == resources


# -- EKS --------------------------------------------------------------------------


def eks(namespace="batch", cluster=CLUSTER, **extra):
    return {"eksClusterArn": cluster, "kubernetesNamespace": namespace, **extra}


def test_eks_compute_environment(batch):
    create(batch, "k", eksConfiguration=eks(accessEntry={"desiredState": "ENABLED"}))
    ce = describe(batch, "k")
    assert ce["containerOrchestrationType"] == "EKS"
    assert ce["eksConfiguration"] == eks(accessEntry={"desiredState": "ENABLED"})
    assert "ecsClusterArn" not in ce
    assert ce["computeResources"]["ec2Configuration"] == [{"imageType": "EKS_AL2023"}]


@pytest.mark.parametrize(
    "namespace, fragment",
    [
        ("a" * 64, "fewer than 64"),
        ("default", "default"),
        ("kube-system", "kube-"),
        ("Batch", "must match"),
        ("-batch", "must match"),
        ("batch-", "must match"),
        ("bat_ch", "must match"),
    ],
)
def test_eks_namespace_rules(batch, namespace, fragment):
    message = refused(batch, create, batch=batch, eksConfiguration=eks(namespace))
    assert message.startswith("kubernetesNamespace") and fragment in message


def test_eks_namespace_of_63_characters(batch):
    create(batch, eksConfiguration=eks("a" * 63))


def test_eks_refuses_fargate(batch):
    message = refused(batch, create, batch=batch, resources=fargate(), eksConfiguration=eks())
    assert "Fargate" in message and "EKS" in message


def test_five_compute_environments_per_eks_cluster(batch):
    for i in range(5):
        create(batch, f"k{i}", eksConfiguration=eks())
    message = refused(batch, create, batch=batch, name="k5", eksConfiguration=eks())
    assert message == "Exceeded the limit of 5 compute environments per Amazon EKS cluster"
    create(batch, "other", eksConfiguration=eks(cluster=CLUSTER[:-1] + "2"))


# -- asynchronous statuses ----------------------------------------------------------


def test_creating_then_valid_after_latency(slow):
    lb, batch = slow
    create(batch)
    ce = describe(batch, "ce")
    assert ce["status"] == "CREATING" and "statusReason" not in ce
    lb.advance(4)  # the wall clock moves too: leave it a second
    assert describe(batch, "ce")["status"] == "CREATING"
    lb.advance(1)
    ce = describe(batch, "ce")
    assert (ce["status"], ce["statusReason"]) == ("VALID", "ComputeEnvironment Healthy")


def test_updating_then_valid_and_busy_refusals(slow):
    lb, batch = slow
    create(batch)
    assert refused(batch, batch.update_compute_environment, computeEnvironment="ce", state="DISABLED") == (
        "Cannot update, resource is being modified"
    )
    assert refused(batch, batch.delete_compute_environment, computeEnvironment="ce") == (
        "Cannot delete, resource is being modified"
    )
    lb.advance(5)
    batch.update_compute_environment(computeEnvironment="ce", state="DISABLED")
    ce = describe(batch, "ce")
    assert (ce["status"], ce["state"]) == ("UPDATING", "DISABLED")
    assert refused(batch, batch.delete_compute_environment, computeEnvironment="ce") == (
        "Cannot delete, resource is being modified"
    )
    lb.advance(5)
    assert describe(batch, "ce")["status"] == "VALID"


def test_deleting_then_gone_and_name_reusable(slow):
    lb, batch = slow
    create(batch, state="DISABLED")
    lb.advance(5)
    batch.delete_compute_environment(computeEnvironment=ARN + "ce")
    assert describe(batch, "ce")["status"] == "DELETING"
    batch.delete_compute_environment(computeEnvironment="ce")  # again: nothing more to do
    assert refused(batch, batch.update_compute_environment, computeEnvironment="ce", state="ENABLED") == (
        "ce does not exist"
    )
    assert refused(batch, create, batch=batch) == "Object already exists"
    lb.advance(5)
    assert batch.describe_compute_environments(computeEnvironments=["ce"])["computeEnvironments"] == []
    create(batch)
    assert describe(batch, "ce")["status"] == "CREATING"


# -- UpdateComputeEnvironment -----------------------------------------------------


def test_update_merges_compute_resources(batch):
    create(batch, resources=ec2(minvCpus=2))
    out = batch.update_compute_environment(computeEnvironment="ce", computeResources={"maxvCpus": 64})
    assert out["computeEnvironmentArn"] == ARN + "ce"
    assert out["computeEnvironmentName"] == "ce"
    resources = describe(batch, "ce")["computeResources"]
    assert resources["maxvCpus"] == 64
    assert resources["minvCpus"] == 2 and resources["instanceRole"] == "ecsInstanceRole"
    assert describe(batch, "ce")["status"] == "VALID"


def test_update_desired_vcpus_rules(batch):
    create(batch, resources=ec2(desiredvCpus=4))
    message = refused(
        batch, batch.update_compute_environment, computeEnvironment="ce", computeResources={"desiredvCpus": 2}
    )
    assert message.startswith("desiredvCpus can't be decreased")
    message = refused(
        batch, batch.update_compute_environment, computeEnvironment="ce", computeResources={"desiredvCpus": 17}
    )
    assert message == "desiredvCpus must be between 0 and 16"
    batch.update_compute_environment(computeEnvironment="ce", computeResources={"desiredvCpus": 8})
    assert describe(batch, "ce")["computeResources"]["desiredvCpus"] == 8
    # Raising min above desired carries desired along.
    batch.update_compute_environment(computeEnvironment="ce", computeResources={"minvCpus": 10})
    assert describe(batch, "ce")["computeResources"]["desiredvCpus"] == 10
    message = refused(
        batch, batch.update_compute_environment, computeEnvironment="ce", computeResources={"maxvCpus": 5}
    )
    assert message == "minvCpus must be less than or equal to maxvCpus"


def test_update_fargate_rules(batch):
    create(batch, "f", fargate())
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.update_compute_environment(computeEnvironment="f", computeResources={"minvCpus": 1})
    assert wrapped(e) == "minvCpus is not applicable for Fargate."
    # Empty lists leave a Fargate environment's network alone.
    batch.update_compute_environment(computeEnvironment="f", computeResources={"subnets": [], "securityGroupIds": []})
    assert describe(batch, "f")["computeResources"] == fargate()
    message = refused(
        batch, batch.update_compute_environment, computeEnvironment="f", computeResources={"subnets": ["s"] * 17}
    )
    assert message == "Fargate compute resources can contain up to 16 subnets"
    batch.update_compute_environment(computeEnvironment="f", computeResources={"type": "FARGATE_SPOT"})
    assert describe(batch, "f")["computeResources"]["type"] == "FARGATE_SPOT"


def test_update_ec2_removals(batch):
    create(batch, resources=ec2(imageId="ami-1", ec2KeyPair="k", launchTemplate={"launchTemplateName": "lt"}))
    batch.update_compute_environment(
        computeEnvironment="ce",
        computeResources={
            "securityGroupIds": [],
            "imageId": "",
            "ec2KeyPair": "",
            "launchTemplate": {"launchTemplateName": ""},
            "ec2Configuration": [],
            "updateToLatestImageVersion": True,
        },
    )
    resources = describe(batch, "ce")["computeResources"]
    for gone in ("securityGroupIds", "imageId", "ec2KeyPair", "launchTemplate", "updateToLatestImageVersion"):
        assert gone not in resources
    assert resources["ec2Configuration"] == [{"imageType": "ECS_AL2023"}]


def test_update_type_within_family_only(batch):
    create(batch)
    batch.update_compute_environment(
        computeEnvironment="ce", computeResources={"type": "SPOT", "allocationStrategy": "SPOT_CAPACITY_OPTIMIZED"}
    )
    assert describe(batch, "ce")["computeResources"]["type"] == "SPOT"
    message = refused(
        batch, batch.update_compute_environment, computeEnvironment="ce", computeResources={"type": "FARGATE"}
    )
    assert message == "computeResources type can't be changed from SPOT to FARGATE"


def test_update_policy(batch):
    create(batch)
    batch.update_compute_environment(computeEnvironment="ce", updatePolicy={"terminateJobsOnUpdate": True})
    assert describe(batch, "ce")["updatePolicy"] == {"terminateJobsOnUpdate": True, "jobExecutionTimeoutMinutes": 30}
    batch.update_compute_environment(computeEnvironment="ce", updatePolicy={"jobExecutionTimeoutMinutes": 7200})
    assert describe(batch, "ce")["updatePolicy"] == {"terminateJobsOnUpdate": True, "jobExecutionTimeoutMinutes": 7200}
    with pytest.raises(botocore.exceptions.ParamValidationError):  # the model's minimum, checked by botocore
        batch.update_compute_environment(computeEnvironment="ce", updatePolicy={"jobExecutionTimeoutMinutes": 0})
    message = refused(
        batch,
        batch.update_compute_environment,
        computeEnvironment="ce",
        updatePolicy={"jobExecutionTimeoutMinutes": 7201},
    )
    assert "7200" in message


def test_update_unmanaged_and_service_role(batch):
    batch.create_compute_environment(computeEnvironmentName="u", type="UNMANAGED")
    batch.update_compute_environment(computeEnvironment="u", unmanagedvCpus=8, serviceRole="arn:aws:iam::1:role/r")
    ce = describe(batch, "u")
    assert (ce["unmanagedvCpus"], ce["serviceRole"]) == (8, "arn:aws:iam::1:role/r")
    message = refused(batch, batch.update_compute_environment, computeEnvironment="u", computeResources={"maxvCpus": 2})
    assert "UNMANAGED" in message
    create(batch)
    message = refused(batch, batch.update_compute_environment, computeEnvironment="ce", unmanagedvCpus=8)
    assert message == "unmanagedvCpus is only supported for UNMANAGED compute environments"


def test_update_eks_access_entry(batch):
    create(batch, "k", eksConfiguration=eks())
    batch.update_compute_environment(
        computeEnvironment="k", eksConfiguration={"accessEntry": {"desiredState": "DISABLED"}}
    )
    assert describe(batch, "k")["eksConfiguration"] == eks(accessEntry={"desiredState": "DISABLED"})
    create(batch)
    message = refused(
        batch,
        batch.update_compute_environment,
        computeEnvironment="ce",
        eksConfiguration={"accessEntry": {"desiredState": "ENABLED"}},
    )
    assert "EKS" in message


def test_update_unknown(batch):
    assert refused(batch, batch.update_compute_environment, computeEnvironment="nope", state="ENABLED") == (
        "nope does not exist"
    )
    assert refused(batch, batch.update_compute_environment, computeEnvironment=ARN + "nope", state="ENABLED") == (
        ARN + "nope does not exist"
    )


def test_failed_update_changes_nothing(batch):
    create(batch)
    refused(
        batch,
        batch.update_compute_environment,
        computeEnvironment="ce",
        state="DISABLED",
        computeResources={"maxvCpus": -5},
    )
    ce = describe(batch, "ce")
    assert (ce["state"], ce["status"], ce["computeResources"]["maxvCpus"]) == ("ENABLED", "VALID", 16)


# -- DeleteComputeEnvironment ---------------------------------------------------------


def test_delete_needs_disabled(batch):
    create(batch)
    assert refused(batch, batch.delete_compute_environment, computeEnvironment="ce") == (
        "Cannot delete, compute environment must be in DISABLED state"
    )
    assert describe(batch, "ce")["status"] == "VALID"


def test_delete_refused_while_a_queue_uses_it(batch):
    create(batch)
    batch.create_job_queue(
        jobQueueName="q", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}]
    )
    batch.update_compute_environment(computeEnvironment="ce", state="DISABLED")
    assert refused(batch, batch.delete_compute_environment, computeEnvironment="ce") == (
        "Cannot delete, found existing JobQueue relationship."
    )
    batch.update_job_queue(jobQueue="q", state="DISABLED")
    batch.delete_job_queue(jobQueue="q")
    batch.delete_compute_environment(computeEnvironment="ce")
    assert batch.describe_compute_environments()["computeEnvironments"] == []


def test_delete_unknown(batch):
    assert refused(batch, batch.delete_compute_environment, computeEnvironment="nope") == "nope does not exist"


def test_delete_removes_tags(batch):
    create(batch, state="DISABLED", tags={"a": "1"})
    batch.delete_compute_environment(computeEnvironment="ce")
    assert refused(batch, batch.list_tags_for_resource, resourceArn=ARN + "ce") == ARN + "ce does not exist"


# -- DescribeComputeEnvironments ------------------------------------------------------


def test_describe_by_name_or_arn_unknown_omitted_creation_order(batch):
    for name in ("a", "b", "c"):
        create(batch, name)
    got = batch.describe_compute_environments(computeEnvironments=["c", ARN + "a", "nope", "a", ARN + "nope"])
    assert [ce["computeEnvironmentName"] for ce in got["computeEnvironments"]] == ["a", "c"]
    assert "nextToken" not in got
    everything = batch.describe_compute_environments()["computeEnvironments"]
    assert [ce["computeEnvironmentName"] for ce in everything] == ["a", "b", "c"]
    assert batch.describe_compute_environments(computeEnvironments=[])["computeEnvironments"] == everything


def test_describe_limits(batch):
    create(batch)
    message = refused(batch, batch.describe_compute_environments, computeEnvironments=["ce"] * 101)
    assert message == "computeEnvironments must contain at most 100 items"
    assert len(batch.describe_compute_environments(computeEnvironments=["ce"] * 100)["computeEnvironments"]) == 1
    for bad in (0, 101):
        assert refused(batch, batch.describe_compute_environments, maxResults=bad) == (
            "maxResults must be between 1 and 100"
        )
    assert refused(batch, batch.describe_compute_environments, nextToken="garbage") == "Invalid nextToken"


def test_describe_pagination_every_item_once(batch):
    for i in range(7):
        create(batch, f"ce{i}")
    page = batch.describe_compute_environments(maxResults=3)
    assert len(page["computeEnvironments"]) == 3 and "nextToken" in page
    exact = batch.describe_compute_environments(maxResults=7)
    assert len(exact["computeEnvironments"]) == 7 and "nextToken" not in exact
    pages = batch.get_paginator("describe_compute_environments").paginate(PaginationConfig={"PageSize": 2})
    names = [ce["computeEnvironmentName"] for page in pages for ce in page["computeEnvironments"]]
    assert names == [f"ce{i}" for i in range(7)]
    wanted = [f"ce{i}" for i in (6, 1, 4, 2)]
    pages = batch.get_paginator("describe_compute_environments").paginate(
        computeEnvironments=wanted, PaginationConfig={"PageSize": 3}
    )
    got = [[ce["computeEnvironmentName"] for ce in page["computeEnvironments"]] for page in pages]
    assert got == [["ce1", "ce2", "ce4"], ["ce6"]]
    # A token belongs to the query that produced it.
    token = batch.describe_compute_environments(maxResults=1)["nextToken"]
    assert refused(batch, batch.describe_compute_environments, computeEnvironments=["ce1"], nextToken=token) == (
        "Invalid nextToken"
    )


def test_describe_output_is_a_copy(batch):
    create(batch)
    describe(batch, "ce")["computeResources"]["maxvCpus"] = 999
    assert describe(batch, "ce")["computeResources"]["maxvCpus"] == 16


# -- tags -------------------------------------------------------------------------


def test_tags_in_describe_and_list_tags_but_not_instance_tags(batch):
    arn = create(batch, resources=ec2(tags={"Name": "instance"}), tags={"team": "x"})["computeEnvironmentArn"]
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"team": "x"}
    batch.tag_resource(resourceArn=arn, tags={"b": "2"})
    batch.untag_resource(resourceArn=arn, tagKeys=["team"])
    ce = describe(batch, "ce")
    assert ce["tags"] == {"b": "2"}
    assert ce["computeResources"]["tags"] == {"Name": "instance"}


def test_tags_validated_on_create(batch):
    assert "aws:" in refused(batch, create, batch=batch, tags={"aws:x": "1"})
    assert "50" in refused(batch, create, batch=batch, tags={f"k{i}": "v" for i in range(51)})
    assert batch.describe_compute_environments()["computeEnvironments"] == []
