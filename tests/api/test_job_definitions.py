"""Job definitions through a real boto3 client (spec §1.4, §2.6, §2.7, §6.3, §7)."""

from __future__ import annotations

import pytest

from localbatch.api.job_definitions import check_retry_strategy, check_timeout, resolve_job_definition
from localbatch.errors import BatchClientError
from tests.helpers import client_error

ARN = "arn:aws:batch:us-east-1:123456789012:job-definition/"
WRAP = "Error executing request, Exception : "


def resources(vcpu: str = "1", memory: str = "2048") -> list[dict[str, str]]:
    return [{"type": "VCPU", "value": vcpu}, {"type": "MEMORY", "value": memory}]


CONTAINER = {"image": "busybox", "command": ["echo", "Ref::greeting"], "resourceRequirements": resources()}
FARGATE_CONTAINER = {"image": "busybox", "resourceRequirements": resources("0.25", "512")}
ECS = {"taskProperties": [{"containers": [{"image": "busybox", "resourceRequirements": resources()}]}]}
EKS = {"podProperties": {"containers": [{"image": "busybox", "resources": {"limits": {"cpu": "1", "memory": "1Gi"}}}]}}


def nodes(num: int = 4, main: int = 0, *targets: str, **container) -> dict:
    groups = [{"targetNodes": t, "container": {**CONTAINER, **container}} for t in (targets or ("0:",))]
    return {"numNodes": num, "mainNode": main, "nodeRangeProperties": groups}


def register(batch, name: str = "jd", **params):
    params.setdefault("type", "container")
    if params["type"] == "container" and not any(
        k in params for k in ("containerProperties", "ecsProperties", "eksProperties")
    ):
        params["containerProperties"] = CONTAINER
    return batch.register_job_definition(jobDefinitionName=name, **params)


def describe(batch, **params) -> list[dict]:
    return batch.describe_job_definitions(**params)["jobDefinitions"]


def keys(batch, **params) -> list[tuple[str, int, str]]:
    return [(d["jobDefinitionName"], d["revision"], d["status"]) for d in describe(batch, **params)]


def refused(batch, **params) -> str:
    """The message of a refused RegisterJobDefinition, which must leave nothing behind."""
    before = describe(batch)
    with pytest.raises(batch.exceptions.ClientException) as e:
        register(batch, **params)
    assert describe(batch) == before
    return client_error(e)


def assert_wrapped(message: str, text: str) -> None:
    assert message.startswith(f"{WRAP}{text}, RequestId: "), message


# -- register / describe ------------------------------------------------------


def test_register_and_describe_exact_output(batch):
    out = register(
        batch,
        parameters={"greeting": "hi"},
        schedulingPriority=5,
        retryStrategy={"attempts": 3, "evaluateOnExit": [{"action": "EXIT", "onExitCode": "1*"}]},
        timeout={"attemptDurationSeconds": 60},
        propagateTags=True,
        platformCapabilities=["EC2"],
        tags={"team": "x"},
        consumableResourceProperties={"consumableResourceList": [{"consumableResource": "lic", "quantity": 1}]},
    )
    assert {k: out[k] for k in ("jobDefinitionName", "jobDefinitionArn", "revision")} == {
        "jobDefinitionName": "jd",
        "jobDefinitionArn": ARN + "jd:1",
        "revision": 1,
    }
    assert describe(batch) == [
        {
            "jobDefinitionName": "jd",
            "jobDefinitionArn": ARN + "jd:1",
            "revision": 1,
            "status": "ACTIVE",
            "type": "container",
            "schedulingPriority": 5,
            "parameters": {"greeting": "hi"},
            "retryStrategy": {"attempts": 3, "evaluateOnExit": [{"action": "EXIT", "onExitCode": "1*"}]},
            "containerProperties": CONTAINER,
            "timeout": {"attemptDurationSeconds": 60},
            "tags": {"team": "x"},
            "propagateTags": True,
            "platformCapabilities": ["EC2"],
            "containerOrchestrationType": "ECS",
            "consumableResourceProperties": {
                "consumableResourceList": [{"consumableResource": "lic", "quantity": 1}]
            },
        }
    ]


def test_minimal_definition_has_only_what_was_given(batch):
    register(batch)
    assert describe(batch) == [
        {
            "jobDefinitionName": "jd",
            "jobDefinitionArn": ARN + "jd:1",
            "revision": 1,
            "status": "ACTIVE",
            "type": "container",
            "containerProperties": CONTAINER,
            "tags": {},
            "containerOrchestrationType": "ECS",
        }
    ]


def test_orchestration_type_follows_properties(batch):
    register(batch, "ecs", ecsProperties=ECS)
    register(batch, "eks", eksProperties=EKS)
    register(batch, "mnp", type="multinode", nodeProperties=nodes())
    got = {d["jobDefinitionName"]: d["containerOrchestrationType"] for d in describe(batch)}
    assert got == {"ecs": "ECS", "eks": "EKS", "mnp": "ECS"}
    (eks,) = describe(batch, jobDefinitionName="eks")
    assert eks["eksProperties"] == EKS and "platformCapabilities" not in eks


def test_revisions_count_up_and_are_never_reused(batch):
    assert [register(batch)["revision"] for _ in range(3)] == [1, 2, 3]
    batch.deregister_job_definition(jobDefinition="jd:3")
    out = register(batch)
    assert (out["revision"], out["jobDefinitionArn"]) == (4, ARN + "jd:4")
    assert register(batch, "other")["revision"] == 1
    assert keys(batch) == [("jd", 1, "ACTIVE"), ("jd", 2, "ACTIVE"), ("jd", 3, "INACTIVE"), ("jd", 4, "ACTIVE"),
                           ("other", 1, "ACTIVE")]


def test_name_pattern(batch):
    message = refused(batch, name="bad name")
    assert_wrapped(message, "jobDefinitionName should match valid pattern")
    refused(batch, name="x" * 129)
    register(batch, "A-b_9" + "x" * 123)


# -- deregister -----------------------------------------------------------------


def test_deregister_by_name_revision_and_by_arn(batch):
    register(batch)
    register(batch)
    batch.deregister_job_definition(jobDefinition="jd:1")
    batch.deregister_job_definition(jobDefinition=ARN + "jd:2")
    assert keys(batch) == [("jd", 1, "INACTIVE"), ("jd", 2, "INACTIVE")]


def test_deregister_inactive_again_is_a_no_op(batch):
    register(batch)
    batch.deregister_job_definition(jobDefinition="jd:1")
    out = batch.deregister_job_definition(jobDefinition="jd:1")
    assert out["ResponseMetadata"]["HTTPStatusCode"] == 200
    assert keys(batch) == [("jd", 1, "INACTIVE")]


@pytest.mark.parametrize(
    "ref",
    [
        "jd:2",
        "nope:1",
        "jd",  # a bare name is neither name:revision nor an ARN
        ARN + "jd",
        ARN + "jd:9",
        "arn:aws:batch:eu-west-1:123456789012:job-definition/jd:1",
        "jd:x",
    ],
)
def test_deregister_unknown(batch, ref):
    register(batch)
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.deregister_job_definition(jobDefinition=ref)
    assert client_error(e) == f"JobDefinition {ref} not found."
    assert keys(batch) == [("jd", 1, "ACTIVE")]


# -- DescribeJobDefinitions -----------------------------------------------------


def test_describe_order_is_name_then_revision(batch):
    for name in ("b", "a", "c", "a", "b", "a"):
        register(batch, name)
    assert [(n, r) for n, r, _ in keys(batch)] == [("a", 1), ("a", 2), ("a", 3), ("b", 1), ("b", 2), ("c", 1)]


def test_describe_by_list_of_name_revision_and_arn(batch):
    register(batch, "a")
    register(batch, "a")
    register(batch, "b")
    got = keys(batch, jobDefinitions=["b:1", ARN + "a:2", "a:2", "a:9", "a", "zzz:1", ARN + "a", "a:1"])
    assert got == [("a", 1, "ACTIVE"), ("a", 2, "ACTIVE"), ("b", 1, "ACTIVE")]


def test_describe_list_includes_inactive(batch):
    register(batch)
    batch.deregister_job_definition(jobDefinition="jd:1")
    assert keys(batch, jobDefinitions=["jd:1"]) == [("jd", 1, "INACTIVE")]


def test_describe_list_caps_at_100(batch):
    register(batch)
    assert len(describe(batch, jobDefinitions=["jd:1"] * 100)) == 1
    with pytest.raises(batch.exceptions.ClientException) as e:
        describe(batch, jobDefinitions=["jd:1"] * 101)
    assert client_error(e) == "jobDefinitions must contain at most 100 items"


@pytest.mark.parametrize("other", [{"jobDefinitionName": "jd"}, {"status": "ACTIVE"}])
def test_describe_list_cannot_be_combined(batch, other):
    register(batch)
    with pytest.raises(batch.exceptions.ClientException) as e:
        describe(batch, jobDefinitions=["jd:1"], **other)
    assert client_error(e) == "jobDefinitions cannot be combined with jobDefinitionName or status"


def test_describe_by_name_and_status(batch):
    for name in ("a", "b", "a", "a"):
        register(batch, name)
    batch.deregister_job_definition(jobDefinition="a:2")
    assert keys(batch, jobDefinitionName="a") == [("a", 1, "ACTIVE"), ("a", 2, "INACTIVE"), ("a", 3, "ACTIVE")]
    assert keys(batch, status="INACTIVE") == [("a", 2, "INACTIVE")]
    assert keys(batch, status="ACTIVE") == [("a", 1, "ACTIVE"), ("a", 3, "ACTIVE"), ("b", 1, "ACTIVE")]
    assert keys(batch, jobDefinitionName="a", status="ACTIVE") == [("a", 1, "ACTIVE"), ("a", 3, "ACTIVE")]
    assert keys(batch, jobDefinitionName="nope") == []
    assert keys(batch, jobDefinitionName="a:1") == []


def test_describe_pagination_every_item_once(batch):
    for i in range(4):
        for name in ("y", "x"):
            register(batch, name)
    page = batch.describe_job_definitions(maxResults=3)
    assert [(d["jobDefinitionName"], d["revision"]) for d in page["jobDefinitions"]] == [("x", 1), ("x", 2), ("x", 3)]
    page = batch.describe_job_definitions(maxResults=3, nextToken=page["nextToken"])
    assert [(d["jobDefinitionName"], d["revision"]) for d in page["jobDefinitions"]] == [("x", 4), ("y", 1), ("y", 2)]
    page = batch.describe_job_definitions(maxResults=3, nextToken=page["nextToken"])
    assert [(d["jobDefinitionName"], d["revision"]) for d in page["jobDefinitions"]] == [("y", 3), ("y", 4)]
    assert "nextToken" not in page
    pages = batch.get_paginator("describe_job_definitions").paginate(PaginationConfig={"PageSize": 2})
    got = [(d["jobDefinitionName"], d["revision"]) for p in pages for d in p["jobDefinitions"]]
    assert got == [("x", r) for r in range(1, 5)] + [("y", r) for r in range(1, 5)]


def test_describe_pagination_sees_new_names_in_order(batch):
    register(batch, "a")
    register(batch, "c")
    page = batch.describe_job_definitions(maxResults=1)
    register(batch, "b")
    register(batch, "a")
    rest = batch.get_paginator("describe_job_definitions").paginate(
        PaginationConfig={"PageSize": 1, "StartingToken": page["nextToken"]}
    )
    got = [(d["jobDefinitionName"], d["revision"]) for p in rest for d in p["jobDefinitions"]]
    assert got == [("a", 2), ("b", 1), ("c", 1)]


def test_describe_pagination_with_filters(batch):
    for name in ("a", "b") * 3:
        register(batch, name)
    batch.deregister_job_definition(jobDefinition="a:2")
    pages = batch.get_paginator("describe_job_definitions").paginate(
        jobDefinitionName="a", status="ACTIVE", PaginationConfig={"PageSize": 1}
    )
    got = [[(d["jobDefinitionName"], d["revision"]) for d in p["jobDefinitions"]] for p in pages]
    assert got == [[("a", 1)], [("a", 3)]]
    pages = batch.get_paginator("describe_job_definitions").paginate(
        jobDefinitions=["b:3", "a:1", "b:1"], PaginationConfig={"PageSize": 2}
    )
    got = [[(d["jobDefinitionName"], d["revision"]) for d in p["jobDefinitions"]] for p in pages]
    assert got == [[("a", 1), ("b", 1)], [("b", 3)]]


def test_describe_exact_page_has_no_token(batch):
    register(batch)
    register(batch)
    assert "nextToken" not in batch.describe_job_definitions(maxResults=2)


def test_describe_default_page_is_100(batch):
    for _ in range(101):
        register(batch)
    page = batch.describe_job_definitions()
    assert len(page["jobDefinitions"]) == 100 and "nextToken" in page
    page = batch.describe_job_definitions(maxResults=100, nextToken=page["nextToken"])
    assert [d["revision"] for d in page["jobDefinitions"]] == [101]


@pytest.mark.parametrize("bad", [0, 101])
def test_describe_max_results_bounds(batch, bad):
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.describe_job_definitions(maxResults=bad)
    assert client_error(e) == "maxResults must be between 1 and 100"


def test_describe_invalid_tokens(batch):
    register(batch, "a")
    register(batch, "b")
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.describe_job_definitions(nextToken="garbage")
    assert client_error(e) == "Invalid nextToken"
    token = batch.describe_job_definitions(maxResults=1)["nextToken"]
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.describe_job_definitions(maxResults=1, status="ACTIVE", nextToken=token)
    assert client_error(e) == "Invalid nextToken"


def test_describe_output_is_a_copy(batch):
    register(batch, tags={"a": "1"})
    (first,) = describe(batch)
    batch.tag_resource(resourceArn=ARN + "jd:1", tags={"b": "2"})
    assert first["tags"] == {"a": "1"}
    assert describe(batch)[0]["tags"] == {"a": "1", "b": "2"}


# -- tags -------------------------------------------------------------------------


def test_tags_round_trip(batch):
    arn = register(batch, tags={"a": "1"})["jobDefinitionArn"]
    batch.tag_resource(resourceArn=arn, tags={"b": "2"})
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "1", "b": "2"}
    batch.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}


@pytest.mark.parametrize(
    "tags, fragment",
    [
        ({"aws:x": "1"}, "reserved"),
        ({"k" * 129: "v"}, "at most 128"),
        ({f"k{i}": "v" for i in range(51)}, "at most 50"),
    ],
)
def test_tags_are_checked(batch, tags, fragment):
    assert fragment in refused(batch, tags=tags)


# -- resolution at SubmitJob ------------------------------------------------------


def test_resolve_job_definition(batch, lb):
    for _ in range(3):
        register(batch)
    batch.deregister_job_definition(jobDefinition="jd:3")
    backend = lb.backend()
    assert resolve_job_definition(backend, "jd").arn == ARN + "jd:2"
    assert resolve_job_definition(backend, "jd:1").arn == ARN + "jd:1"
    assert resolve_job_definition(backend, ARN + "jd:1").arn == ARN + "jd:1"
    assert resolve_job_definition(backend, ARN + "jd").arn == ARN + "jd:2"
    assert resolve_job_definition(backend, "jd").data["status"] == "ACTIVE"


@pytest.mark.parametrize(
    "ref, message",
    [
        ("nope", "JobDefinition name nope does not exist or is not in ACTIVE status"),
        ("gone", "JobDefinition name gone does not exist or is not in ACTIVE status"),
        ("jd:2", "JobDefinition jd:2 not found."),
        ("jd:9", "JobDefinition jd:9 not found."),
        ("nope:1", "JobDefinition nope:1 not found."),
        (ARN + "jd:2", f"JobDefinition {ARN}jd:2 not found."),
        (ARN + "gone", f"JobDefinition {ARN}gone not found."),
        (ARN + "nope", f"JobDefinition {ARN}nope not found."),
        ("arn:aws:batch:eu-west-1:123456789012:job-definition/jd:1",
         "JobDefinition arn:aws:batch:eu-west-1:123456789012:job-definition/jd:1 not found."),
    ],
)
def test_resolve_job_definition_errors(batch, lb, ref, message):
    register(batch)
    register(batch)
    register(batch, "gone")
    batch.deregister_job_definition(jobDefinition="jd:2")
    batch.deregister_job_definition(jobDefinition="gone:1")
    with pytest.raises(BatchClientError) as e:
        resolve_job_definition(lb.backend(), ref)
    assert e.value.message == message and not e.value.wrapped


# -- type and properties ----------------------------------------------------------


ONE_BODY = "A container job definition needs exactly one of containerProperties, ecsProperties or eksProperties"


@pytest.mark.parametrize(
    "params, message",
    [
        ({}, ONE_BODY),
        ({"containerProperties": CONTAINER, "ecsProperties": ECS}, ONE_BODY),
        ({"containerProperties": CONTAINER, "eksProperties": EKS}, ONE_BODY),
        ({"ecsProperties": ECS, "eksProperties": EKS}, ONE_BODY),
        ({"containerProperties": CONTAINER, "nodeProperties": nodes()},
         "nodeProperties can only be specified for a multinode job definition"),
    ],
)
def test_container_type_needs_exactly_one_body(batch, params, message):
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.register_job_definition(jobDefinitionName="jd", type="container", **params)
    assert client_error(e) == message
    assert describe(batch) == []


def test_multinode_needs_node_properties_only(batch):
    assert "nodeProperties is required" in refused(batch, type="multinode")
    message = refused(batch, type="multinode", nodeProperties=nodes(), containerProperties=CONTAINER)
    assert "cannot be specified for a multinode job definition" in message


@pytest.mark.parametrize("platform", ["FARGATE", "MANAGED_INSTANCES"])
def test_multinode_not_on_fargate(batch, platform):
    message = refused(batch, type="multinode", nodeProperties=nodes(), platformCapabilities=[platform])
    assert message == f"multinode job definitions are not supported with platform capability {platform}"


def test_multinode_not_on_eks(batch):
    props = {"numNodes": 2, "mainNode": 0, "nodeRangeProperties": [{"targetNodes": "0:", "eksProperties": EKS}]}
    message = refused(batch, type="multinode", nodeProperties=props)
    assert message == "multinode job definitions are not supported on EKS"


def test_type_enum_checked(batch):
    assert refused(batch, type="array") == "type array must be one of container | multinode"


# -- platformCapabilities -------------------------------------------------------


def test_platform_capabilities_rules(batch):
    message = refused(batch, eksProperties=EKS, platformCapabilities=["EC2"])
    assert message == "platformCapabilities cannot be specified for an EKS job definition"
    message = refused(batch, platformCapabilities=["EC2", "FARGATE"])
    assert message == "platformCapabilities must contain exactly one value"
    message = refused(batch, platformCapabilities=["GPU"])
    assert message == "platformCapabilities GPU must be one of EC2 | FARGATE | MANAGED_INSTANCES"
    message = refused(batch, platformCapabilities=["MANAGED_INSTANCES"])
    assert message == "Job definitions with platform capability MANAGED_INSTANCES must use ecsProperties"
    register(batch, ecsProperties=ECS, platformCapabilities=["MANAGED_INSTANCES"])
    register(batch, containerProperties=FARGATE_CONTAINER, platformCapabilities=["FARGATE"])


def test_propagate_tags_not_for_eks(batch):
    message = refused(batch, eksProperties=EKS, propagateTags=True)
    assert message == "propagateTags cannot be specified for an EKS job definition"
    register(batch, eksProperties=EKS)


# -- container resources ------------------------------------------------------


def test_legacy_vcpus_and_memory_on_ec2(batch):
    register(batch, containerProperties={"image": "busybox", "vcpus": 2, "memory": 4})
    (jd,) = describe(batch)
    assert jd["containerProperties"] == {"image": "busybox", "vcpus": 2, "memory": 4}


@pytest.mark.parametrize(
    "container, message",
    [
        ({"image": "b"}, f"{WRAP}vCPU is not provided."),
        ({"image": "b", "memory": 512}, f"{WRAP}vCPU is not provided."),
        ({"image": "b", "resourceRequirements": [{"type": "MEMORY", "value": "512"}]}, f"{WRAP}vCPU is not provided."),
        ({"image": "b", "vcpus": 0}, "vCPU must be at least 1, got 0"),
        ({"image": "b", "resourceRequirements": resources("0")}, "vCPU must be at least 1, got 0"),
        (
            {"image": "b", "resourceRequirements": resources("1.0")},
            f"{WRAP}Value 1.0 for type VCPU in resourceRequirement is not valid. Please provide a numeric value.",
        ),
        (
            {"image": "b", "resourceRequirements": resources("1", "lots")},
            f"{WRAP}Value lots for type MEMORY in resourceRequirement is not valid. Please provide a numeric value.",
        ),
        ({"image": "b", "vcpus": 1, "memory": 3}, "Memory must be at least 4 MiB, got 3"),
        ({"image": "b", "resourceRequirements": resources("1", "3")}, "Memory must be at least 4 MiB, got 3"),
        (
            {"image": "b", "vcpus": 1, "resourceRequirements": resources()},
            "vcpus and a VCPU resourceRequirement cannot both be specified",
        ),
        (
            {"image": "b", "memory": 8, "resourceRequirements": resources()},
            "memory and a MEMORY resourceRequirement cannot both be specified",
        ),
        (
            {"image": "b", "resourceRequirements": resources() + [{"type": "VCPU", "value": "2"}]},
            "resourceRequirements contains type VCPU more than once",
        ),
        (
            {"image": "b", "vcpus": 1, "networkConfiguration": {"assignPublicIp": "ENABLED"}},
            f"{WRAP}networkConfiguration not applicable for EC2.",
        ),
        (
            {"image": "b", "vcpus": 1, "fargatePlatformConfiguration": {"platformVersion": "LATEST"}},
            f"{WRAP}fargatePlatformConfiguration not applicable for EC2.",
        ),
        (
            {"image": "b", "resourceRequirements": resources() + [{"type": "GPU", "value": "one"}]},
            f"{WRAP}Value one for type GPU in resourceRequirement is not valid. Please provide a numeric value.",
        ),
    ],
)
def test_ec2_container_resources(batch, container, message):
    got = refused(batch, containerProperties=container)
    if message.startswith(WRAP):
        assert_wrapped(got, message[len(WRAP) :])
    else:
        assert got == message


def test_ec2_gpu_and_minimum_memory_accepted(batch):
    register(batch, containerProperties={"image": "b", "resourceRequirements": resources("1", "4") + [
        {"type": "GPU", "value": "2"}]})
    assert len(describe(batch)) == 1


@pytest.mark.parametrize(
    "vcpu, memory",
    [
        ("0.25", "512"), ("0.25", "2048"), ("0.5", "1024"), ("0.5", "4096"), ("1", "2048"), ("1", "8192"),
        ("2", "4096"), ("2", "16384"), ("4", "8192"), ("4", "30720"), ("8", "16384"), ("8", "61440"),
        ("16", "32768"), ("16", "122880"), ("32", "61440"), ("32", "249856"), ("1.0", "3072"),
    ],
)
def test_fargate_supported_pairs(batch, vcpu, memory):
    container = {"image": "b", "resourceRequirements": resources(vcpu, memory)}
    register(batch, containerProperties=container, platformCapabilities=["FARGATE"])
    assert len(describe(batch)) == 1


@pytest.mark.parametrize(
    "vcpu, memory",
    [
        ("0.25", "3072"), ("0.5", "512"), ("1", "1024"), ("1", "9216"), ("2", "17408"), ("4", "4096"),
        ("4", "31744"), ("8", "18432"), ("16", "36864"), ("16", "131072"), ("3", "8192"), ("0.75", "2048"),
    ],
)
def test_fargate_unsupported_pairs(batch, vcpu, memory):
    container = {"image": "b", "resourceRequirements": resources(vcpu, memory)}
    message = refused(batch, containerProperties=container, platformCapabilities=["FARGATE"])
    assert message == f"Fargate does not support VCPU {float(vcpu):g} with MEMORY {memory} MiB"


@pytest.mark.parametrize(
    "container, text",
    [
        ({"image": "b", "vcpus": 1, "resourceRequirements": [{"type": "MEMORY", "value": "512"}]},
         "vcpus not applicable for Fargate."),
        ({"image": "b", "memory": 512, "resourceRequirements": [{"type": "VCPU", "value": "0.25"}]},
         "memory not applicable for Fargate."),
        ({**FARGATE_CONTAINER, "instanceType": "m5.large"}, "instanceType not applicable for Fargate."),
        ({"image": "b", "resourceRequirements": resources("0.25", "512") + [{"type": "GPU", "value": "1"}]},
         "GPU not applicable for Fargate."),
        ({"image": "b", "resourceRequirements": [{"type": "MEMORY", "value": "512"}]}, "vCPU is not provided."),
        ({"image": "b", "resourceRequirements": [{"type": "VCPU", "value": "0.25"}]}, "memory is not provided."),
        ({"image": "b", "resourceRequirements": resources("quarter", "512")},
         "Value quarter for type VCPU in resourceRequirement is not valid. Please provide a numeric value."),
    ],
)
def test_fargate_container_rules(batch, container, text):
    assert_wrapped(refused(batch, containerProperties=container, platformCapabilities=["FARGATE"]), text)


def test_fargate_accepts_network_and_platform_configuration(batch):
    container = {
        **FARGATE_CONTAINER,
        "networkConfiguration": {"assignPublicIp": "ENABLED"},
        "fargatePlatformConfiguration": {"platformVersion": "LATEST"},
        "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
    }
    register(batch, containerProperties=container, platformCapabilities=["FARGATE"])
    assert describe(batch)[0]["containerProperties"] == container


# -- environment --------------------------------------------------------------


RESERVED = "Environment variable name cannot start with AWS_BATCH"


@pytest.mark.parametrize(
    "params",
    [
        {"containerProperties": {**CONTAINER, "environment": [{"name": "AWS_BATCH_JOB_ID", "value": "x"}]}},
        {"containerProperties": {**CONTAINER, "environment": [{"name": "AWS_BATCHX", "value": "x"}]}},
        {"ecsProperties": {"taskProperties": [{"containers": [
            {"image": "b", "resourceRequirements": resources(), "environment": [{"name": "AWS_BATCH_CE_NAME"}]}]}]}},
        {"eksProperties": {"podProperties": {"containers": [{"image": "b", "env": [{"name": "AWS_BATCH_JQ_NAME"}]}]}}},
        {"eksProperties": {"podProperties": {"containers": [{"image": "b"}],
                                             "initContainers": [{"image": "b", "env": [{"name": "AWS_BATCH_X"}]}]}}},
        {"type": "multinode", "nodeProperties": nodes(2, 0, "0:", environment=[{"name": "AWS_BATCH_Y"}])},
    ],
)
def test_reserved_environment_names(batch, params):
    assert refused(batch, **params) == RESERVED


def test_other_environment_names_accepted(batch):
    env = [{"name": "AWS_REGION", "value": "x"}, {"name": "MY_AWS_BATCH", "value": "y"}]
    register(batch, containerProperties={**CONTAINER, "environment": env})
    assert describe(batch)[0]["containerProperties"]["environment"] == env


# -- ecsProperties ------------------------------------------------------------


def task(*containers, **extra) -> dict:
    return {"taskProperties": [{"containers": list(containers), **extra}]}


SIDECAR = {"image": "b", "essential": False, "resourceRequirements": resources("1", "512")}
MAIN = {"image": "b", "resourceRequirements": resources()}


@pytest.mark.parametrize(
    "ecs, message",
    [
        ({"taskProperties": []}, "ecsProperties.taskProperties must contain exactly one task"),
        ({"taskProperties": [{"containers": [MAIN]}, {"containers": [MAIN]}]},
         "ecsProperties.taskProperties must contain exactly one task"),
        (task(), "A task must have between 1 and 10 containers"),
        (task(*[MAIN] * 11), "A task must have between 1 and 10 containers"),
        (task(SIDECAR, SIDECAR), "At least one container of a task must be essential"),
        (task({"image": "b"}), f"{WRAP}vCPU is not provided."),
        (task({"image": "b", "resourceRequirements": resources("1", "2")}), "Memory must be at least 4 MiB, got 2"),
        (task(MAIN, networkConfiguration={"assignPublicIp": "ENABLED"}),
         f"{WRAP}networkConfiguration not applicable for EC2."),
    ],
)
def test_ecs_properties_rules(batch, ecs, message):
    got = refused(batch, ecsProperties=ecs)
    if message.startswith(WRAP):
        assert_wrapped(got, message[len(WRAP) :])
    else:
        assert got == message


def test_ecs_properties_accepted(batch):
    register(batch, ecsProperties=task(*[MAIN] + [SIDECAR] * 9))
    register(batch, "one", ecsProperties=task({"image": "b", "essential": True, "resourceRequirements": resources()}))
    assert len(describe(batch)) == 2


def test_ecs_fargate_task_is_sized_by_its_containers(batch):
    small = {"image": "b", "resourceRequirements": resources("0.25", "512")}
    register(batch, ecsProperties=task(small, small), platformCapabilities=["FARGATE"])  # 0.5 vCPU, 1024 MiB
    message = refused(batch, name="big", ecsProperties=task(small, small, small), platformCapabilities=["FARGATE"])
    assert message == "Fargate does not support VCPU 0.75 with MEMORY 1536 MiB"
    gpu = {"image": "b", "resourceRequirements": resources("0.25", "512") + [{"type": "GPU", "value": "1"}]}
    message = refused(batch, name="gpu", ecsProperties=task(gpu), platformCapabilities=["FARGATE"])
    assert_wrapped(message, "GPU not applicable for Fargate.")


def test_eks_needs_a_container(batch):
    message = refused(batch, eksProperties={"podProperties": {"containers": []}})
    assert message == "eksProperties.podProperties.containers must contain at least one container"


# -- nodeProperties -----------------------------------------------------------


def test_multinode_registered(batch):
    props = nodes(8, 7, "0:", "2:3", ":1", "4:7")
    register(batch, type="multinode", nodeProperties=props)
    (jd,) = describe(batch)
    assert jd["type"] == "multinode" and jd["nodeProperties"] == props
    assert "containerProperties" not in jd


def test_multinode_ecs_node_groups(batch):
    props = {"numNodes": 2, "mainNode": 0, "nodeRangeProperties": [{"targetNodes": "0:1", "ecsProperties": task(MAIN)}]}
    register(batch, type="multinode", nodeProperties=props)
    assert describe(batch)[0]["nodeProperties"] == props


@pytest.mark.parametrize(
    "props, message",
    [
        (nodes(0, 0), "numNodes must be between 1 and 1000"),
        (nodes(1001, 0), "numNodes must be between 1 and 1000"),
        (nodes(4, 4), "mainNode must be between 0 and 3"),
        (nodes(4, -1), "mainNode must be between 0 and 3"),
        (nodes(4, 0, "0:3", "0:1", "1:2", "2:3", "3:", "0"),
         "nodeRangeProperties must contain between 1 and 5 node groups"),
        ({"numNodes": 2, "mainNode": 0, "nodeRangeProperties": []},
         "nodeRangeProperties must contain between 1 and 5 node groups"),
        (nodes(4, 0, "0"), "targetNodes 0 must be a node range like 0:3, :3 or 3:"),
        (nodes(4, 0, "a:b"), "targetNodes a:b must be a node range like 0:3, :3 or 3:"),
        (nodes(4, 0, "0-3"), "targetNodes 0-3 must be a node range like 0:3, :3 or 3:"),
        (nodes(4, 0, "0:4"), "targetNodes 0:4 must lie within nodes 0 to 3"),
        (nodes(4, 0, "3:1"), "targetNodes 3:1 must lie within nodes 0 to 3"),
        (nodes(4, 0, "4:"), "targetNodes 4: must lie within nodes 0 to 3"),
        (nodes(4, 0, "0:2"), "Node 3 is not covered by the targetNodes of any node range"),
        (nodes(4, 0, ":0", "2:"), "Node 1 is not covered by the targetNodes of any node range"),
        (nodes(2, 0, "0:", resourceRequirements=[{"type": "MEMORY", "value": "512"}]), f"{WRAP}vCPU is not provided."),
    ],
)
def test_node_properties_rules(batch, props, message):
    got = refused(batch, type="multinode", nodeProperties=props)
    if message.startswith(WRAP):
        assert_wrapped(got, message[len(WRAP) :])
    else:
        assert got == message


def test_node_groups_share_one_instance_type(batch):
    props = nodes(4, 0, "0:1", "2:3")
    props["nodeRangeProperties"][0]["instanceTypes"] = ["m5.large"]
    props["nodeRangeProperties"][1]["instanceTypes"] = ["c5.large"]
    message = refused(batch, type="multinode", nodeProperties=props)
    assert message == "All node groups of a multinode job definition must use the same instance type"
    props["nodeRangeProperties"][1]["instanceTypes"] = ["m5.large", "c5.large"]
    message = refused(batch, type="multinode", nodeProperties=props)
    assert message == "instanceTypes of a node range can contain at most one instance type"
    props["nodeRangeProperties"][1]["instanceTypes"] = []
    props["nodeRangeProperties"][1]["container"] = {**CONTAINER, "instanceType": "c5.large"}
    message = refused(batch, type="multinode", nodeProperties=props)
    assert message == "All node groups of a multinode job definition must use the same instance type"
    props["nodeRangeProperties"][1]["container"] = {**CONTAINER, "instanceType": "m5.large"}
    register(batch, type="multinode", nodeProperties=props)


def test_node_group_needs_one_body(batch):
    props = {"numNodes": 2, "mainNode": 0, "nodeRangeProperties": [{"targetNodes": "0:1"}]}
    assert refused(batch, type="multinode", nodeProperties=props) == (
        "A node range needs exactly one of container or ecsProperties"
    )
    props["nodeRangeProperties"][0].update(container=CONTAINER, ecsProperties=task(MAIN))
    assert refused(batch, type="multinode", nodeProperties=props) == (
        "A node range needs exactly one of container or ecsProperties"
    )


def test_thousand_nodes_allowed(batch):
    register(batch, type="multinode", nodeProperties=nodes(1000, 999, ":499", "500:"))
    assert describe(batch)[0]["nodeProperties"]["numNodes"] == 1000


# -- schedulingPriority, retryStrategy, timeout --------------------------------


@pytest.mark.parametrize("priority", [-1, 10000])
def test_scheduling_priority_range(batch, priority):
    assert refused(batch, schedulingPriority=priority) == "schedulingPriority must be between 0 and 9999"


def test_scheduling_priority_bounds_accepted(batch):
    register(batch, schedulingPriority=0)
    register(batch, schedulingPriority=9999)
    assert [d["schedulingPriority"] for d in describe(batch)] == [0, 9999]


@pytest.mark.parametrize(
    "strategy, message",
    [
        ({"attempts": 0}, "Attempts must be between 1 and 10"),
        ({"attempts": 11}, "Attempts must be between 1 and 10"),
        ({"attempts": 2, "evaluateOnExit": [{"action": "EXIT"}] * 6}, "evaluateOnExit must contain at most 5 items"),
        ({"attempts": 2, "evaluateOnExit": [{"action": "EXIT", "onReason": "a" * 513}]},
         "onReason must be at most 512 characters long"),
        ({"attempts": 2, "evaluateOnExit": [{"action": "EXIT", "onStatusReason": "s" * 513}]},
         "onStatusReason must be at most 512 characters long"),
        ({"attempts": 2, "evaluateOnExit": [{"action": "EXIT", "onExitCode": "1" * 513}]},
         "onExitCode must be at most 512 characters long"),
        ({"attempts": 2, "evaluateOnExit": [{"action": "EXIT", "onExitCode": "1a"}]},
         "onExitCode 1a may contain only digits, optionally ending with *"),
        ({"attempts": 2, "evaluateOnExit": [{"action": "EXIT", "onExitCode": "*1"}]},
         "onExitCode *1 may contain only digits, optionally ending with *"),
        ({"attempts": 2, "evaluateOnExit": [{"action": "RETRY", "onReason": "Cannot-Pull"}]},
         "onReason Cannot-Pull may contain only letters, numbers, periods, colons and white space, "
         "optionally ending with *"),
        ({"attempts": 2, "evaluateOnExit": [{"action": "RETRY", "onStatusReason": "Host EC2 (instance"}]},
         "onStatusReason Host EC2 (instance may contain only letters, numbers, periods, colons and white space, "
         "optionally ending with *"),
        ({"attempts": 2, "evaluateOnExit": [{"action": "EXIT", "onReason": "a*b"}]},
         "onReason a*b may contain only letters, numbers, periods, colons and white space, optionally ending with *"),
        ({"attempts": 2, "evaluateOnExit": [{"action": "MAYBE"}]}, "action MAYBE must be one of RETRY | EXIT"),
    ],
)
def test_retry_strategy_rules(batch, strategy, message):
    assert refused(batch, retryStrategy=strategy) == message


def test_evaluate_on_exit_needs_attempts(batch):
    message = refused(batch, retryStrategy={"evaluateOnExit": [{"action": "EXIT", "onExitCode": "1"}]})
    assert_wrapped(message, "RetryAttempts must be provided with retry strategy")


def test_retry_strategy_accepted(batch):
    strategy = {
        "attempts": 10,
        "evaluateOnExit": [
            {"action": "retry", "onStatusReason": "Host EC2*"},
            {"action": "EXIT", "onReason": "*"},
            {"action": "EXIT", "onReason": "CannotPullContainerError: \tx.y*", "onExitCode": "137"},
            {"action": "Exit", "onExitCode": "1*", "onStatusReason": "a" * 512},
            {"action": "RETRY"},
        ],
    }
    register(batch, retryStrategy=strategy)
    register(batch, "one", retryStrategy={"attempts": 1})
    stored = describe(batch, jobDefinitionName="jd")[0]["retryStrategy"]
    assert [c["action"] for c in stored["evaluateOnExit"]] == ["RETRY", "EXIT", "EXIT", "EXIT", "RETRY"]
    assert stored["evaluateOnExit"][2] == {**strategy["evaluateOnExit"][2]}
    assert stored["evaluateOnExit"][0] == {"action": "RETRY", "onStatusReason": "Host EC2*"}
    assert describe(batch, jobDefinitionName="one")[0]["retryStrategy"] == {"attempts": 1}


def test_timeout_minimum(batch):
    assert refused(batch, timeout={"attemptDurationSeconds": 59}) == "Timeout must be at least 60 seconds"
    register(batch, timeout={"attemptDurationSeconds": 60})
    register(batch, timeout={})
    assert [d.get("timeout") for d in describe(batch)] == [{"attemptDurationSeconds": 60}, {}]


def test_public_checks_for_submit_job():
    assert check_retry_strategy(None) is None
    assert check_retry_strategy({"attempts": 3}) == {"attempts": 3}
    given = {"attempts": 2, "evaluateOnExit": [{"action": "exit", "onExitCode": "1"}]}
    assert check_retry_strategy(given) == {"attempts": 2, "evaluateOnExit": [{"action": "EXIT", "onExitCode": "1"}]}
    assert given["evaluateOnExit"][0]["action"] == "exit"
    check_timeout(None)
    check_timeout({"attemptDurationSeconds": 3600})
    with pytest.raises(BatchClientError) as e:
        check_retry_strategy({"evaluateOnExit": [{"action": "EXIT"}]})
    assert e.value.wrapped and e.value.message == "RetryAttempts must be provided with retry strategy"
    with pytest.raises(BatchClientError, match="Attempts must be between 1 and 10"):
        check_retry_strategy({"attempts": 11})
    with pytest.raises(BatchClientError, match="Timeout must be at least 60 seconds"):
        check_timeout({"attemptDurationSeconds": 0})


# -- size -----------------------------------------------------------------------


def test_size_limit_24_kib(batch):
    message = refused(batch, parameters={"big": "x" * (24 * 1024)})
    assert_wrapped(message, "Job definition size must be less than 24 KiB, got 25 KiB")
    register(batch, parameters={"big": "x" * (20 * 1024)})
    assert len(describe(batch)) == 1


def test_failed_register_takes_no_revision(batch):
    register(batch)
    assert refused(batch, timeout={"attemptDurationSeconds": 1}) == "Timeout must be at least 60 seconds"
    assert register(batch)["revision"] == 2
    with pytest.raises(batch.exceptions.ClientException):
        register(batch, "fresh", timeout={"attemptDurationSeconds": 1})
    assert keys(batch) == [("jd", 1, "ACTIVE"), ("jd", 2, "ACTIVE")]
    assert register(batch, "fresh")["revision"] == 1
