"""`localbatch.patch()` and the shim: how a patch starts and stops, which
clients it answers, what the answers look like, and that nothing leaves the
process."""

from __future__ import annotations

import asyncio
import json
import os
import re
import socket
import subprocess
import sys
import unittest
from pathlib import Path

import boto3
import botocore
import botocore.endpoint
import botocore.session
import pytest
from botocore.awsrequest import AWSResponse
from botocore.config import Config

import localbatch
import localbatch.api
from localbatch import LocalBatch, LocalBatchError, service_model, shim
from localbatch.errors import BatchClientError
from tests.helpers import client_error
from tests.model_inputs import minimal_params

REPO = Path(__file__).resolve().parent.parent
UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}")


def batch_client(region: str = "us-east-1", **kwargs):
    return boto3.client("batch", region_name=region, **kwargs)


def policy_names(client) -> list[str]:
    return [p["arn"].rsplit("/", 1)[1] for p in client.list_scheduling_policies()["schedulingPolicies"]]


class _Raw:
    """The raw body of a canned AWSResponse."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, **kwargs):
        yield self._body


def canned(body: bytes, status: int = 200, content_type: str = "application/json") -> AWSResponse:
    return AWSResponse("https://canned.invalid", status, {"content-type": content_type}, _Raw(body))


def has_localbatch_handlers(client) -> bool:
    unique = client.meta.events._emitter._unique_id_handlers  # botocore's registry of unique_id handlers
    return any(key.startswith("localbatch-") for key in unique)


# -- the forms of patch() ------------------------------------------------------------


def test_context_manager_yields_the_controller():
    assert shim.ACTIVE == []
    with localbatch.patch() as lb:
        assert isinstance(lb, LocalBatch)
        assert localbatch.current() is lb
        client = batch_client()
        client.create_scheduling_policy(name="p")
        assert policy_names(client) == ["p"]
        assert "p" in lb.backend().scheduling_policies.by_name
    assert shim.ACTIVE == []
    with pytest.raises(LocalBatchError, match="no localbatch patch is active"):
        localbatch.current()


def test_decorates_a_plain_function():
    @localbatch.patch(region="eu-west-1")
    def create(name: str, *, tags: dict) -> tuple:
        client = boto3.client("batch")
        arn = client.create_scheduling_policy(name=name, tags=tags)["arn"]
        return arn, localbatch.current()

    assert create.__name__ == "create"
    arn, lb = create("p", tags={"k": "v"})
    assert arn == "arn:aws:batch:eu-west-1:123456789012:scheduling-policy/p"
    assert isinstance(lb, LocalBatch)
    assert shim.ACTIVE == []
    # every call is a fresh patch: the same name is free again
    arn2, lb2 = create("p", tags={})
    assert arn2 == arn and lb2 is not lb


def test_decorates_an_async_function():
    @localbatch.patch(account_id="111122223333")
    async def create(name: str) -> tuple:
        await asyncio.sleep(0)
        client = batch_client()
        arn = client.create_scheduling_policy(name=name)["arn"]
        return arn, policy_names(client), localbatch.current()

    assert asyncio.iscoroutinefunction(create)
    arn, names, lb = asyncio.run(create("q"))
    assert arn == "arn:aws:batch:us-east-1:111122223333:scheduling-policy/q"
    assert names == ["q"]
    assert lb.account_id == "111122223333"
    assert shim.ACTIVE == []


def test_decorates_a_testcase_class_with_fresh_state_per_test():
    seen = []

    @localbatch.patch(region="eu-west-2")
    class Policies(unittest.TestCase):
        def setUp(self):
            # the class's own setUp already runs patched
            self.client = boto3.client("batch")
            self.client.create_scheduling_policy(name="from-setup")

        def test_one(self):
            self.client.create_scheduling_policy(name="one")
            seen.append((self.lb, policy_names(self.client)))
            self.assertIs(localbatch.current(), self.lb)

        def test_two(self):
            self.client.create_scheduling_policy(name="two")
            seen.append((self.lb, policy_names(self.client)))

        def test_fails(self):
            raise AssertionError("a failing test still stops its patch")

    result = unittest.TestResult()
    unittest.defaultTestLoader.loadTestsFromTestCase(Policies).run(result)
    assert result.testsRun == 3
    assert [test._testMethodName for test, _ in result.failures] == ["test_fails"]
    assert result.errors == []
    (lb1, names1), (lb2, names2) = seen
    assert lb1 is not lb2
    assert names1 == ["from-setup", "one"] and names2 == ["from-setup", "two"]
    assert lb1.default_region == "eu-west-2"
    assert shim.ACTIVE == []


def test_decorating_another_class_is_misuse():
    with pytest.raises(LocalBatchError, match="TestCase"):
        localbatch.patch()(type("NotATest", (), {}))


def test_start_and_stop():
    p = localbatch.patch()
    lb = p.start()
    try:
        assert localbatch.current() is lb
        batch_client().create_scheduling_policy(name="p")
    finally:
        p.stop()
    assert shim.ACTIVE == []
    with pytest.raises(LocalBatchError, match="not started"):
        p.stop()
    # the same patch object starts again with empty state
    lb2 = p.start()
    try:
        assert lb2 is not lb
        assert policy_names(batch_client()) == []
    finally:
        p.stop()


def test_nested_patches_shadow_and_restore():
    client = batch_client()
    with localbatch.patch() as outer:
        client.create_scheduling_policy(name="outer")
        with localbatch.patch() as inner:
            assert localbatch.current() is inner
            assert policy_names(client) == []
            client.create_scheduling_policy(name="inner")
            assert policy_names(client) == ["inner"]
        assert localbatch.current() is outer
        assert policy_names(client) == ["outer"]
    assert shim.ACTIVE == []


def test_a_new_patch_starts_empty():
    client = batch_client()
    with localbatch.patch():
        client.create_scheduling_policy(name="p")
        assert policy_names(client) == ["p"]
    with localbatch.patch():
        assert policy_names(client) == []
        client.create_scheduling_policy(name="p")  # no "Object already exists"


def test_options_are_checked():
    with pytest.raises(LocalBatchError, match="12 digits"):
        localbatch.patch(account_id="123")
    with pytest.raises(LocalBatchError, match="unknown localbatch option"):
        localbatch.patch(no_such_option=1)


# -- which clients are answered -------------------------------------------------------


def test_clients_created_before_and_after_start_are_answered():
    before = batch_client()
    botocore_before = botocore.session.get_session().create_client(
        "batch", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s"
    )
    with localbatch.patch():
        after = batch_client()
        before.create_scheduling_policy(name="by-before")
        after.create_scheduling_policy(name="by-after")
        botocore_before.create_scheduling_policy(name="by-botocore")
        for client in (before, after, botocore_before):
            assert policy_names(client) == ["by-before", "by-after", "by-botocore"]
        assert has_localbatch_handlers(before) and has_localbatch_handlers(after)


def test_clients_of_other_services_are_untouched():
    reached = []

    def answer_s3(request, **kwargs):
        reached.append(request.url)
        return canned(
            b"<ListAllMyBucketsResult><Buckets><Bucket><Name>canned</Name></Bucket></Buckets></ListAllMyBucketsResult>",
            content_type="application/xml",
        )

    with localbatch.patch():
        s3 = boto3.client("s3", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
        assert not has_localbatch_handlers(s3)
        s3.meta.events.register("before-send.s3", answer_s3)
        buckets = s3.list_buckets()["Buckets"]
    assert [b["Name"] for b in buckets] == ["canned"]
    assert len(reached) == 1 and reached[0].startswith("https://s3.")


def test_no_batch_request_reaches_the_network(monkeypatch):
    attempts = []

    def refuse_connect(self, *args, **kwargs):
        attempts.append(("connect", args))
        raise AssertionError("socket.connect")

    def refuse_send(self, request):
        attempts.append(("send", request.url))
        raise AssertionError("Endpoint._send")

    monkeypatch.setattr(socket.socket, "connect", refuse_connect)
    monkeypatch.setattr(botocore.endpoint.Endpoint, "_send", refuse_send)
    with localbatch.patch():
        client = batch_client()
        client.meta.events.register("before-send.batch", lambda **kw: attempts.append(("before-send", kw)))
        arn = client.create_scheduling_policy(name="p", tags={"a": "b"})["arn"]
        client.describe_scheduling_policies(arns=[arn])
        client.update_scheduling_policy(arn=arn, fairsharePolicy={"computeReservation": 1})
        client.list_scheduling_policies(maxResults=1)
        list(client.get_paginator("list_scheduling_policies").paginate())
        client.tag_resource(resourceArn=arn, tags={"c": "d"})
        client.list_tags_for_resource(resourceArn=arn)
        client.untag_resource(resourceArn=arn, tagKeys=["a"])
        with pytest.raises(client.exceptions.ClientException):
            client.create_scheduling_policy(name="p")
        with pytest.raises(botocore.exceptions.ParamValidationError):
            client.create_scheduling_policy()
        client.delete_scheduling_policy(arn=arn)
        monkeypatch.delitem(localbatch.api.OPERATIONS, "DescribeJobQueues", raising=False)
        with pytest.raises(client.exceptions.ClientException, match="does not implement"):
            client.describe_job_queues(**minimal_params("DescribeJobQueues"))
    assert attempts == []
    # the traps work: once unpatched, the same client reaches them
    with pytest.raises(AssertionError, match="Endpoint._send"):
        client.list_scheduling_policies()
    assert [kind for kind, _ in attempts] == ["before-send", "send"]


def test_an_operation_without_handler_names_itself(monkeypatch):
    monkeypatch.delitem(localbatch.api.OPERATIONS, "ListSchedulingPolicies")
    with localbatch.patch():
        client = batch_client()
        with pytest.raises(client.exceptions.ClientException) as e:
            client.list_scheduling_policies()
    assert client_error(e) == "localbatch does not implement the ListSchedulingPolicies operation"


# -- credentials, config and region ------------------------------------------------------


@pytest.fixture
def bare_environment(monkeypatch, tmp_path):
    """No credentials, no config, no region anywhere."""
    for var in list(os.environ):
        if var.startswith("AWS_") and var not in ("AWS_EC2_METADATA_DISABLED", "AWS_CA_BUNDLE"):
            monkeypatch.delenv(var)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-credentials"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-config"))
    monkeypatch.setattr(boto3, "DEFAULT_SESSION", None)
    return monkeypatch


def test_no_credentials_or_config_needed(bare_environment):
    def no_credential_lookup(self):
        raise AssertionError("the credential provider chain ran")

    bare_environment.setattr(botocore.session.Session, "get_credentials", no_credential_lookup)
    with localbatch.patch():
        client = boto3.client("batch")
        assert client.meta.region_name == "us-east-1"
        arn = client.create_scheduling_policy(name="p")["arn"]
        assert arn == "arn:aws:batch:us-east-1:123456789012:scheduling-policy/p"
        other = botocore.session.get_session().create_client("batch")
        assert policy_names(other) == ["p"]


def test_without_a_configured_region_the_patch_region_is_used(bare_environment):
    with localbatch.patch(region="ap-southeast-2"):
        client = boto3.client("batch")
        assert client.meta.region_name == "ap-southeast-2"
        arn = client.create_scheduling_policy(name="p")["arn"]
    assert arn.startswith("arn:aws:batch:ap-southeast-2:")


def test_a_configured_region_is_respected(bare_environment, tmp_path):
    def region(client) -> str:
        arn = client.create_scheduling_policy(name="p")["arn"]
        client.delete_scheduling_policy(arn=arn)
        assert arn.split(":")[3] == client.meta.region_name
        return client.meta.region_name

    with localbatch.patch(region="ap-southeast-2"):
        assert region(boto3.client("batch", region_name="sa-east-1")) == "sa-east-1"
        assert region(boto3.client("batch", config=Config(region_name="eu-north-1"))) == "eu-north-1"
        assert region(boto3.Session(region_name="us-west-2").client("batch")) == "us-west-2"
        session = botocore.session.get_session()
        session.set_default_client_config(Config(region_name="ca-central-1"))
        assert region(session.create_client("batch")) == "ca-central-1"
        (tmp_path / "config").write_text("[default]\nregion = me-south-1\n")
        bare_environment.setenv("AWS_CONFIG_FILE", str(tmp_path / "config"))
        assert region(botocore.session.get_session().create_client("batch")) == "me-south-1"
        bare_environment.setenv("AWS_DEFAULT_REGION", "eu-central-1")
        assert region(botocore.session.get_session().create_client("batch")) == "eu-central-1"
        assert region(boto3.client("batch", region_name="sa-east-1")) == "sa-east-1"


def test_state_is_kept_per_region():
    with localbatch.patch() as lb:
        east, west = batch_client("us-east-1"), batch_client("eu-west-1")
        east_arn = east.create_scheduling_policy(name="p", tags={"where": "east"})["arn"]
        west_arn = west.create_scheduling_policy(name="p", tags={"where": "west"})["arn"]  # no clash
        assert east_arn == "arn:aws:batch:us-east-1:123456789012:scheduling-policy/p"
        assert west_arn == "arn:aws:batch:eu-west-1:123456789012:scheduling-policy/p"
        west.create_scheduling_policy(name="west-only")
        assert policy_names(east) == ["p"]
        assert policy_names(west) == ["p", "west-only"]
        assert east.describe_scheduling_policies(arns=[west_arn])["schedulingPolicies"] == []
        assert east.list_tags_for_resource(resourceArn=east_arn)["tags"] == {"where": "east"}
        with pytest.raises(east.exceptions.ClientException):
            east.list_tags_for_resource(resourceArn=west_arn)
        east.delete_scheduling_policy(arn="p")
        assert policy_names(west) == ["p", "west-only"]
        assert lb.backend("us-east-1") is not lb.backend("eu-west-1")
        assert lb.backend() is lb.backend("us-east-1")


def test_account_id_appears_in_arns():
    with localbatch.patch(account_id="111122223333") as lb:
        arn = batch_client().create_scheduling_policy(name="p")["arn"]
        assert lb.backend().account_id == "111122223333"
    assert arn == "arn:aws:batch:us-east-1:111122223333:scheduling-policy/p"
    with localbatch.patch():
        assert batch_client().create_scheduling_policy(name="p")["arn"].split(":")[4] == "123456789012"


# -- stopping, and clients from before `import localbatch` ---------------------------------


def test_stopping_returns_botocore_to_normal():
    reached = []

    def answer(request, **kwargs):
        reached.append(request.url)
        return canned(json.dumps({"schedulingPolicies": [{"arn": "from-the-wire"}]}).encode())

    with localbatch.patch():
        client = batch_client()  # created while patched
        assert client.list_scheduling_policies()["schedulingPolicies"] == []
    client.meta.events.register("before-send.batch", answer)
    other = batch_client(aws_access_key_id="k", aws_secret_access_key="s")  # created after stop
    other.meta.events.register("before-send.batch", answer)
    assert client.list_scheduling_policies()["schedulingPolicies"] == [{"arn": "from-the-wire"}]
    assert other.list_scheduling_policies()["schedulingPolicies"] == [{"arn": "from-the-wire"}]
    assert reached == ["https://batch.us-east-1.amazonaws.com/v1/listschedulingpolicies"] * 2


def test_a_client_created_before_import_fails_loudly_while_patched(tmp_path):
    script = """
import boto3
client = boto3.client("batch", region_name="us-east-1", aws_access_key_id="k", aws_secret_access_key="s")
sent = []
client.meta.events.register("before-send", lambda **kw: sent.append(kw))
import localbatch
with localbatch.patch():
    try:
        client.list_scheduling_policies()
    except localbatch.LocalBatchError as error:
        print("LOUD:", error)
    else:
        print("ANSWERED")
print("SENT:", len(sent))
"""
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["AWS_EC2_METADATA_DISABLED"] = "true"
    out = subprocess.run(
        [sys.executable, "-c", script], check=False, cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr
    lines = out.stdout.splitlines()
    assert lines[0].startswith("LOUD: a Batch ListSchedulingPolicies request tried to leave the process")
    assert "Import localbatch first" in lines[0]
    assert lines[1] == "SENT: 0"


# -- what answers look like ---------------------------------------------------------------------


def test_client_exception_carries_its_message_twice():
    with localbatch.patch():
        client = batch_client()
        client.create_scheduling_policy(name="p")
        with pytest.raises(client.exceptions.ClientException) as e:
            client.create_scheduling_policy(name="p")
    response = e.value.response
    assert response["Error"] == {"Code": "ClientException", "Message": "Object already exists"}
    assert response["message"] == "Object already exists"
    meta = response["ResponseMetadata"]
    assert meta["HTTPStatusCode"] == 400
    assert meta["HTTPHeaders"]["x-amzn-errortype"] == "ClientException"
    assert meta["HTTPHeaders"]["x-amzn-requestid"] == meta["RequestId"]
    assert e.value.operation_name == "CreateSchedulingPolicy"


def test_response_metadata():
    with localbatch.patch():
        client = batch_client()
        first = client.list_scheduling_policies()["ResponseMetadata"]
        second = client.list_scheduling_policies()["ResponseMetadata"]
    assert set(first) == {"RequestId", "HTTPStatusCode", "HTTPHeaders", "RetryAttempts"}
    assert UUID_RE.fullmatch(first["RequestId"])
    assert first["RequestId"] != second["RequestId"]
    assert first["HTTPStatusCode"] == 200
    assert first["RetryAttempts"] == 0
    assert first["HTTPHeaders"]["x-amzn-requestid"] == first["RequestId"]
    assert first["HTTPHeaders"]["content-type"] == "application/json"


def test_request_ids_are_seeded():
    def ids(seed):
        with localbatch.patch(seed=seed):
            client = batch_client()
            return [client.list_scheduling_policies()["ResponseMetadata"]["RequestId"] for _ in range(3)]

    assert ids(7) == ids(7)
    assert ids(7) != ids(8)


def test_wrapped_client_error_carries_the_request_id(monkeypatch):
    def refuse(backend, params):
        raise BatchClientError("name should match valid pattern", wrapped=True)

    monkeypatch.setitem(localbatch.api.OPERATIONS, "ListSchedulingPolicies", refuse)
    with localbatch.patch():
        client = batch_client()
        with pytest.raises(client.exceptions.ClientException) as e:
            client.list_scheduling_policies()
    request_id = e.value.response["ResponseMetadata"]["RequestId"]
    assert client_error(e) == (
        f"Error executing request, Exception : name should match valid pattern, RequestId: {request_id}"
    )


def state_of(lb) -> list:
    backend = lb.backend()
    table = backend.scheduling_policies
    return [
        sorted(table.by_arn),
        sorted(table.by_name),
        list(table._seqs),
        [json.dumps(r.data, sort_keys=True) for r in table],
        len(backend.events),
    ]


def failing_after_create(error: Exception):
    real = localbatch.api.OPERATIONS["CreateSchedulingPolicy"]

    def create_then_fail(backend, params):
        real(backend, params)  # mutates through the journal
        policy = backend.scheduling_policies.get(params["name"])
        localbatch.api._common.updated(backend, policy, tags={"changed": "yes"})
        backend.schedule_in(0, lambda: None)
        raise error

    return create_then_fail


def test_unexpected_error_in_a_handler_is_server_exception_and_changes_nothing(monkeypatch):
    with localbatch.patch() as lb:
        client = batch_client()
        client.create_scheduling_policy(name="kept")
        before = state_of(lb)
        monkeypatch.setitem(localbatch.api.OPERATIONS, "CreateSchedulingPolicy", failing_after_create(KeyError("x")))
        with pytest.raises(client.exceptions.ServerException) as e:
            client.create_scheduling_policy(name="lost")
        assert state_of(lb) == before
        monkeypatch.undo()
        assert policy_names(client) == ["kept"]
        client.create_scheduling_policy(name="lost")  # the name was never taken
    response = e.value.response
    assert response["Error"]["Code"] == "ServerException"
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert response["ResponseMetadata"]["RetryAttempts"] == 0
    assert response["message"] == response["Error"]["Message"]
    assert "CreateSchedulingPolicy" in response["message"]
    assert "KeyError" in response["message"]


def test_misuse_inside_a_call_is_raised_loudly_and_changes_nothing(monkeypatch):
    with localbatch.patch() as lb:
        client = batch_client()
        client.create_scheduling_policy(name="kept")
        before = state_of(lb)
        monkeypatch.setitem(
            localbatch.api.OPERATIONS, "CreateSchedulingPolicy", failing_after_create(LocalBatchError("misused"))
        )
        with pytest.raises(LocalBatchError, match="misused"):
            client.create_scheduling_policy(name="lost")
        assert state_of(lb) == before


def test_client_error_after_a_mutation_changes_nothing(monkeypatch):
    with localbatch.patch() as lb:
        client = batch_client()
        client.create_scheduling_policy(name="kept")
        before = state_of(lb)
        monkeypatch.setitem(
            localbatch.api.OPERATIONS, "CreateSchedulingPolicy", failing_after_create(BatchClientError("found late"))
        )
        with pytest.raises(client.exceptions.ClientException) as e:
            client.create_scheduling_policy(name="lost")
        assert client_error(e) == "found late"
        assert state_of(lb) == before
        assert policy_names(client) == ["kept"]


# -- the vendored model ----------------------------------------------------------------------


NEWEST_OPERATIONS = ("CancelJobs", "TerminateJobs", "TerminateServiceJobs")


def test_the_vendored_model_has_every_operation_even_on_an_older_botocore(tmp_path):
    # An "installed" botocore whose batch model predates the newest operations,
    # whatever botocore this machine really has: a session data path that
    # botocore searches before its own data.
    vendored = json.loads((REPO / "botocore_models/batch/2016-08-10/service-2.json").read_text())
    assert len(vendored["operations"]) == 48
    older = {**vendored, "operations": {k: v for k, v in vendored["operations"].items() if k not in NEWEST_OPERATIONS}}
    model_dir = tmp_path / "batch" / "2016-08-10"
    model_dir.mkdir(parents=True)
    (model_dir / "service-2.json").write_text(json.dumps(older))
    session = botocore.session.Session()
    session.set_config_variable("data_path", str(tmp_path))
    loader = session.get_component("data_loader")
    on_its_own = service_model._original_load_service_model(loader, "batch", "service-2")
    assert not set(NEWEST_OPERATIONS) & set(on_its_own["operations"])  # what botocore alone would load

    for client in (session.create_client("batch", region_name="us-east-1"), batch_client()):
        assert sorted(client.meta.service_model.operation_names) == sorted(vendored["operations"])
        for method in ("cancel_jobs", "terminate_jobs", "terminate_service_jobs"):
            assert callable(getattr(client, method))
        assert client.can_paginate("list_quota_shares")
