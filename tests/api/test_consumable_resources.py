"""Consumable resources through a real boto3 client (spec §1.8, §3.4, §6.3, §6.5)."""

from __future__ import annotations

import datetime

import boto3
import freezegun
import pytest
import time_machine

import localbatch
from localbatch.api.consumable_resources import find_consumable_resource, lock_units, release_units
from localbatch.errors import BatchClientError
from tests.helpers import client_error

ARN = "arn:aws:batch:us-east-1:123456789012:consumable-resource/"
EIGHT_HOURS = 8 * 3600
NAME_FILTER = "CONSUMABLE_RESOURCE_NAME"


def describe(batch, name: str) -> dict:
    out = batch.describe_consumable_resource(consumableResource=name)
    out.pop("ResponseMetadata")
    return out


def update(batch, operation: str, quantity: int, name: str = "r") -> dict:
    return batch.update_consumable_resource(consumableResource=name, operation=operation, quantity=quantity)


def quantities(batch, name: str) -> tuple[int, int, int]:
    out = describe(batch, name)
    return out["totalQuantity"], out["inUseQuantity"], out["availableQuantity"]


def test_create_describe_list_delete(batch, lb):
    before = lb.now_ms
    out = batch.create_consumable_resource(
        consumableResourceName="licenses", totalQuantity=10, resourceType="REPLENISHABLE", tags={"team": "x"}
    )
    assert out["consumableResourceName"] == "licenses"
    assert out["consumableResourceArn"] == ARN + "licenses"
    described = describe(batch, "licenses")
    assert before <= described.pop("createdAt") <= lb.now_ms
    assert described == {
        "consumableResourceName": "licenses",
        "consumableResourceArn": ARN + "licenses",
        "totalQuantity": 10,
        "inUseQuantity": 0,
        "availableQuantity": 10,
        "resourceType": "REPLENISHABLE",
        "tags": {"team": "x"},
    }
    assert batch.list_consumable_resources()["consumableResources"] == [
        {
            "consumableResourceArn": ARN + "licenses",
            "consumableResourceName": "licenses",
            "totalQuantity": 10,
            "inUseQuantity": 0,
            "resourceType": "REPLENISHABLE",
        }
    ]
    batch.delete_consumable_resource(consumableResource=ARN + "licenses")
    assert batch.list_consumable_resources()["consumableResources"] == []
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.describe_consumable_resource(consumableResource="licenses")
    assert client_error(e) == "licenses does not exist"


def test_defaults_are_zero_and_replenishable(batch):
    batch.create_consumable_resource(consumableResourceName="r")
    out = describe(batch, "r")
    assert (out["totalQuantity"], out["inUseQuantity"], out["availableQuantity"]) == (0, 0, 0)
    assert out["resourceType"] == "REPLENISHABLE"
    assert out["tags"] == {}


def test_name_or_arn_accepted_everywhere(batch):
    batch.create_consumable_resource(consumableResourceName="r", totalQuantity=1)
    assert describe(batch, ARN + "r")["consumableResourceName"] == "r"
    out = batch.update_consumable_resource(consumableResource=ARN + "r", operation="ADD", quantity=1)
    assert out["totalQuantity"] == 2
    batch.delete_consumable_resource(consumableResource="r")
    assert batch.list_consumable_resources()["consumableResources"] == []


def test_duplicate_name_is_object_already_exists(batch):
    batch.create_consumable_resource(consumableResourceName="r")
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.create_consumable_resource(consumableResourceName="r", totalQuantity=3)
    assert client_error(e) == "Object already exists"
    assert describe(batch, "r")["totalQuantity"] == 0


def test_name_reusable_after_delete(batch):
    batch.create_consumable_resource(consumableResourceName="r", totalQuantity=1)
    batch.delete_consumable_resource(consumableResource="r")
    batch.create_consumable_resource(consumableResourceName="r", totalQuantity=7)
    assert describe(batch, "r")["totalQuantity"] == 7


def test_name_pattern(batch):
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.create_consumable_resource(consumableResourceName="bad name")
    assert client_error(e).startswith(
        "Error executing request, Exception : consumableResourceName should match valid pattern, RequestId: "
    )
    with pytest.raises(batch.exceptions.ClientException):
        batch.create_consumable_resource(consumableResourceName="x" * 129)
    batch.create_consumable_resource(consumableResourceName="x" * 128)


def test_total_quantity_must_be_non_negative(batch):
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.create_consumable_resource(consumableResourceName="r", totalQuantity=-1)
    assert client_error(e) == "totalQuantity must be greater than or equal to 0"
    assert batch.list_consumable_resources()["consumableResources"] == []


def test_resource_type_is_checked(batch):
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.create_consumable_resource(consumableResourceName="r", resourceType="REUSABLE")
    assert client_error(e) == "resourceType REUSABLE must be one of REPLENISHABLE | NON_REPLENISHABLE"
    batch.create_consumable_resource(consumableResourceName="r", resourceType="NON_REPLENISHABLE")
    assert describe(batch, "r")["resourceType"] == "NON_REPLENISHABLE"


@pytest.mark.parametrize(
    "tags, fragment",
    [
        ({"aws:owner": "x"}, "reserved"),
        ({"k" * 129: "v"}, "tags must be at most 128 characters long"),
        ({"k": "v" * 257}, "tags must be at most 256 characters long"),
        ({f"k{i}": "v" for i in range(51)}, "tags must contain at most 50 entries"),
    ],
)
def test_tags_are_checked_at_create(batch, tags, fragment):
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.create_consumable_resource(consumableResourceName="r", tags=tags)
    assert fragment in client_error(e)
    assert batch.list_consumable_resources()["consumableResources"] == []


def test_tags_round_trip(batch):
    arn = batch.create_consumable_resource(consumableResourceName="r", tags={"a": "1"})["consumableResourceArn"]
    batch.tag_resource(resourceArn=arn, tags={"b": "2"})
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "1", "b": "2"}
    batch.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert describe(batch, "r")["tags"] == {"b": "2"}


def test_quota_of_consumable_resources():
    with localbatch.patch(max_consumable_resources=2):
        batch = boto3.client("batch", region_name="us-east-1")
        batch.create_consumable_resource(consumableResourceName="a")
        batch.create_consumable_resource(consumableResourceName="b")
        with pytest.raises(batch.exceptions.ClientException) as e:
            batch.create_consumable_resource(consumableResourceName="c")
        assert client_error(e) == "Exceeded the limit of 2 consumable resources"
        batch.delete_consumable_resource(consumableResource="a")
        batch.create_consumable_resource(consumableResourceName="c")


# -- UpdateConsumableResource ---------------------------------------------------


def test_update_set_add_remove(batch):
    batch.create_consumable_resource(consumableResourceName="r", totalQuantity=5)
    out = batch.update_consumable_resource(consumableResource="r", operation="ADD", quantity=3)
    assert (out["consumableResourceName"], out["consumableResourceArn"], out["totalQuantity"]) == ("r", ARN + "r", 8)
    assert update(batch, "REMOVE", 6)["totalQuantity"] == 2
    assert update(batch, "SET", 20)["totalQuantity"] == 20
    assert update(batch, "SET", 0)["totalQuantity"] == 0
    assert quantities(batch, "r") == (0, 0, 0)


def test_update_without_operation_sets(batch):
    batch.create_consumable_resource(consumableResourceName="r", totalQuantity=5)
    assert batch.update_consumable_resource(consumableResource="r", quantity=9)["totalQuantity"] == 9


def test_update_without_quantity_changes_nothing(batch):
    batch.create_consumable_resource(consumableResourceName="r", totalQuantity=5)
    assert batch.update_consumable_resource(consumableResource="r", operation="ADD")["totalQuantity"] == 5
    assert quantities(batch, "r") == (5, 0, 5)


def test_update_quantity_must_be_non_negative(batch):
    batch.create_consumable_resource(consumableResourceName="r", totalQuantity=5)
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.update_consumable_resource(consumableResource="r", operation="ADD", quantity=-1)
    assert client_error(e) == "quantity must be greater than or equal to 0"
    assert quantities(batch, "r") == (5, 0, 5)


def test_update_operation_is_checked(batch):
    batch.create_consumable_resource(consumableResourceName="r", totalQuantity=5)
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.update_consumable_resource(consumableResource="r", operation="add", quantity=1)
    assert client_error(e) == "operation add must be one of SET | ADD | REMOVE"


def test_remove_cannot_go_below_zero(batch):
    batch.create_consumable_resource(consumableResourceName="r", totalQuantity=2)
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.update_consumable_resource(consumableResource="r", operation="REMOVE", quantity=3)
    assert client_error(e) == "Cannot reduce totalQuantity of consumable resource r to -1: 0 units are in use"
    assert quantities(batch, "r") == (2, 0, 2)


def test_remove_or_set_below_in_use_is_refused(batch, lb):
    batch.create_consumable_resource(consumableResourceName="r", totalQuantity=10)
    backend = lb.backend()
    lock_units(backend, find_consumable_resource(backend, "r"), 4)
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.update_consumable_resource(consumableResource="r", operation="REMOVE", quantity=7)
    assert client_error(e) == "Cannot reduce totalQuantity of consumable resource r to 3: 4 units are in use"
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.update_consumable_resource(consumableResource="r", operation="SET", quantity=3)
    assert "4 units are in use" in client_error(e)
    assert quantities(batch, "r") == (10, 4, 6)
    assert update(batch, "REMOVE", 6)["totalQuantity"] == 4
    assert quantities(batch, "r") == (4, 4, 0)


def test_client_token_applies_an_update_once(batch):
    batch.create_consumable_resource(consumableResourceName="r", totalQuantity=1)
    first = batch.update_consumable_resource(consumableResource="r", operation="ADD", quantity=5, clientToken="t1")
    second = batch.update_consumable_resource(consumableResource="r", operation="ADD", quantity=5, clientToken="t1")
    assert first["totalQuantity"] == second["totalQuantity"] == 6
    assert second["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert quantities(batch, "r") == (6, 0, 6)


def test_client_token_matches_name_and_arn_as_one_request(batch):
    batch.create_consumable_resource(consumableResourceName="r", totalQuantity=1)
    batch.update_consumable_resource(consumableResource="r", operation="ADD", quantity=5, clientToken="t1")
    batch.update_consumable_resource(consumableResource=ARN + "r", operation="ADD", quantity=5, clientToken="t1")
    assert quantities(batch, "r") == (6, 0, 6)


def test_client_token_with_another_payload_is_another_request(batch):
    batch.create_consumable_resource(consumableResourceName="r", totalQuantity=1)
    batch.update_consumable_resource(consumableResource="r", operation="ADD", quantity=5, clientToken="t1")
    out = batch.update_consumable_resource(consumableResource="r", operation="ADD", quantity=2, clientToken="t1")
    assert out["totalQuantity"] == 8
    # The token now stands for the latest request.
    batch.update_consumable_resource(consumableResource="r", operation="ADD", quantity=2, clientToken="t1")
    assert quantities(batch, "r") == (8, 0, 8)


def test_client_token_is_per_resource(batch):
    batch.create_consumable_resource(consumableResourceName="a", totalQuantity=0)
    batch.create_consumable_resource(consumableResourceName="b", totalQuantity=0)
    batch.update_consumable_resource(consumableResource="a", operation="ADD", quantity=1, clientToken="t")
    batch.update_consumable_resource(consumableResource="b", operation="ADD", quantity=1, clientToken="t")
    assert quantities(batch, "a")[0] == quantities(batch, "b")[0] == 1


def test_client_token_is_valid_for_eight_hours_of_engine_time(batch, lb):
    batch.create_consumable_resource(consumableResourceName="r", totalQuantity=0)
    batch.update_consumable_resource(consumableResource="r", operation="ADD", quantity=1, clientToken="t")
    lb.advance(EIGHT_HOURS - 1)
    batch.update_consumable_resource(consumableResource="r", operation="ADD", quantity=1, clientToken="t")
    assert quantities(batch, "r")[0] == 1
    lb.advance(1)
    batch.update_consumable_resource(consumableResource="r", operation="ADD", quantity=1, clientToken="t")
    assert quantities(batch, "r")[0] == 2


def test_calls_without_token_are_each_applied(batch):
    # botocore fills in a fresh clientToken on every call that has none.
    batch.create_consumable_resource(consumableResourceName="r", totalQuantity=0)
    for _ in range(3):
        batch.update_consumable_resource(consumableResource="r", operation="ADD", quantity=1)
    assert quantities(batch, "r")[0] == 3


def test_expired_tokens_are_forgotten(batch, lb):
    batch.create_consumable_resource(consumableResourceName="r", totalQuantity=0)
    for i in range(5):
        batch.update_consumable_resource(consumableResource="r", operation="ADD", quantity=1, clientToken=f"old{i}")
    lb.advance(EIGHT_HOURS)
    batch.update_consumable_resource(consumableResource="r", operation="ADD", quantity=1, clientToken="new")
    backend = lb.backend()
    assert list(find_consumable_resource(backend, "r").client_tokens) == ["new"]


def test_failed_update_does_not_remember_its_token(batch, lb):
    batch.create_consumable_resource(consumableResourceName="r", totalQuantity=1)
    with pytest.raises(batch.exceptions.ClientException):
        batch.update_consumable_resource(consumableResource="r", operation="REMOVE", quantity=2, clientToken="t")
    batch.update_consumable_resource(consumableResource="r", operation="ADD", quantity=1)
    out = batch.update_consumable_resource(consumableResource="r", operation="REMOVE", quantity=2, clientToken="t")
    assert out["totalQuantity"] == 0


@pytest.mark.parametrize("call", ["update", "delete", "describe"])
def test_unknown_resource(batch, call):
    with pytest.raises(batch.exceptions.ClientException) as e:
        if call == "update":
            batch.update_consumable_resource(consumableResource="nope", operation="SET", quantity=1)
        elif call == "delete":
            batch.delete_consumable_resource(consumableResource=ARN + "nope")
        else:
            batch.describe_consumable_resource(consumableResource="nope")
    assert client_error(e).endswith("nope does not exist")


# -- accounting for the job engine -------------------------------------------


def test_lock_and_release_replenishable(batch, lb):
    batch.create_consumable_resource(consumableResourceName="r", totalQuantity=5)
    backend = lb.backend()
    resource = find_consumable_resource(backend, ARN + "r")
    assert resource is find_consumable_resource(backend, "r")
    lock_units(backend, resource, 3)
    assert quantities(batch, "r") == (5, 3, 2)
    (summary,) = batch.list_consumable_resources()["consumableResources"]
    assert summary["inUseQuantity"] == 3 and summary["totalQuantity"] == 5
    release_units(backend, resource, 3)
    assert quantities(batch, "r") == (5, 0, 5)


def test_lock_non_replenishable_consumes_for_good(batch, lb):
    batch.create_consumable_resource(consumableResourceName="r", totalQuantity=5, resourceType="NON_REPLENISHABLE")
    backend = lb.backend()
    resource = find_consumable_resource(backend, "r")
    lock_units(backend, resource, 2)
    assert quantities(batch, "r") == (3, 0, 3)
    release_units(backend, resource, 2)
    assert quantities(batch, "r") == (3, 0, 3)


def test_lock_more_than_available_or_release_more_than_in_use_is_a_bug(batch, lb):
    batch.create_consumable_resource(consumableResourceName="r", totalQuantity=2)
    backend = lb.backend()
    resource = find_consumable_resource(backend, "r")
    with pytest.raises(ValueError, match="only 2 available"):
        lock_units(backend, resource, 3)
    lock_units(backend, resource, 1)
    with pytest.raises(ValueError, match="only 1 in use"):
        release_units(backend, resource, 2)
    assert quantities(batch, "r") == (2, 1, 1)


def test_update_while_in_use_keeps_in_use(batch, lb):
    batch.create_consumable_resource(consumableResourceName="r", totalQuantity=5)
    backend = lb.backend()
    lock_units(backend, find_consumable_resource(backend, "r"), 2)
    batch.update_consumable_resource(consumableResource="r", operation="ADD", quantity=5)
    assert quantities(batch, "r") == (10, 2, 8)


def test_delete_allowed_while_in_use(batch, lb):
    batch.create_consumable_resource(consumableResourceName="r", totalQuantity=5)
    backend = lb.backend()
    lock_units(backend, find_consumable_resource(backend, "r"), 5)
    batch.delete_consumable_resource(consumableResource="r")
    with pytest.raises(BatchClientError, match="r does not exist"):
        find_consumable_resource(backend, "r")


# -- engine time ---------------------------------------------------------------


def test_created_at_follows_freezegun(batch):
    with freezegun.freeze_time("2024-05-01 12:00:00") as frozen:
        batch.create_consumable_resource(consumableResourceName="a")
        frozen.tick(datetime.timedelta(seconds=90))
        batch.create_consumable_resource(consumableResourceName="b")
        assert describe(batch, "a")["createdAt"] == 1714564800000
        assert describe(batch, "b")["createdAt"] == 1714564800000 + 90_000


def test_created_at_follows_time_machine(batch):
    start = datetime.datetime(2025, 1, 2, 3, 4, 5, tzinfo=datetime.timezone.utc)
    with time_machine.travel(start, tick=False) as traveller:
        batch.create_consumable_resource(consumableResourceName="a")
        traveller.shift(datetime.timedelta(minutes=5))
        batch.create_consumable_resource(consumableResourceName="b")
    expected = int(start.timestamp() * 1000)
    assert describe(batch, "a")["createdAt"] == expected
    assert describe(batch, "b")["createdAt"] == expected + 300_000


def test_created_at_includes_advanced_engine_time(batch, lb):
    with freezegun.freeze_time("2024-05-01 12:00:00"):
        lb.advance(60)
        batch.create_consumable_resource(consumableResourceName="a")
        assert describe(batch, "a")["createdAt"] == 1714564800000 + 60_000


# -- ListConsumableResources ----------------------------------------------------


def names(page) -> list[str]:
    return [r["consumableResourceName"] for r in page["consumableResources"]]


def test_list_filter_is_case_insensitive_with_trailing_star(batch):
    for name in ("GPU-a", "gpu-b", "license", "xgpu"):
        batch.create_consumable_resource(consumableResourceName=name)

    def listed(*values):
        return names(batch.list_consumable_resources(filters=[{"name": NAME_FILTER, "values": list(values)}]))

    assert listed("gpu*") == ["GPU-a", "gpu-b"]
    assert listed("LICENSE") == ["license"]
    assert listed("gpu") == []
    assert listed("gpu-A", "xGPU") == ["GPU-a", "xgpu"]
    assert listed("*") == ["GPU-a", "gpu-b", "license", "xgpu"]
    assert listed() == []


def test_list_filter_name_is_checked(batch):
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.list_consumable_resources(filters=[{"name": "consumable_resource_name", "values": ["a"]}])
    assert "Invalid filter name consumable_resource_name" in client_error(e)


def test_list_pagination_every_item_once(batch):
    for i in range(7):
        batch.create_consumable_resource(consumableResourceName=f"r{i}")
    page = batch.list_consumable_resources(maxResults=3)
    assert names(page) == ["r0", "r1", "r2"] and "nextToken" in page
    page = batch.list_consumable_resources(maxResults=3, nextToken=page["nextToken"])
    assert names(page) == ["r3", "r4", "r5"]
    page = batch.list_consumable_resources(maxResults=3, nextToken=page["nextToken"])
    assert names(page) == ["r6"] and "nextToken" not in page
    pages = batch.get_paginator("list_consumable_resources").paginate(PaginationConfig={"PageSize": 2})
    assert [n for page in pages for n in names(page)] == [f"r{i}" for i in range(7)]


def test_list_pagination_with_filter(batch):
    for i in range(5):
        batch.create_consumable_resource(consumableResourceName=f"a{i}")
        batch.create_consumable_resource(consumableResourceName=f"b{i}")
    filters = [{"name": NAME_FILTER, "values": ["A*"]}]
    pages = batch.get_paginator("list_consumable_resources").paginate(
        filters=filters, PaginationConfig={"PageSize": 2}
    )
    assert [n for page in pages for n in names(page)] == [f"a{i}" for i in range(5)]
    first = batch.list_consumable_resources(filters=filters, maxResults=2)
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.list_consumable_resources(maxResults=2, nextToken=first["nextToken"])
    assert client_error(e) == "Invalid nextToken"


def test_list_exact_page_has_no_token(batch):
    for i in range(2):
        batch.create_consumable_resource(consumableResourceName=f"r{i}")
    assert "nextToken" not in batch.list_consumable_resources(maxResults=2)


@pytest.mark.parametrize("bad", [0, 101])
def test_list_max_results_bounds(batch, bad):
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.list_consumable_resources(maxResults=bad)
    assert client_error(e) == "maxResults must be between 1 and 100"


def test_list_max_results_100_and_default_page(batch):
    for i in range(101):
        batch.create_consumable_resource(consumableResourceName=f"r{i}")
    page = batch.list_consumable_resources()
    assert len(page["consumableResources"]) == 100 and "nextToken" in page
    assert len(batch.list_consumable_resources(maxResults=100)["consumableResources"]) == 100


def test_list_invalid_token(batch):
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.list_consumable_resources(nextToken="garbage")
    assert client_error(e) == "Invalid nextToken"
