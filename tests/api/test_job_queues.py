"""Job queues through a real boto3 client (spec §1.3, §1.9, §6.3, §6.4, §7 rows 24, 25, 32)."""

from __future__ import annotations

import boto3
import pytest

import localbatch
from tests.helpers import client_error

ARN = "arn:aws:batch:us-east-1:123456789012:job-queue/"
CE_ARN = "arn:aws:batch:us-east-1:123456789012:compute-environment/"
SE_ARN = "arn:aws:batch:us-east-1:123456789012:service-environment/"
POLICY_ARN = "arn:aws:batch:us-east-1:123456789012:scheduling-policy/"

EC2 = {
    "type": "EC2",
    "minvCpus": 0,
    "maxvCpus": 16,
    "subnets": ["subnet-1"],
    "securityGroupIds": ["sg-1"],
    "instanceRole": "ecsInstanceRole",
}
FARGATE = {"type": "FARGATE", "maxvCpus": 8, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}
SPOT = {**EC2, "type": "SPOT", "allocationStrategy": "SPOT_CAPACITY_OPTIMIZED"}
FARGATE_SPOT = {**FARGATE, "type": "FARGATE_SPOT"}
EKS = {"eksClusterArn": "arn:aws:eks:us-east-1:123456789012:cluster/c", "kubernetesNamespace": "batch"}
NUM_INSTANCES = [{"maxCapacity": 10, "capacityUnit": "NUM_INSTANCES"}]
BY_TYPE = [{"maxCapacity": 3, "capacityUnit": "ml.g5.xlarge"}]


def ce(batch, name="ce", resources=EC2, **kwargs):
    batch.create_compute_environment(computeEnvironmentName=name, type="MANAGED", computeResources=resources, **kwargs)
    return CE_ARN + name


def se(batch, name="se", limits=NUM_INSTANCES):
    batch.create_service_environment(
        serviceEnvironmentName=name, serviceEnvironmentType="SAGEMAKER_TRAINING", capacityLimits=limits
    )
    return SE_ARN + name


def order(*names):
    return [{"order": i + 1, "computeEnvironment": name} for i, name in enumerate(names)]


def service_order(name):
    return [{"order": 1, "serviceEnvironment": name}]


def queue(batch, name="q", priority=1, **kwargs):
    if "computeEnvironmentOrder" not in kwargs and "serviceEnvironmentOrder" not in kwargs:
        kwargs["computeEnvironmentOrder"] = order("ce")
    return batch.create_job_queue(jobQueueName=name, priority=priority, **kwargs)


def describe(batch, name="q"):
    (found,) = batch.describe_job_queues(jobQueues=[name])["jobQueues"]
    return found


def refused(client, call, **kwargs) -> str:
    with pytest.raises(client.exceptions.ClientException) as e:
        call(**kwargs)
    return client_error(e)


def fair_policy(batch, name="fair"):
    return batch.create_scheduling_policy(name=name)["arn"]


def quota_policy(batch, name="quota"):
    return batch.create_scheduling_policy(name=name, quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"})["arn"]


@pytest.fixture
def slow():
    """A patch where CREATING/UPDATING/DELETING last five seconds."""
    with localbatch.patch(resource_latency=5) as lb:
        yield lb, boto3.client("batch", region_name="us-east-1")


# -- create and describe ------------------------------------------------------


def test_create_describe_shape(batch):
    ce(batch, "a")
    ce(batch, "b", SPOT)
    out = queue(
        batch,
        priority=10,
        computeEnvironmentOrder=[
            {"order": 5, "computeEnvironment": "a"},
            {"order": 2, "computeEnvironment": CE_ARN + "b"},
        ],
        tags={"team": "x"},
    )
    assert (out["jobQueueName"], out["jobQueueArn"]) == ("q", ARN + "q")
    assert describe(batch) == {
        "jobQueueName": "q",
        "jobQueueArn": ARN + "q",
        "state": "ENABLED",
        "status": "VALID",
        "statusReason": "JobQueue Healthy",
        "priority": 10,
        # ARNs, tried in ascending order.
        "computeEnvironmentOrder": [
            {"order": 2, "computeEnvironment": CE_ARN + "b"},
            {"order": 5, "computeEnvironment": CE_ARN + "a"},
        ],
        "jobQueueType": "ECS",
        "tags": {"team": "x"},
        "jobStateTimeLimitActions": [],
    }


def test_service_queue_shape(batch):
    se(batch)
    policy = fair_policy(batch)
    queue(batch, "sq", serviceEnvironmentOrder=service_order("se"), schedulingPolicyArn=policy, state="DISABLED")
    assert describe(batch, "sq") == {
        "jobQueueName": "sq",
        "jobQueueArn": ARN + "sq",
        "state": "DISABLED",
        "schedulingPolicyArn": policy,
        "status": "VALID",
        "statusReason": "JobQueue Healthy",
        "priority": 1,
        "computeEnvironmentOrder": [],
        "serviceEnvironmentOrder": [{"order": 1, "serviceEnvironment": SE_ARN + "se"}],
        "jobQueueType": "SAGEMAKER_TRAINING",
        "tags": {},
        "jobStateTimeLimitActions": [],
    }


@pytest.mark.parametrize("priority, ok", [(0, True), (1000, True), (-1, False), (1001, False)])
def test_priority_range(batch, priority, ok):
    ce(batch)
    if ok:
        queue(batch, priority=priority)
        assert describe(batch)["priority"] == priority
    else:
        assert refused(batch, queue, batch=batch, priority=priority) == "priority must be between 0 and 1000"


def test_duplicate_name_and_name_pattern(batch):
    ce(batch)
    queue(batch)
    assert refused(batch, queue, batch=batch) == "Object already exists"
    message = refused(batch, queue, batch=batch, name="bad name")
    assert message.startswith(
        "Error executing request, Exception : jobQueueName should match valid pattern, RequestId: "
    )


def test_region_quota():
    with localbatch.patch(max_job_queues=2):
        batch = boto3.client("batch", region_name="us-east-1")
        ce(batch)
        queue(batch, "a")
        queue(batch, "b")
        assert refused(batch, queue, batch=batch, name="c") == "Exceeded the limit of 2 job queues"


def test_enum_checked_server_side(batch):
    ce(batch)
    assert refused(batch, queue, batch=batch, state="OPEN") == "state OPEN must be one of ENABLED | DISABLED"


# -- computeEnvironmentOrder ------------------------------------------------------


def test_at_most_three_compute_environments(batch):
    for name in "abcd":
        ce(batch, name)
    queue(batch, "three", computeEnvironmentOrder=order("a", "b", "c"))
    message = refused(batch, queue, batch=batch, computeEnvironmentOrder=order("a", "b", "c", "d"))
    assert message == "computeEnvironmentOrder can contain at most 3 compute environments"


def test_compute_environments_per_queue_is_configurable():
    with localbatch.patch(max_compute_environments_per_queue=1):
        batch = boto3.client("batch", region_name="us-east-1")
        ce(batch, "a")
        ce(batch, "b")
        message = refused(batch, queue, batch=batch, computeEnvironmentOrder=order("a", "b"))
        assert message == "computeEnvironmentOrder can contain at most 1 compute environments"


def test_unknown_compute_environment(batch):
    assert refused(batch, queue, batch=batch, computeEnvironmentOrder=order("nope")) == "nope does not exist"


def test_compute_environment_must_be_valid(slow):
    lb, batch = slow
    ce(batch)
    assert refused(batch, queue, batch=batch) == f"{CE_ARN}ce is not in VALID status"
    lb.advance(5)
    queue(batch)
    assert describe(batch)["status"] == "CREATING"


def test_order_values_and_environments_unique(batch):
    ce(batch, "a")
    ce(batch, "b")
    twice = [{"order": 1, "computeEnvironment": "a"}, {"order": 1, "computeEnvironment": "b"}]
    assert refused(batch, queue, batch=batch, computeEnvironmentOrder=twice) == (
        "computeEnvironmentOrder has order 1 more than once"
    )
    same = [{"order": 1, "computeEnvironment": "a"}, {"order": 2, "computeEnvironment": CE_ARN + "a"}]
    assert refused(batch, queue, batch=batch, computeEnvironmentOrder=same) == (
        f"{CE_ARN}a appears more than once in computeEnvironmentOrder"
    )


@pytest.mark.parametrize(
    "first, second, ok",
    [
        (EC2, SPOT, True),
        (FARGATE, FARGATE_SPOT, True),
        (EC2, FARGATE, False),
        (SPOT, FARGATE_SPOT, False),
    ],
)
def test_no_ec2_fargate_mix(batch, first, second, ok):
    ce(batch, "a", first)
    ce(batch, "b", second)
    if ok:
        queue(batch, computeEnvironmentOrder=order("a", "b"))
    else:
        message = refused(batch, queue, batch=batch, computeEnvironmentOrder=order("a", "b"))
        assert message.startswith("All of the compute environments must be either EC2 (EC2 or SPOT), Fargate")


def test_unmanaged_counts_as_ec2(batch):
    batch.create_compute_environment(computeEnvironmentName="u", type="UNMANAGED")
    ce(batch, "e")
    ce(batch, "f", FARGATE)
    queue(batch, "ok", computeEnvironmentOrder=order("u", "e"))
    assert refused(batch, queue, batch=batch, computeEnvironmentOrder=order("u", "f")).startswith("All of the")


def test_all_ecs_or_all_eks(batch):
    ce(batch, "ecs")
    ce(batch, "eks", eksConfiguration=EKS)
    message = refused(batch, queue, batch=batch, computeEnvironmentOrder=order("ecs", "eks"))
    assert message == "All of the compute environments must use ECS or all must use EKS; they can't be mixed"


# -- jobQueueType and the two kinds of order --------------------------------------------


@pytest.mark.parametrize(
    "resources, extra, expected",
    [(EC2, {}, "ECS"), (SPOT, {}, "ECS"), (FARGATE, {}, "ECS_FARGATE"), (EC2, {"eksConfiguration": EKS}, "EKS")],
)
def test_job_queue_type_derived_and_checked(batch, resources, extra, expected):
    ce(batch, "ce", resources, **extra)
    queue(batch, "derived")
    assert describe(batch, "derived")["jobQueueType"] == expected
    queue(batch, "given", jobQueueType=expected)
    assert describe(batch, "given")["jobQueueType"] == expected
    wrong = "ECS_FARGATE" if expected != "ECS_FARGATE" else "ECS"
    message = refused(batch, queue, batch=batch, name="wrong", jobQueueType=wrong)
    assert message == f"jobQueueType {wrong} doesn't match its environments, which make it {expected}"


def test_service_queue_must_be_sagemaker_training(batch):
    se(batch)
    message = refused(batch, queue, batch=batch, serviceEnvironmentOrder=service_order("se"), jobQueueType="ECS")
    assert message == "jobQueueType ECS doesn't match its environments, which make it SAGEMAKER_TRAINING"
    queue(batch, serviceEnvironmentOrder=service_order(SE_ARN + "se"), jobQueueType="SAGEMAKER_TRAINING")


def test_one_service_environment_per_queue(batch):
    se(batch, "a")
    se(batch, "b")
    two = [{"order": 1, "serviceEnvironment": "a"}, {"order": 2, "serviceEnvironment": "b"}]
    message = refused(batch, queue, batch=batch, serviceEnvironmentOrder=two)
    assert message == "serviceEnvironmentOrder can contain at most 1 service environment"


def test_unknown_service_environment(batch):
    assert refused(batch, queue, batch=batch, serviceEnvironmentOrder=service_order("nope")) == "nope does not exist"


def test_service_environment_must_be_valid(slow):
    _, batch = slow
    se(batch)
    message = refused(batch, queue, batch=batch, serviceEnvironmentOrder=service_order("se"))
    assert message == f"{SE_ARN}se is not in VALID status"


def test_orders_cannot_be_combined_and_one_is_needed(batch):
    ce(batch)
    se(batch)
    message = refused(
        batch, queue, batch=batch, computeEnvironmentOrder=order("ce"), serviceEnvironmentOrder=service_order("se")
    )
    assert message == "A job queue can't have both a serviceEnvironmentOrder and a computeEnvironmentOrder"
    message = refused(batch, batch.create_job_queue, jobQueueName="q", priority=1)
    assert message == "A job queue needs a computeEnvironmentOrder or a serviceEnvironmentOrder"
    message = refused(batch, batch.create_job_queue, jobQueueName="q", priority=1, computeEnvironmentOrder=[])
    assert message == "A job queue needs a computeEnvironmentOrder or a serviceEnvironmentOrder"


def test_num_instances_environment_may_serve_several_queues(batch):
    se(batch)
    queue(batch, "a", serviceEnvironmentOrder=service_order("se"))
    queue(batch, "b", serviceEnvironmentOrder=service_order("se"))


# -- scheduling policies and quota management ------------------------------------------


def test_fair_share_policy_and_unknown_policy(batch):
    ce(batch)
    policy = fair_policy(batch)
    queue(batch, schedulingPolicyArn=policy)
    assert describe(batch)["schedulingPolicyArn"] == policy
    assert refused(batch, queue, batch=batch, name="q2", schedulingPolicyArn=POLICY_ARN + "nope") == (
        f"{POLICY_ARN}nope does not exist"
    )


def test_policy_in_use_cannot_be_deleted(batch):
    ce(batch)
    policy = fair_policy(batch)
    queue(batch, schedulingPolicyArn=policy, state="DISABLED")
    assert refused(batch, batch.delete_scheduling_policy, arn=policy) == (
        "Cannot delete, found existing JobQueue relationship."
    )
    batch.delete_job_queue(jobQueue="q")
    batch.delete_scheduling_policy(arn=policy)


def test_quota_share_policy_only_on_sagemaker_queues(batch):
    ce(batch)
    message = refused(batch, queue, batch=batch, schedulingPolicyArn=quota_policy(batch))
    assert message == "A quota share scheduling policy can only be used by a SAGEMAKER_TRAINING job queue"


def test_quota_management_queue(batch):
    se(batch, "typed", BY_TYPE)
    policy = quota_policy(batch)
    queue(batch, "training", serviceEnvironmentOrder=service_order("typed"), schedulingPolicyArn=policy)
    found = describe(batch, "training")
    assert (found["jobQueueType"], found["schedulingPolicyArn"]) == ("SAGEMAKER_TRAINING", policy)


def test_quota_management_prerequisites(batch):
    se(batch, "typed", BY_TYPE)
    se(batch, "counted", NUM_INSTANCES)
    policy = quota_policy(batch)
    # 2: capacity by instance type, not NUM_INSTANCES.
    message = refused(
        batch, queue, batch=batch, serviceEnvironmentOrder=service_order("counted"), schedulingPolicyArn=policy
    )
    assert message.startswith("The service environment of a quota management job queue must express capacity limits")
    # 3: an instance-type environment needs a quota share policy (none, or fair share).
    for extra in ({}, {"schedulingPolicyArn": fair_policy(batch)}):
        message = refused(batch, queue, batch=batch, serviceEnvironmentOrder=service_order("typed"), **extra)
        assert message.startswith("A service environment with capacity limits by instance type can only be used")
    # 1: the environment serves no other queue.
    queue(batch, "first", serviceEnvironmentOrder=service_order("typed"), schedulingPolicyArn=policy)
    message = refused(
        batch,
        queue,
        batch=batch,
        name="second",
        serviceEnvironmentOrder=service_order("typed"),
        schedulingPolicyArn=policy,
    )
    assert message == f"{SE_ARN}typed is already connected to job queue {ARN}first"


# -- jobStateTimeLimitActions ---------------------------------------------------------


def action(seconds=600, act="CANCEL", reason="MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT"):
    return {"reason": reason, "state": "RUNNABLE", "maxTimeSeconds": seconds, "action": act}


@pytest.mark.parametrize("seconds, ok", [(600, True), (86400, True), (599, False), (86401, False)])
def test_time_limit_range(batch, seconds, ok):
    ce(batch)
    if ok:
        queue(batch, jobStateTimeLimitActions=[action(seconds)])
        assert describe(batch)["jobStateTimeLimitActions"] == [action(seconds)]
    else:
        message = refused(batch, queue, batch=batch, jobStateTimeLimitActions=[action(seconds)])
        assert message == "maxTimeSeconds must be between 600 and 86400"


def test_time_limit_action_by_queue_kind(batch):
    ce(batch)
    se(batch)
    message = refused(batch, queue, batch=batch, jobStateTimeLimitActions=[action(act="TERMINATE")])
    assert message == "action TERMINATE is not supported for ECS job queues; use CANCEL"
    sagemaker = {"serviceEnvironmentOrder": service_order("se")}
    message = refused(batch, queue, batch=batch, jobStateTimeLimitActions=[action()], **sagemaker)
    assert message == "action CANCEL is not supported for SAGEMAKER_TRAINING job queues; use TERMINATE"
    queue(batch, "sm", jobStateTimeLimitActions=[action(act="TERMINATE")], **sagemaker)


def test_time_limit_state_is_runnable_only(batch):
    ce(batch)
    bad = {**action(), "state": "RUNNING"}
    assert refused(batch, queue, batch=batch, jobStateTimeLimitActions=[bad]) == "state RUNNING must be one of RUNNABLE"


# -- UpdateJobQueue -------------------------------------------------------------------


def test_update_unknown_names_the_full_arn(batch):
    for given in ("nope", ARN + "nope"):
        assert refused(batch, batch.update_job_queue, jobQueue=given, priority=1) == f"{ARN}nope does not exist"


def test_update_priority_state_and_actions(batch):
    ce(batch)
    queue(batch)
    out = batch.update_job_queue(
        jobQueue=ARN + "q", priority=1000, state="DISABLED", jobStateTimeLimitActions=[action(900)]
    )
    assert (out["jobQueueName"], out["jobQueueArn"]) == ("q", ARN + "q")
    found = describe(batch)
    assert (found["priority"], found["state"], found["status"]) == (1000, "DISABLED", "VALID")
    assert found["jobStateTimeLimitActions"] == [action(900)]
    assert refused(batch, batch.update_job_queue, jobQueue="q", priority=1001) == "priority must be between 0 and 1000"
    message = refused(batch, batch.update_job_queue, jobQueue="q", jobStateTimeLimitActions=[action(act="TERMINATE")])
    assert "use CANCEL" in message
    batch.update_job_queue(jobQueue="q", jobStateTimeLimitActions=[])
    assert describe(batch)["jobStateTimeLimitActions"] == []


def test_update_compute_environment_order(batch):
    for name in "abc":
        ce(batch, name)
    ce(batch, "f", FARGATE)
    queue(batch, computeEnvironmentOrder=order("a"))
    batch.update_job_queue(
        jobQueue="q",
        computeEnvironmentOrder=[
            {"order": 3, "computeEnvironment": "b"},
            {"order": 1, "computeEnvironment": "c"},
        ],
    )
    assert describe(batch)["computeEnvironmentOrder"] == [
        {"order": 1, "computeEnvironment": CE_ARN + "c"},
        {"order": 3, "computeEnvironment": CE_ARN + "b"},
    ]
    message = refused(batch, batch.update_job_queue, jobQueue="q", computeEnvironmentOrder=order("f"))
    assert message == "jobQueueType ECS doesn't match its environments, which make it ECS_FARGATE"
    message = refused(batch, batch.update_job_queue, jobQueue="q", computeEnvironmentOrder=order("a", "f"))
    assert message.startswith("All of the compute environments")
    message = refused(batch, batch.update_job_queue, jobQueue="q", computeEnvironmentOrder=order("a", "b", "c", "f"))
    assert message == "computeEnvironmentOrder can contain at most 3 compute environments"
    # Detaching every environment is allowed (the queue keeps its type).
    batch.update_job_queue(jobQueue="q", computeEnvironmentOrder=[])
    found = describe(batch)
    assert (found["computeEnvironmentOrder"], found["jobQueueType"]) == ([], "ECS")


def test_update_only_new_compute_environments_must_be_valid(slow):
    lb, batch = slow
    ce(batch, "a")
    ce(batch, "b")
    lb.advance(5)
    queue(batch, computeEnvironmentOrder=order("a"))
    lb.advance(5)
    batch.update_compute_environment(computeEnvironment="a", state="DISABLED")
    batch.update_compute_environment(computeEnvironment="b", state="DISABLED")
    # a is UPDATING but already attached; b is UPDATING and new.
    message = refused(batch, batch.update_job_queue, jobQueue="q", computeEnvironmentOrder=order("a", "b"))
    assert message == f"{CE_ARN}b is not in VALID status"
    batch.update_job_queue(jobQueue="q", computeEnvironmentOrder=[{"order": 9, "computeEnvironment": "a"}])
    assert describe(batch)["status"] == "UPDATING"
    lb.advance(5)
    assert describe(batch)["computeEnvironmentOrder"] == [{"order": 9, "computeEnvironment": CE_ARN + "a"}]


def test_update_cannot_switch_kind_of_order(batch):
    ce(batch)
    se(batch)
    queue(batch, "cq")
    queue(batch, "sq", serviceEnvironmentOrder=service_order("se"))
    message = refused(batch, batch.update_job_queue, jobQueue="cq", serviceEnvironmentOrder=service_order("se"))
    assert message == "A job queue can't have both a serviceEnvironmentOrder and a computeEnvironmentOrder"
    message = refused(
        batch,
        batch.update_job_queue,
        jobQueue="cq",
        computeEnvironmentOrder=[],
        serviceEnvironmentOrder=service_order("se"),
    )
    assert message == "jobQueueType ECS doesn't match its environments, which make it SAGEMAKER_TRAINING"
    message = refused(batch, batch.update_job_queue, jobQueue="sq", computeEnvironmentOrder=order("ce"))
    assert message == "A job queue can't have both a serviceEnvironmentOrder and a computeEnvironmentOrder"
    message = refused(batch, batch.update_job_queue, jobQueue="sq", serviceEnvironmentOrder=service_order("se") * 2)
    assert message == "serviceEnvironmentOrder can contain at most 1 service environment"
    batch.update_job_queue(jobQueue="sq", serviceEnvironmentOrder=[])
    assert "serviceEnvironmentOrder" not in describe(batch, "sq")


def test_update_service_environment_order(batch):
    se(batch, "a")
    se(batch, "b")
    queue(batch, serviceEnvironmentOrder=service_order("a"))
    batch.update_job_queue(jobQueue="q", serviceEnvironmentOrder=service_order("b"))
    assert describe(batch)["serviceEnvironmentOrder"] == [{"order": 1, "serviceEnvironment": SE_ARN + "b"}]


def test_update_scheduling_policy_rules(batch):
    ce(batch)
    fair = fair_policy(batch, "fair")
    other = fair_policy(batch, "other")
    queue(batch, "fifo")
    queue(batch, "fs", schedulingPolicyArn=fair)
    fixed = "Scheduling policy cannot be added to or removed from a job queue after creation"
    assert refused(batch, batch.update_job_queue, jobQueue="fifo", schedulingPolicyArn=fair) == fixed
    assert refused(batch, batch.update_job_queue, jobQueue="fs", schedulingPolicyArn="") == fixed
    batch.update_job_queue(jobQueue="fifo", schedulingPolicyArn="")  # nothing added: a no-op
    assert "schedulingPolicyArn" not in describe(batch, "fifo")
    batch.update_job_queue(jobQueue="fs", schedulingPolicyArn=other)
    assert describe(batch, "fs")["schedulingPolicyArn"] == other
    assert refused(batch, batch.update_job_queue, jobQueue="fs", schedulingPolicyArn=POLICY_ARN + "nope") == (
        f"{POLICY_ARN}nope does not exist"
    )


def test_update_scheduling_policy_cannot_switch_kind(batch):
    se(batch, "counted")
    se(batch, "typed", BY_TYPE)
    fair = fair_policy(batch)
    quota_a = quota_policy(batch, "qa")
    quota_b = quota_policy(batch, "qb")
    queue(batch, "fs", serviceEnvironmentOrder=service_order("counted"), schedulingPolicyArn=fair)
    queue(batch, "qm", serviceEnvironmentOrder=service_order("typed"), schedulingPolicyArn=quota_a)
    fixed = "Scheduling policy cannot be added to or removed from a job queue after creation"
    assert refused(batch, batch.update_job_queue, jobQueue="fs", schedulingPolicyArn=quota_a) == fixed
    assert refused(batch, batch.update_job_queue, jobQueue="qm", schedulingPolicyArn=fair) == fixed
    batch.update_job_queue(jobQueue="qm", schedulingPolicyArn=quota_b)
    assert describe(batch, "qm")["schedulingPolicyArn"] == quota_b
    # The quota queue keeps an instance-type environment to itself.
    message = refused(batch, batch.update_job_queue, jobQueue="fs", serviceEnvironmentOrder=service_order("typed"))
    assert message.startswith("A service environment with capacity limits by instance type")
    message = refused(batch, batch.update_job_queue, jobQueue="qm", serviceEnvironmentOrder=service_order("counted"))
    assert message.startswith("The service environment of a quota management job queue")


def test_update_refused_while_busy(slow):
    lb, batch = slow
    ce(batch)
    lb.advance(5)
    queue(batch, state="DISABLED")
    assert (
        refused(batch, batch.update_job_queue, jobQueue="q", priority=2) == "Cannot update, resource is being modified"
    )
    lb.advance(5)
    batch.update_job_queue(jobQueue="q", priority=2)
    assert describe(batch)["status"] == "UPDATING" and "statusReason" not in describe(batch)
    assert (
        refused(batch, batch.update_job_queue, jobQueue="q", priority=3) == "Cannot update, resource is being modified"
    )
    lb.advance(5)
    found = describe(batch)
    assert (found["status"], found["statusReason"], found["priority"]) == ("VALID", "JobQueue Healthy", 2)


def test_failed_update_changes_nothing(batch):
    ce(batch)
    queue(batch)
    refused(batch, batch.update_job_queue, jobQueue="q", state="DISABLED", priority=5000)
    found = describe(batch)
    assert (found["state"], found["priority"], found["status"]) == ("ENABLED", 1, "VALID")


# -- DeleteJobQueue -------------------------------------------------------------------


def test_delete_needs_disabled(batch):
    ce(batch)
    queue(batch)
    assert refused(batch, batch.delete_job_queue, jobQueue="q") == "Cannot delete, job queue must be in DISABLED state"
    batch.update_job_queue(jobQueue="q", state="DISABLED")
    batch.delete_job_queue(jobQueue=ARN + "q")
    assert batch.describe_job_queues()["jobQueues"] == []
    # The name is free again, and compute environments never had to be detached.
    queue(batch)


def test_delete_unknown(batch):
    assert refused(batch, batch.delete_job_queue, jobQueue="nope") == f"{ARN}nope does not exist"


def test_deleting_then_gone(slow):
    lb, batch = slow
    ce(batch)
    lb.advance(5)
    queue(batch, state="DISABLED")
    assert refused(batch, batch.delete_job_queue, jobQueue="q") == "Cannot delete, resource is being modified"
    batch.update_compute_environment(computeEnvironment="ce", state="DISABLED")
    lb.advance(5)
    batch.delete_job_queue(jobQueue="q")
    assert describe(batch)["status"] == "DELETING"
    batch.delete_job_queue(jobQueue="q")  # again: nothing more to do
    assert refused(batch, batch.update_job_queue, jobQueue="q", priority=2) == f"{ARN}q does not exist"
    assert refused(batch, queue, batch=batch) == "Object already exists"
    # Still attached until it is gone.
    assert refused(batch, batch.delete_compute_environment, computeEnvironment="ce") == (
        "Cannot delete, found existing JobQueue relationship."
    )
    lb.advance(5)
    assert batch.describe_job_queues(jobQueues=["q"])["jobQueues"] == []
    batch.delete_compute_environment(computeEnvironment="ce")


def test_delete_removes_tags(batch):
    ce(batch)
    queue(batch, state="DISABLED", tags={"a": "1"})
    batch.delete_job_queue(jobQueue="q")
    assert refused(batch, batch.list_tags_for_resource, resourceArn=ARN + "q") == f"{ARN}q does not exist"


# -- DescribeJobQueues ---------------------------------------------------------------


def test_describe_unknown_omitted_creation_order(batch):
    ce(batch)
    for name in ("a", "b", "c"):
        queue(batch, name)
    got = batch.describe_job_queues(jobQueues=["c", "nope", ARN + "a", "c"])["jobQueues"]
    assert [q["jobQueueName"] for q in got] == ["a", "c"]
    assert batch.describe_job_queues(jobQueues=["nope"])["jobQueues"] == []


def test_describe_limits_and_pagination(batch):
    ce(batch)
    for i in range(5):
        queue(batch, f"q{i}")
    assert (
        refused(batch, batch.describe_job_queues, jobQueues=["q0"] * 101) == "jobQueues must contain at most 100 items"
    )
    for bad in (0, 101):
        assert refused(batch, batch.describe_job_queues, maxResults=bad) == "maxResults must be between 1 and 100"
    assert refused(batch, batch.describe_job_queues, nextToken="garbage") == "Invalid nextToken"
    page = batch.describe_job_queues(maxResults=2)
    assert len(page["jobQueues"]) == 2 and "nextToken" in page
    pages = batch.get_paginator("describe_job_queues").paginate(PaginationConfig={"PageSize": 2})
    assert [q["jobQueueName"] for page in pages for q in page["jobQueues"]] == [f"q{i}" for i in range(5)]
    pages = batch.get_paginator("describe_job_queues").paginate(
        jobQueues=["q4", "q0", "q2"], PaginationConfig={"PageSize": 1}
    )
    assert [q["jobQueueName"] for page in pages for q in page["jobQueues"]] == ["q0", "q2", "q4"]


# -- tags ------------------------------------------------------------------------------


def test_tags_round_trip(batch):
    ce(batch)
    arn = queue(batch, tags={"a": "1"})["jobQueueArn"]
    batch.tag_resource(resourceArn=arn, tags={"b": "2"})
    batch.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}
    assert describe(batch)["tags"] == {"b": "2"}
    assert "aws:" in refused(batch, queue, batch=batch, name="t", tags={"aws:x": "1"})
