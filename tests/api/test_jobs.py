"""Container jobs through a real boto3 client: SubmitJob, DescribeJobs,
ListJobs, CancelJob(s), TerminateJob(s), tags (spec §2, §6.1, §6.2, §9).

Scheduling, dependencies, arrays, retries and timeouts are in
test_jobs_scheduling.py; the helpers here build the environment both use.
"""

from __future__ import annotations

import pytest
import time_machine

from tests.helpers import client_error

ARN = "arn:aws:batch:us-east-1:123456789012:"
T0 = 1_767_225_600_000  # 2026-01-01T00:00:00Z, in ms
UUID_RE = r"[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[0-9a-f]{4}-[0-9a-f]{12}"


# -- environment builders (shared with test_jobs_scheduling.py) ---------------------


def compute_environment(batch, name="ce", max_vcpus=4, kind="EC2", **extra):
    resources = {"type": kind, "maxvCpus": max_vcpus, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]}
    if kind in ("EC2", "SPOT"):
        resources.update(minvCpus=0, instanceTypes=["optimal"], instanceRole="ecsInstanceRole")
    if kind == "SPOT":
        resources["allocationStrategy"] = "SPOT_CAPACITY_OPTIMIZED"
    batch.create_compute_environment(computeEnvironmentName=name, type="MANAGED", computeResources=resources, **extra)
    return ARN + f"compute-environment/{name}"


def eks_compute_environment(batch, name="eks", max_vcpus=8):
    batch.create_compute_environment(
        computeEnvironmentName=name,
        type="MANAGED",
        eksConfiguration={"eksClusterArn": "arn:aws:eks:us-east-1:123456789012:cluster/c", "kubernetesNamespace": "ns"},
        computeResources={"type": "EC2", "minvCpus": 0, "maxvCpus": max_vcpus, "instanceTypes": ["m5.large"],
                          "subnets": ["s"], "securityGroupIds": ["g"], "instanceRole": "r"},
    )
    return ARN + f"compute-environment/{name}"


def job_queue(batch, name="q", ces=("ce",), priority=1, **extra):
    order = [{"order": i + 1, "computeEnvironment": ce} for i, ce in enumerate(ces)]
    batch.create_job_queue(jobQueueName=name, priority=priority, computeEnvironmentOrder=order, **extra)
    return ARN + f"job-queue/{name}"


def job_definition(batch, name="jd", vcpus="1", command=("echo", "hi"), **extra):
    container = {
        "image": "busybox",
        "command": list(command),
        "resourceRequirements": [{"type": "VCPU", "value": vcpus}, {"type": "MEMORY", "value": "512"}],
    }
    container.update(extra.pop("container", {}))
    out = batch.register_job_definition(jobDefinitionName=name, type="container", containerProperties=container, **extra)
    return out["jobDefinitionArn"]


def environment(batch, max_vcpus=4, **jd):
    compute_environment(batch, max_vcpus=max_vcpus)
    job_queue(batch)
    return job_definition(batch, **jd)


def submit(batch, name="job", queue="q", definition="jd", **kwargs):
    return batch.submit_job(jobName=name, jobQueue=queue, jobDefinition=definition, **kwargs)["jobId"]


def describe(batch, job_id):
    (job,) = batch.describe_jobs(jobs=[job_id])["jobs"]
    return job


def status(batch, job_id):
    return describe(batch, job_id)["status"]


@pytest.fixture
def frozen():
    with time_machine.travel(T0 / 1000, tick=False):
        yield


# == SubmitJob ===================================================================


def test_submit_and_describe_full_detail(batch, lb, frozen):
    jd = environment(batch, command=["echo", "Ref::greeting"], parameters={"greeting": "hi"})
    lb.on_job("held", duration=None)
    out = batch.submit_job(jobName="held", jobQueue="q", jobDefinition="jd", tags={"team": "a"})
    assert out["jobName"] == "held"
    assert out["jobArn"] == ARN + f"job/{out['jobId']}"
    job = describe(batch, out["jobId"])
    assert job["status"] == "RUNNING"
    assert job["jobQueue"] == ARN + "job-queue/q"
    assert job["jobDefinition"] == jd
    assert job["createdAt"] == job["startedAt"] == T0
    assert "stoppedAt" not in job
    assert job["attempts"] == []
    assert job["parameters"] == {"greeting": "hi"}
    assert job["container"]["command"] == ["echo", "hi"]
    assert job["container"]["image"] == "busybox"
    assert job["container"]["logStreamName"].startswith("jd/default/")
    assert job["container"]["taskArn"].startswith("arn:aws:ecs:us-east-1:123456789012:task/")
    assert job["tags"] == {"team": "a"}
    assert job["platformCapabilities"] == ["EC2"]
    assert job["dependsOn"] == []
    assert job["isCancelled"] is False and job["isTerminated"] is False

    lb.advance(30)
    lb.complete(out["jobId"], exit_code=0)
    job = describe(batch, out["jobId"])
    assert job["status"] == "SUCCEEDED"
    assert job["statusReason"] == "Essential container in task exited"
    assert job["stoppedAt"] == T0 + 30_000
    (attempt,) = job["attempts"]
    assert attempt["startedAt"] == T0 and attempt["stoppedAt"] == T0 + 30_000
    assert attempt["statusReason"] == "Essential container in task exited"
    assert attempt["container"]["exitCode"] == 0
    assert attempt["container"]["logStreamName"] == job["container"]["logStreamName"]
    assert job["container"]["exitCode"] == 0


def test_default_job_succeeds_at_once(batch, frozen):
    environment(batch)
    job_id = submit(batch)
    job = describe(batch, job_id)
    assert job["status"] == "SUCCEEDED"
    assert job["statusReason"] == "Essential container in task exited"
    assert job["createdAt"] == job["startedAt"] == job["stoppedAt"] == T0
    assert job["attempts"][0]["container"]["exitCode"] == 0


def test_job_ids_are_uuid4(batch):
    import re

    environment(batch)
    assert re.fullmatch(UUID_RE, submit(batch))


@pytest.mark.parametrize("name", ["-starts-with-dash", "_x", "has space", "x" * 129, "dot.name"])
def test_job_name_pattern_is_wrapped(batch, name):
    environment(batch)
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, name=name)
    message = client_error(e)
    assert message.startswith("Error executing request, Exception : Job name should match valid pattern, RequestId: ")


def test_job_name_limits_accepted(batch):
    environment(batch)
    submit(batch, name="a" * 128)
    submit(batch, name="9_a-b")


def test_job_size_limit(batch):
    environment(batch)
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, parameters={"p": "x" * 31 * 1024})
    assert client_error(e).startswith(
        "Error executing request, Exception : Job size must be less than 30 KiB, got 32 KiB, RequestId: "
    )


def test_unknown_queue_and_definition(batch):
    environment(batch)
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, queue="nope")
    assert client_error(e) == "JobQueue nope not found."
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, definition="nope")
    assert client_error(e) == "JobDefinition name nope does not exist or is not in ACTIVE status"
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, definition=ARN + "job-definition/jd:7")
    assert client_error(e) == f"JobDefinition {ARN}job-definition/jd:7 not found."


def test_queue_by_arn_and_disabled_queue(batch):
    environment(batch)
    assert status(batch, submit(batch, queue=ARN + "job-queue/q")) == "SUCCEEDED"
    batch.update_job_queue(jobQueue="q", state="DISABLED")
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch)
    assert client_error(e) == "JobQueue q is not in ENABLED state"


def test_platform_capability_must_match_queue(batch):
    compute_environment(batch, name="fargate", kind="FARGATE")
    job_queue(batch, name="fq", ces=("fargate",))
    job_definition(batch)
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, queue="fq")
    assert client_error(e) == "Job Queue is attached to Compute Environment that can not run Jobs with capability EC2."


def test_share_identifier_on_fifo_queue_refused(batch):
    environment(batch)
    for kwargs in ({"shareIdentifier": "a"}, {"schedulingPriorityOverride": 1}):
        with pytest.raises(batch.exceptions.ClientException) as e:
            submit(batch, **kwargs)
        assert client_error(e) == (
            "Job with shareIdentifier or schedulingPriority can onlybe submitted to job queue with fair share "
            "scheduling policy."
        )


def test_fair_share_queue_needs_share_identifier(batch):
    compute_environment(batch)
    policy = batch.create_scheduling_policy(name="fs")["arn"]
    job_queue(batch, name="fq", schedulingPolicyArn=policy)
    job_definition(batch, schedulingPriority=5)
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, queue="fq")
    assert client_error(e) == "shareIdentifier is required for a job queue with a fair share scheduling policy"
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, queue="fq", shareIdentifier="a", schedulingPriorityOverride=10000)
    assert client_error(e) == "schedulingPriority must be between 0 and 9999"
    job = describe(batch, submit(batch, queue="fq", shareIdentifier="a"))
    assert job["shareIdentifier"] == "a" and job["schedulingPriority"] == 5
    job = describe(batch, submit(batch, queue="fq", shareIdentifier="b", schedulingPriorityOverride=9))
    assert job["schedulingPriority"] == 9


def test_dependency_limits(batch):
    environment(batch)
    first = submit(batch)
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, dependsOn=[{"jobId": first}] * 21)
    assert client_error(e).startswith(
        "Error executing request, Exception : Job cannot have more than 20 dependencies, RequestId: "
    )
    submit(batch, dependsOn=[{"jobId": first}] * 20)
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, dependsOn=[{"jobId": "00000000-0000-4000-8000-000000000000"}])
    assert client_error(e) == "Dependent job 00000000-0000-4000-8000-000000000000 not found"
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, dependsOn=[{"type": "SEQUENTIAL"}])
    assert "only be specified for an array job" in client_error(e)
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, arrayProperties={"size": 2}, dependsOn=[{"jobId": first, "type": "N_TO_N"}])
    assert "N_TO_N" in client_error(e)


@pytest.mark.parametrize("size", [1, 10001])
def test_array_size_limits(batch, size):
    environment(batch)
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, arrayProperties={"size": size})
    assert client_error(e) == "Array size must be between 2 and 10000"


def test_retry_timeout_and_tag_validation(batch):
    environment(batch)
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, retryStrategy={"evaluateOnExit": [{"action": "RETRY", "onExitCode": "1"}]})
    assert client_error(e).startswith(
        "Error executing request, Exception : RetryAttempts must be provided with retry strategy, RequestId: "
    )
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, retryStrategy={"attempts": 11})
    assert client_error(e) == "Attempts must be between 1 and 10"
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, timeout={"attemptDurationSeconds": 59})
    assert client_error(e) == "Timeout must be at least 60 seconds"
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, tags={"aws:x": "y"})
    assert "reserved" in client_error(e)
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, containerOverrides={"environment": [{"name": "AWS_BATCH_X", "value": "1"}]})
    assert client_error(e) == "Environment variable name cannot start with AWS_BATCH"


def test_missing_parameter_reference(batch):
    environment(batch, command=["run", "--in=Ref::inputfile"])
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch)
    assert client_error(e) == "Unable to substitute value. No parameter found for reference inputfile"
    job = describe(batch, submit(batch, parameters={"inputfile": "s3://b/k"}))
    assert job["container"]["command"] == ["run", "--in=s3://b/k"]


def test_overrides_merge(batch, lb):
    job_definition(
        batch,
        command=["echo", "Ref::a", "Ref::b"],
        parameters={"a": "1", "b": "2"},
        container={"environment": [{"name": "KEEP", "value": "k"}, {"name": "SWAP", "value": "old"}]},
        retryStrategy={"attempts": 2},
        timeout={"attemptDurationSeconds": 100},
        propagateTags=False,
    )
    compute_environment(batch, max_vcpus=8)
    job_queue(batch)
    job_id = submit(
        batch,
        parameters={"b": "two"},
        containerOverrides={
            "command": ["run", "Ref::a", "Ref::b"],
            "environment": [{"name": "SWAP", "value": "new"}, {"name": "ADD", "value": "x"}],
            "resourceRequirements": [{"type": "VCPU", "value": "4"}],
        },
        retryStrategy={"attempts": 3},
        timeout={"attemptDurationSeconds": 200},
        propagateTags=True,
    )
    job = describe(batch, job_id)
    assert job["parameters"] == {"a": "1", "b": "two"}
    assert job["container"]["command"] == ["run", "1", "two"]
    assert job["container"]["environment"] == [
        {"name": "KEEP", "value": "k"}, {"name": "SWAP", "value": "new"}, {"name": "ADD", "value": "x"}
    ]
    assert job["container"]["resourceRequirements"] == [
        {"type": "VCPU", "value": "4"}, {"type": "MEMORY", "value": "512"}
    ]
    assert job["retryStrategy"] == {"attempts": 3}
    assert job["timeout"] == {"attemptDurationSeconds": 200}
    assert job["propagateTags"] is True


def test_environment_seen_by_run(batch, lb):
    environment(batch)
    seen = []
    lb.on_job("*", run=lambda job: seen.append(job) or 0)
    job_id = submit(batch, name="look", containerOverrides={"environment": [{"name": "MINE", "value": "1"}]})
    assert seen == []  # nothing runs until the engine is asked to move
    lb.run_until_idle()
    (run,) = seen
    assert run.job_id == job_id
    assert run.attempt == 1
    assert run.command == ["echo", "hi"]
    assert run.environment == {
        "MINE": "1",
        "AWS_BATCH_CE_NAME": "ce",
        "AWS_BATCH_JQ_NAME": "q",
        "AWS_BATCH_JOB_ID": job_id,
        "AWS_BATCH_JOB_ATTEMPT": "1",
    }


def test_long_container_overrides_fail_the_job(batch):
    environment(batch)
    job_id = submit(batch, containerOverrides={"command": ["x" * 9000]})
    job = describe(batch, job_id)
    assert job["status"] == "FAILED"
    assert job["statusReason"] == "Container Overrides length must be at most 8192"
    assert job["attempts"] == []


def test_propagated_tags_over_fifty_fail_the_job(batch):
    environment(batch, tags={f"jd{i}": "v" for i in range(30)}, propagateTags=True)
    job_id = submit(batch, tags={f"job{i}": "v" for i in range(21)})
    job = describe(batch, job_id)
    assert job["status"] == "FAILED" and job["statusReason"] == "Total number of tags exceeds 50"


def test_consumable_resource_override_and_listing(batch, lb, frozen):
    environment(batch)
    batch.create_consumable_resource(consumableResourceName="licenses", totalQuantity=2)
    with pytest.raises(batch.exceptions.ClientException):
        submit(batch, consumableResourcePropertiesOverride={"consumableResourceList": [
            {"consumableResource": "nope", "quantity": 1}]})
    lb.on_job("*", duration=None)
    needs = {"consumableResourceList": [{"consumableResource": "licenses", "quantity": 1}]}
    ids = [submit(batch, name=f"lic{i}", consumableResourcePropertiesOverride=needs) for i in range(3)]
    submit(batch, name="free")
    assert [status(batch, i) for i in ids] == ["RUNNING", "RUNNING", "RUNNABLE"]
    resource = batch.describe_consumable_resource(consumableResource="licenses")
    assert resource["inUseQuantity"] == 2 and resource["availableQuantity"] == 0
    jobs = batch.list_jobs_by_consumable_resource(consumableResource="licenses")["jobs"]
    assert [j["jobName"] for j in jobs] == ["lic0", "lic1", "lic2"]
    assert jobs[0]["quantity"] == 1 and jobs[0]["jobStatus"] == "RUNNING"
    assert jobs[0]["consumableResourceProperties"] == {
        "consumableResourceList": [{"consumableResource": "licenses", "quantity": 1}]
    }
    running = batch.list_jobs_by_consumable_resource(
        consumableResource="licenses", filters=[{"name": "JOB_STATUS", "values": ["RUNNABLE"]}]
    )["jobs"]
    assert [j["jobName"] for j in running] == ["lic2"]
    named = batch.list_jobs_by_consumable_resource(
        consumableResource="licenses", filters=[{"name": "JOB_NAME", "values": ["LIC1"]}]
    )["jobs"]
    assert [j["jobName"] for j in named] == ["lic1"]
    page = batch.list_jobs_by_consumable_resource(consumableResource="licenses", maxResults=2)
    rest = batch.list_jobs_by_consumable_resource(consumableResource="licenses", nextToken=page["nextToken"])
    assert [j["jobName"] for j in page["jobs"] + rest["jobs"]] == ["lic0", "lic1", "lic2"]
    assert "nextToken" not in rest
    lb.complete(ids[0])
    assert status(batch, ids[2]) == "RUNNING"
    resource = batch.describe_consumable_resource(consumableResource="licenses")
    assert resource["inUseQuantity"] == 2


# == DescribeJobs ==================================================================


def test_describe_limits_order_and_unknown_ids(batch):
    environment(batch)
    a, b = submit(batch, name="a"), submit(batch, name="b")
    jobs = batch.describe_jobs(jobs=[b, "00000000-0000-4000-8000-000000000000", a, b])["jobs"]
    assert [j["jobName"] for j in jobs] == ["b", "a"]
    assert batch.describe_jobs(jobs=[a] * 100)["jobs"][0]["jobId"] == a
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.describe_jobs(jobs=[a] * 101)
    assert client_error(e).startswith(
        "Error executing request, Exception : Maximum number of jobs supported is  100 ., RequestId: "
    )


# == ListJobs ======================================================================


def test_list_jobs_scope_rules(batch):
    environment(batch)
    for kwargs in ({}, {"jobQueue": "q", "arrayJobId": "x"}):
        with pytest.raises(batch.exceptions.ClientException) as e:
            batch.list_jobs(**kwargs)
        assert client_error(e) == "Exactly one of jobQueue, arrayJobId or multiNodeJobId must be specified"
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.list_jobs(jobQueue="nope")
    assert client_error(e) == "JobQueue nope not found."


def test_list_jobs_running_by_default_newest_first(batch, lb):
    environment(batch)
    lb.on_job("run*", duration=None)
    a = submit(batch, name="run-a")
    b = submit(batch, name="run-b")
    submit(batch, name="done")
    listed = batch.list_jobs(jobQueue="q")["jobSummaryList"]
    assert [j["jobId"] for j in listed] == [b, a]
    summary = listed[0]
    assert summary["status"] == "RUNNING"
    assert summary["capacityUsage"] == [{"capacityUnit": "VCPU", "quantity": 1.0}]
    assert summary["jobDefinition"] == ARN + "job-definition/jd:1"
    assert {"createdAt", "scheduledAt", "startedAt"} <= set(summary)
    done = batch.list_jobs(jobQueue=ARN + "job-queue/q", jobStatus="SUCCEEDED")["jobSummaryList"]
    assert [j["jobName"] for j in done] == ["done"]
    assert done[0]["container"] == {"exitCode": 0}


def test_list_jobs_pagination_limits(batch, lb):
    environment(batch)
    ids = [submit(batch, name=f"j{i}") for i in range(7)]
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.list_jobs(jobQueue="q", jobStatus="SUCCEEDED", maxResults=1001)
    assert client_error(e) == "maxResults must be between 1 and 1000"
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.list_jobs(jobQueue="q", filters=[{"name": "JOB_NAME", "values": ["j*"]}], maxResults=101)
    assert client_error(e) == "maxResults must be between 1 and 100"
    assert len(batch.list_jobs(jobQueue="q", jobStatus="SUCCEEDED", maxResults=1000)["jobSummaryList"]) == 7
    first = batch.list_jobs(jobQueue="q", jobStatus="SUCCEEDED", maxResults=3)
    assert [j["jobId"] for j in first["jobSummaryList"]] == ids[::-1][:3]
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.list_jobs(jobQueue="q", jobStatus="FAILED", nextToken=first["nextToken"])
    assert client_error(e) == "Invalid nextToken"
    pages = batch.get_paginator("list_jobs").paginate(
        jobQueue="q", jobStatus="SUCCEEDED", PaginationConfig={"PageSize": 2}
    )
    seen = [j["jobId"] for page in pages for j in page["jobSummaryList"]]
    assert seen == ids[::-1]


def test_list_jobs_filters(batch, lb, frozen):
    environment(batch)
    job_definition(batch, name="other")
    submit(batch, name="Test1")
    lb.advance(1)
    submit(batch, name="test10", definition="other")
    lb.advance(1)
    submit(batch, name="unrelated")

    def names(name, value, **kwargs):
        out = batch.list_jobs(jobQueue="q", filters=[{"name": name, "values": [value]}], **kwargs)
        return [j["jobName"] for j in out["jobSummaryList"]]

    assert names("JOB_NAME", "test1") == ["Test1"]
    assert names("JOB_NAME", "test1*") == ["test10", "Test1"]
    assert names("JOB_DEFINITION", "other") == ["test10"]
    assert names("JOB_DEFINITION", "jd:1") == ["unrelated", "Test1"]
    assert names("JOB_DEFINITION", "ot*") == ["test10"]
    assert names("JOB_DEFINITION", ARN + "job-definition/other:1") == ["test10"]
    assert names("BEFORE_CREATED_AT", str(T0 + 1000)) == ["Test1"]
    assert names("AFTER_CREATED_AT", str(T0)) == ["unrelated", "test10"]
    # With a filter, jobStatus is ignored (all three SUCCEEDED anyway).
    assert names("JOB_NAME", "unrelated", jobStatus="RUNNING") == ["unrelated"]
    with pytest.raises(batch.exceptions.ClientException) as e:
        names("JOB_DEFINITION", ARN + "job-definition/other*")
    assert "cannot contain *" in client_error(e)
    with pytest.raises(batch.exceptions.ClientException) as e:
        names("BOGUS", "x")
    assert "Invalid filter name BOGUS" in client_error(e)
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.list_jobs(jobQueue="q", filters=[{"name": "JOB_NAME", "values": ["a"]}, {"name": "JOB_NAME",
                                                                                          "values": ["b"]}])
    assert client_error(e) == "Only one filter can be specified at a time"
    page = batch.list_jobs(jobQueue="q", filters=[{"name": "JOB_NAME", "values": ["*"]}], maxResults=2)
    rest = batch.list_jobs(jobQueue="q", filters=[{"name": "JOB_NAME", "values": ["*"]}], nextToken=page["nextToken"])
    assert [j["jobName"] for j in page["jobSummaryList"] + rest["jobSummaryList"]] == ["unrelated", "test10", "Test1"]


# == CancelJob / TerminateJob ========================================================


def test_a_bad_filter_is_refused_whatever_the_scope_holds(batch):
    """§6.1: filter names are checked even when nothing would be filtered:
    an empty queue, or an array job's children (which filters do not apply to)."""
    environment(batch)
    bad = [{"name": "job_name", "values": ["a"]}]
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.list_jobs(jobQueue="q", filters=bad)
    assert "Invalid filter name job_name" in client_error(e)
    parent = submit(batch, arrayProperties={"size": 2})
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.list_jobs(arrayJobId=parent, filters=bad)
    assert "Invalid filter name job_name" in client_error(e)
    assert batch.list_jobs(jobQueue="q", filters=[{"name": "JOB_NAME", "values": ["none"]}])["jobSummaryList"] == []


def test_cancel_by_state(batch, lb):
    environment(batch, max_vcpus=1)
    lb.on_job("*", duration=None)
    running = submit(batch, name="running")
    queued = submit(batch, name="queued")
    pending = submit(batch, name="pending", dependsOn=[{"jobId": running}])
    batch.cancel_job(jobId=queued, reason="not needed")
    job = describe(batch, queued)
    assert (job["status"], job["statusReason"], job["isCancelled"]) == ("FAILED", "not needed", True)
    assert "startedAt" not in job and "stoppedAt" in job
    batch.cancel_job(jobId=running, reason="too late")
    assert describe(batch, running)["status"] == "RUNNING"
    assert describe(batch, running)["isCancelled"] is False
    batch.cancel_job(jobId=pending, reason="later")
    job = describe(batch, pending)
    assert (job["status"], job["isCancelled"]) == ("PENDING", True)  # waits for its dependency
    lb.complete(running)
    job = describe(batch, pending)
    assert (job["status"], job["statusReason"]) == ("FAILED", "later")
    batch.cancel_job(jobId=queued, reason="again")  # a finished job: success, no change
    assert describe(batch, queued)["statusReason"] == "not needed"
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.cancel_job(jobId="00000000-0000-4000-8000-000000000000", reason="x")
    assert client_error(e) == "Job 00000000-0000-4000-8000-000000000000 not found"


def test_terminate_running_job(batch, lb, frozen):
    environment(batch)
    lb.on_job("*", duration=None)
    job_id = submit(batch, retryStrategy={"attempts": 3})
    lb.advance(5)
    batch.terminate_job(jobId=job_id, reason="stop it")
    job = describe(batch, job_id)
    assert (job["status"], job["statusReason"], job["isTerminated"]) == ("FAILED", "stop it", True)
    assert job["stoppedAt"] == T0 + 5000
    (attempt,) = job["attempts"]  # never retried
    assert attempt["container"]["exitCode"] == 143
    assert attempt["statusReason"] == "stop it"
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.terminate_job(jobId=job_id, reason="x" * 1025)
    assert client_error(e) == "reason must be at most 1024 characters long"


def test_terminate_queued_job_is_a_cancel(batch, lb):
    environment(batch, max_vcpus=1)
    lb.on_job("*", duration=None)
    submit(batch, name="running")
    queued = submit(batch, name="queued")
    batch.terminate_job(jobId=queued, reason="bye")
    job = describe(batch, queued)
    assert (job["status"], job["isCancelled"], job["isTerminated"]) == ("FAILED", True, False)


def test_bulk_cancel_and_terminate(batch, lb):
    environment(batch, max_vcpus=1)
    lb.on_job("*", duration=None)
    running = submit(batch, name="running")
    queued = submit(batch, name="queued")
    unknown = "00000000-0000-4000-8000-000000000000"
    out = batch.cancel_jobs(jobs=[running, queued, unknown, queued, "not-an-id"], reason="bulk")
    assert out["successful"] == [running, queued, unknown]
    assert out["errors"] == [{"job": "not-an-id", "code": "ValidationException", "message": "Invalid job id not-an-id"}]
    assert status(batch, running) == "RUNNING" and status(batch, queued) == "FAILED"
    out = batch.terminate_jobs(jobs=[running], reason="bulk stop")
    assert out == {"successful": [running], "errors": [], "ResponseMetadata": out["ResponseMetadata"]}
    job = describe(batch, running)
    assert (job["status"], job["isTerminated"], job["statusReason"]) == ("FAILED", True, "bulk stop")
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.cancel_jobs(jobs=[unknown] * 51, reason="x")
    assert client_error(e) == "jobs must contain at most 50 items"


# == tags ===========================================================================


def test_job_tags(batch):
    environment(batch)
    job_id = submit(batch, tags={"a": "1"}, arrayProperties={"size": 2})
    arn = ARN + f"job/{job_id}"
    batch.tag_resource(resourceArn=arn, tags={"b": "2"})
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "1", "b": "2"}
    batch.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"b": "2"}
    assert describe(batch, job_id)["tags"] == {"b": "2"}
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.tag_resource(resourceArn=arn + ":0", tags={"c": "3"})
    assert "not supported" in client_error(e)
    with pytest.raises(batch.exceptions.ClientException):
        batch.list_tags_for_resource(resourceArn=ARN + "job/00000000-0000-4000-8000-000000000000")


# == ecsProperties / eksProperties jobs ===============================================


def test_ecs_properties_job(batch, lb):
    compute_environment(batch)
    job_queue(batch)
    batch.register_job_definition(
        jobDefinitionName="ecs",
        type="container",
        parameters={"who": "world"},
        ecsProperties={"taskProperties": [{"containers": [
            {"name": "main", "image": "busybox", "command": ["echo", "Ref::who"],
             "resourceRequirements": [{"type": "VCPU", "value": "2"}, {"type": "MEMORY", "value": "512"}]},
            {"name": "side", "image": "busybox", "essential": False,
             "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}]},
        ]}]},
    )
    lb.on_job("*", duration=None)
    job_id = submit(batch, definition="ecs", ecsPropertiesOverride={"taskProperties": [{"containers": [
        {"name": "main", "command": ["echo", "override", "Ref::who"]}]}]})
    listed = batch.list_jobs(jobQueue="q")["jobSummaryList"]
    assert listed[0]["capacityUsage"] == [{"capacityUnit": "VCPU", "quantity": 3.0}]
    lb.complete(job_id, exit_code=2, reason="bad")
    job = describe(batch, job_id)
    (task,) = job["ecsProperties"]["taskProperties"]
    main, side = task["containers"]
    assert main["command"] == ["echo", "override", "world"]
    assert main["exitCode"] == 2 and main["reason"] == "bad"
    assert "exitCode" not in side
    assert task["taskArn"].startswith("arn:aws:ecs:")
    assert "container" not in job


def test_eks_properties_job(batch, lb):
    eks_compute_environment(batch)
    job_queue(batch, ces=("eks",))
    batch.register_job_definition(
        jobDefinitionName="pod",
        type="container",
        eksProperties={"podProperties": {"containers": [
            {"name": "c", "image": "busybox", "command": ["sleep"], "args": ["Ref::t"],
             "resources": {"requests": {"cpu": "500m", "memory": "256Mi"}}},
        ]}},
        parameters={"t": "1"},
    )
    lb.on_job("*", duration=None)
    job_id = submit(batch, definition="pod")
    listed = batch.list_jobs(jobQueue="q")["jobSummaryList"]
    assert listed[0]["capacityUsage"] == [{"capacityUnit": "cpu", "quantity": 0.5}]
    lb.complete(job_id, exit_code=0)
    job = describe(batch, job_id)
    assert job["eksProperties"]["podProperties"]["containers"][0]["args"] == ["1"]
    (attempt,) = job["eksAttempts"]
    assert attempt["containers"] == [{"name": "c", "exitCode": 0}]
    assert "platformCapabilities" not in job
