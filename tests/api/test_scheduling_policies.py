"""Scheduling policies through a real boto3 client (spec §1.5, §7 row 26)."""

from __future__ import annotations

import pytest

from tests.helpers import client_error

ARN = "arn:aws:batch:us-east-1:123456789012:scheduling-policy/"


def test_create_describe_list_delete(batch):
    out = batch.create_scheduling_policy(
        name="fair",
        fairsharePolicy={"shareDecaySeconds": 3600, "shareDistribution": [{"shareIdentifier": "a", "weightFactor": 0.5}]},
        tags={"team": "x"},
    )
    assert out["arn"] == ARN + "fair"
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    (policy,) = batch.describe_scheduling_policies(arns=[out["arn"]])["schedulingPolicies"]
    assert policy == {
        "name": "fair",
        "arn": ARN + "fair",
        "fairsharePolicy": {
            "shareDecaySeconds": 3600,
            "computeReservation": 0,
            "shareDistribution": [{"shareIdentifier": "a", "weightFactor": 0.5}],
        },
        "tags": {"team": "x"},
    }
    assert batch.list_scheduling_policies()["schedulingPolicies"] == [{"arn": ARN + "fair"}]
    batch.delete_scheduling_policy(arn=out["arn"])
    assert batch.describe_scheduling_policies(arns=[out["arn"]])["schedulingPolicies"] == []


def test_duplicate_name_is_object_already_exists(batch):
    batch.create_scheduling_policy(name="p")
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.create_scheduling_policy(name="p")
    assert client_error(e) == "Object already exists"


def test_quota_share_policy_and_no_type_switch(batch):
    q = batch.create_scheduling_policy(name="q", quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"})
    f = batch.create_scheduling_policy(name="f")
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.update_scheduling_policy(arn=q["arn"], fairsharePolicy={"shareDecaySeconds": 10})
    assert "cannot be changed" in client_error(e)
    with pytest.raises(batch.exceptions.ClientException):
        batch.update_scheduling_policy(arn=f["arn"], quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"})
    batch.update_scheduling_policy(arn=f["arn"], fairsharePolicy={"computeReservation": 50})
    (policy,) = batch.describe_scheduling_policies(arns=[f["arn"]])["schedulingPolicies"]
    assert policy["fairsharePolicy"]["computeReservation"] == 50


def test_both_policy_kinds_refused(batch):
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.create_scheduling_policy(
            name="both", fairsharePolicy={}, quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"}
        )
    assert "not both" in client_error(e)
    assert batch.list_scheduling_policies()["schedulingPolicies"] == []


@pytest.mark.parametrize(
    "fairshare, fragment",
    [
        ({"shareDecaySeconds": 604801}, "shareDecaySeconds must be between 0 and 604800"),
        ({"shareDecaySeconds": -1}, "shareDecaySeconds must be between 0 and 604800"),
        ({"computeReservation": 100}, "computeReservation must be between 0 and 99"),
        ({"shareDistribution": [{"shareIdentifier": "a", "weightFactor": 0.00001}]}, "weightFactor"),
        ({"shareDistribution": [{"shareIdentifier": "a", "weightFactor": 1000.0}]}, "weightFactor"),
        ({"shareDistribution": [{"shareIdentifier": "a-b"}]}, "alphanumeric"),
        ({"shareDistribution": [{"shareIdentifier": "x" * 256}]}, "alphanumeric"),
        ({"shareDistribution": [{"shareIdentifier": "UserA*"}, {"shareIdentifier": "UserA1"}]}, "overlaps"),
        ({"shareDistribution": [{"shareIdentifier": "u"}, {"shareIdentifier": "u"}]}, "overlaps"),
    ],
)
def test_fairshare_limits(batch, fairshare, fragment):
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.create_scheduling_policy(name="p", fairsharePolicy=fairshare)
    assert fragment in client_error(e)


def test_name_pattern(batch):
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.create_scheduling_policy(name="bad name")
    message = client_error(e)
    assert message.startswith("Error executing request, Exception : name should match valid pattern, RequestId: ")


def test_enum_checked_server_side(batch):
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.create_scheduling_policy(name="q", quotaSharePolicy={"idleResourceAssignmentStrategy": "LIFO"})
    assert client_error(e) == "idleResourceAssignmentStrategy LIFO must be one of FIFO"


def test_describe_omits_unknown_and_caps_at_100(batch):
    p = batch.create_scheduling_policy(name="p")["arn"]
    got = batch.describe_scheduling_policies(arns=[ARN + "nope", p, p])["schedulingPolicies"]
    assert [x["arn"] for x in got] == [p]
    with pytest.raises(batch.exceptions.ClientException):
        batch.describe_scheduling_policies(arns=[p] * 101)


def test_list_pagination_every_item_once(batch):
    for i in range(7):
        batch.create_scheduling_policy(name=f"p{i}")
    page = batch.list_scheduling_policies(maxResults=3)
    assert len(page["schedulingPolicies"]) == 3 and "nextToken" in page
    pages = batch.get_paginator("list_scheduling_policies").paginate(PaginationConfig={"PageSize": 2})
    arns = [p["arn"] for page in pages for p in page["schedulingPolicies"]]
    assert arns == [ARN + f"p{i}" for i in range(7)]
    for bad in (0, 101):
        with pytest.raises(batch.exceptions.ClientException):
            batch.list_scheduling_policies(maxResults=bad)
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.list_scheduling_policies(nextToken="garbage")
    assert client_error(e) == "Invalid nextToken"


def test_tags_round_trip(batch):
    arn = batch.create_scheduling_policy(name="p", tags={"a": "1"})["arn"]
    batch.tag_resource(resourceArn=arn, tags={"b": "2"})
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "1", "b": "2"}
    batch.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}
    (policy,) = batch.describe_scheduling_policies(arns=[arn])["schedulingPolicies"]
    assert policy["tags"] == {"b": "2"}
