"""Quota shares through a real boto3 client (spec §1.7, §7 row 27)."""

from __future__ import annotations

import pytest

from tests.helpers import client_error

QUEUE_ARN = "arn:aws:batch:us-east-1:123456789012:job-queue/training"
SHARING = {"strategy": "LEND_AND_BORROW", "borrowLimit": 200}
PREEMPTION = {"inSharePreemption": "ENABLED"}


def make_quota_queue(batch, lb) -> str:
    """A quota-management queue: instance-type SE, quota-share policy, SAGEMAKER_TRAINING."""
    batch.create_service_environment(
        serviceEnvironmentName="gpus",
        serviceEnvironmentType="SAGEMAKER_TRAINING",
        capacityLimits=[
            {"maxCapacity": 3, "capacityUnit": "ml.g5.xlarge"},
            {"maxCapacity": 8, "capacityUnit": "ml.m5.large"},
        ],
    )
    lb.run_until_idle()
    policy = batch.create_scheduling_policy(name="quota", quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"})
    batch.create_job_queue(
        jobQueueName="training",
        priority=1,
        jobQueueType="SAGEMAKER_TRAINING",
        schedulingPolicyArn=policy["arn"],
        serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": "gpus"}],
    )
    lb.run_until_idle()
    return "training"


@pytest.fixture
def queue(batch, lb):
    return make_quota_queue(batch, lb)


def create(batch, name="team-a", **overrides):
    params = dict(
        quotaShareName=name,
        jobQueue="training",
        capacityLimits=[{"maxCapacity": 1, "capacityUnit": "ml.g5.xlarge"}],
        resourceSharingConfiguration=SHARING,
        preemptionConfiguration=PREEMPTION,
    )
    params.update(overrides)
    return batch.create_quota_share(**params)


def test_create_describe_list(batch, queue):
    out = create(batch, tags={"team": "a"})
    assert out["quotaShareArn"] == QUEUE_ARN + "/quota-share/team-a"
    share = batch.describe_quota_share(quotaShareArn=out["quotaShareArn"])
    assert share["status"] == "VALID" and share["state"] == "ENABLED"
    assert share["jobQueueArn"] == QUEUE_ARN
    assert share["resourceSharingConfiguration"] == SHARING
    assert share["tags"] == {"team": "a"}
    (listed,) = batch.list_quota_shares(jobQueue=QUEUE_ARN)["quotaShares"]
    assert "tags" not in listed and listed["quotaShareName"] == "team-a"


def test_lend_and_borrow_defaults_to_unlimited(batch, queue):
    arn = create(batch, resourceSharingConfiguration={"strategy": "LEND_AND_BORROW"})["quotaShareArn"]
    sharing = batch.describe_quota_share(quotaShareArn=arn)["resourceSharingConfiguration"]
    assert sharing == {"strategy": "LEND_AND_BORROW", "borrowLimit": -1}


def test_duplicate_name_in_queue(batch, queue):
    create(batch)
    with pytest.raises(batch.exceptions.ClientException) as e:
        create(batch)
    assert "already exists" in client_error(e)


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"capacityLimits": []}, "between 1 and 5"),
        ({"capacityLimits": [{"maxCapacity": 1, "capacityUnit": f"ml.x{i}"} for i in range(6)]}, "between 1 and 5"),
        ({"capacityLimits": [{"maxCapacity": 1, "capacityUnit": "ml.p4d.24xlarge"}]}, "not a capacity unit"),
        ({"capacityLimits": [{"maxCapacity": -1, "capacityUnit": "ml.g5.xlarge"}]}, "maxCapacity"),
        (
            {"capacityLimits": [{"maxCapacity": 1, "capacityUnit": "ml.g5.xlarge"}] * 2},
            "more than once",
        ),
        ({"resourceSharingConfiguration": {"strategy": "LEND", "borrowLimit": 10}}, "LEND_AND_BORROW"),
        ({"resourceSharingConfiguration": {"strategy": "RESERVE", "borrowLimit": -1}}, "LEND_AND_BORROW"),
        ({"resourceSharingConfiguration": {"strategy": "LEND_AND_BORROW", "borrowLimit": -2}}, "borrowLimit"),
        ({"resourceSharingConfiguration": {"strategy": "SHARE"}}, "strategy SHARE must be one of"),
        ({"preemptionConfiguration": {"inSharePreemption": "MAYBE"}}, "inSharePreemption MAYBE must be one of"),
        ({"quotaShareName": "no spaces"}, "should match valid pattern"),
    ],
)
def test_validation(batch, queue, overrides, fragment):
    with pytest.raises(batch.exceptions.ClientException) as e:
        create(batch, **overrides)
    assert fragment in client_error(e)
    assert batch.list_quota_shares(jobQueue="training")["quotaShares"] == []


def test_queue_must_be_quota_managed(batch, queue):
    batch.create_service_environment(
        serviceEnvironmentName="plain",
        serviceEnvironmentType="SAGEMAKER_TRAINING",
        capacityLimits=[{"maxCapacity": 5, "capacityUnit": "NUM_INSTANCES"}],
    )
    batch.create_job_queue(
        jobQueueName="fifo",
        priority=1,
        jobQueueType="SAGEMAKER_TRAINING",
        serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": "plain"}],
    )
    with pytest.raises(batch.exceptions.ClientException) as e:
        create(batch, jobQueue="fifo")
    assert "quota share scheduling policy" in client_error(e)
    with pytest.raises(batch.exceptions.ClientException) as e:
        create(batch, jobQueue="nope")
    assert client_error(e) == "JobQueue nope not found."


def test_at_most_20_per_queue(batch, queue):
    for i in range(20):
        create(batch, name=f"s{i}")
    with pytest.raises(batch.exceptions.ClientException) as e:
        create(batch, name="s20")
    assert "limit of 20" in client_error(e)


def test_update(batch, queue):
    arn = create(batch)["quotaShareArn"]
    out = batch.update_quota_share(
        quotaShareArn=arn,
        capacityLimits=[{"maxCapacity": 2, "capacityUnit": "ml.m5.large"}],
        resourceSharingConfiguration={"strategy": "RESERVE"},
        state="DISABLED",
    )
    assert out["quotaShareArn"] == arn
    share = batch.describe_quota_share(quotaShareArn=arn)
    assert share["capacityLimits"] == [{"maxCapacity": 2, "capacityUnit": "ml.m5.large"}]
    assert share["resourceSharingConfiguration"] == {"strategy": "RESERVE"}
    assert share["state"] == "DISABLED" and share["status"] == "VALID"
    with pytest.raises(batch.exceptions.ClientException):
        batch.update_quota_share(quotaShareArn=arn, resourceSharingConfiguration={"strategy": "LEND", "borrowLimit": 5})
    assert batch.describe_quota_share(quotaShareArn=arn)["resourceSharingConfiguration"] == {"strategy": "RESERVE"}


def test_delete_only_when_disabled(batch, queue):
    arn = create(batch)["quotaShareArn"]
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.delete_quota_share(quotaShareArn=arn)
    assert client_error(e) == "Cannot delete, quota share must be in DISABLED state"
    batch.update_quota_share(quotaShareArn=arn, state="DISABLED")
    batch.delete_quota_share(quotaShareArn=arn)
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.describe_quota_share(quotaShareArn=arn)
    assert client_error(e) == f"{arn} does not exist"
    create(batch)  # the name is free again


def test_list_pagination(batch, queue):
    for i in range(5):
        create(batch, name=f"s{i}")
    first = batch.list_quota_shares(jobQueue="training", maxResults=2)
    assert [s["quotaShareName"] for s in first["quotaShares"]] == ["s0", "s1"]
    pages = batch.get_paginator("list_quota_shares").paginate(jobQueue="training", PaginationConfig={"PageSize": 2})
    assert [s["quotaShareName"] for p in pages for s in p["quotaShares"]] == [f"s{i}" for i in range(5)]
    for bad in (0, 101):
        with pytest.raises(batch.exceptions.ClientException):
            batch.list_quota_shares(jobQueue="training", maxResults=bad)


def test_tags_through_tag_resource(batch, queue):
    arn = create(batch)["quotaShareArn"]
    batch.tag_resource(resourceArn=arn, tags={"cost-center": "42"})
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"cost-center": "42"}
    assert batch.describe_quota_share(quotaShareArn=arn)["tags"] == {"cost-center": "42"}



def test_status_follows_the_engine_clock():
    import boto3
    from freezegun import freeze_time

    import localbatch

    with freeze_time("2026-03-25 12:00:00"), localbatch.patch(resource_latency=30) as lb:
        batch = boto3.client("batch")
        make_quota_queue(batch, lb)
        arn = create(batch)["quotaShareArn"]
        assert batch.describe_quota_share(quotaShareArn=arn)["status"] == "CREATING"
        lb.advance(29.999)
        assert batch.describe_quota_share(quotaShareArn=arn)["status"] == "CREATING"
        lb.advance(0.001)
        assert batch.describe_quota_share(quotaShareArn=arn)["status"] == "VALID"
        batch.update_quota_share(quotaShareArn=arn, state="DISABLED")
        assert batch.describe_quota_share(quotaShareArn=arn)["status"] == "UPDATING"
        lb.advance(30)
        batch.delete_quota_share(quotaShareArn=arn)
        with pytest.raises(batch.exceptions.ClientException):
            batch.describe_quota_share(quotaShareArn=arn)  # DELETING is gone for describe
