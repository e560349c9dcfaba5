"""Service jobs through a real boto3 client (spec §4, §9, §7, §2.9, §1.3)."""

from __future__ import annotations

import json

import pytest

from localbatch.api import OPERATIONS
from localbatch.engine.service_lifecycle import explain_service_job
from tests.api.test_service_jobs_support import (
    ACCOUNT,
    GPU,
    T0_MS,
    client,
    describe,
    fifo_queue,
    frozen_lb,
    payload,
    quota_queue,
    share,
    statuses,
    submit,
)
from tests.helpers import client_error


@pytest.fixture
def lb():
    yield from frozen_lb()


@pytest.fixture
def batch(lb):
    return client()

COMPLETED = "Received status from SageMaker: Training job completed"
SDK_RETRY = {  # what the SageMaker Python SDK sends by default
    "attempts": 1,
    "evaluateOnExit": [
        {"action": "RETRY", "onStatusReason": "Received status from SageMaker:InternalServerError: "
         "We encountered an internal error. Please try again."},
        {"action": "EXIT", "onStatusReason": "*"},
    ],
}


@pytest.fixture
def fifo(batch, lb):
    return fifo_queue(batch, lb)


# -- SubmitServiceJob -------------------------------------------------------------------


def test_submit_returns_service_job_arn_and_runs_to_success(batch, lb, fifo):
    out = batch.submit_service_job(jobName="train", jobQueue=fifo, serviceJobType="SAGEMAKER_TRAINING",
                                   serviceRequestPayload=payload("train"))
    assert out["jobArn"] == f"arn:aws:batch:us-east-1:{ACCOUNT}:service-job/{out['jobId']}"
    job = describe(batch, out["jobId"])
    assert job["status"] == "SUCCEEDED" and job["statusReason"] == COMPLETED
    assert [r["to"] for r in lb.timeline()] == ["SUBMITTED", "RUNNABLE", "SCHEDULED", "STARTING", "RUNNING", "SUCCEEDED"]


def test_describe_has_every_field_the_sagemaker_sdk_reads(batch, lb, fifo):
    lb.on_job(duration=None)
    job_id = submit(batch, "train", fifo, retryStrategy=SDK_RETRY, timeoutConfig={"attemptDurationSeconds": 86400},
                    schedulingPriority=7, tags={"team": "a"}, preemptionConfiguration={
                        "preemptionRetriesBeforeTermination": 2})
    lb.advance(5)
    job = describe(batch, job_id)
    arn = job["latestAttempt"]["serviceResourceId"]["value"]
    assert job["latestAttempt"]["serviceResourceId"]["name"] == "TrainingJobArn"
    name = arn.rpartition("/")[2]
    assert arn == f"arn:aws:sagemaker:us-east-1:{ACCOUNT}:training-job/{name}"
    assert name.startswith("AWSBatchtrain") and len(name) == len("AWSBatchtrain") + 32
    assert job["attempts"] == [{"serviceResourceId": {"name": "TrainingJobArn", "value": arn}, "startedAt": T0_MS}]
    assert job["status"] == "RUNNING" and job["createdAt"] == job["scheduledAt"] == job["startedAt"] == T0_MS
    assert job["capacityUsage"] == [{"capacityUnit": GPU, "quantity": 1.0}]
    assert job["retryStrategy"] == SDK_RETRY and job["timeoutConfig"] == {"attemptDurationSeconds": 86400}
    assert job["schedulingPriority"] == 7 and job["tags"] == {"team": "a"} and job["isTerminated"] is False
    assert job["preemptionConfiguration"] == {"preemptionRetriesBeforeTermination": 2}
    assert json.loads(job["serviceRequestPayload"])["TrainingJobName"] == "train"
    assert "preemptionSummary" not in job and "stoppedAt" not in job
    lb.complete(job_id)
    job = describe(batch, job_id)
    assert (job["status"], job["statusReason"], job["stoppedAt"]) == ("SUCCEEDED", COMPLETED, T0_MS + 5000)
    assert job["attempts"][0]["stoppedAt"] == T0_MS + 5000 and job["attempts"][0]["statusReason"] == COMPLETED


def test_runnable_job_has_no_attempts_nor_started_at(batch, lb):
    fifo_queue(batch, lb, max_instances=1)
    lb.on_job(duration=None)
    submit(batch, "first", "fifo")
    second = submit(batch, "second", "fifo")
    lb.advance(1)
    job = describe(batch, second)
    assert job["status"] == "RUNNABLE" and job["attempts"] == []
    assert not {"startedAt", "latestAttempt", "scheduledAt"} & set(job)


@pytest.mark.parametrize(
    "overrides, fragment",
    [
        ({"jobName": "bad name"}, "Job name should match valid pattern"),
        ({"jobName": "x" * 129}, "Job name should match valid pattern"),
        ({"jobQueue": "nope"}, "JobQueue nope not found."),
        ({"schedulingPriority": 10000}, "schedulingPriority must be between 0 and 9999"),
        ({"retryStrategy": {"attempts": 11}}, "Attempts must be between 1 and 10"),
        ({"retryStrategy": {"attempts": 0}}, "Attempts must be between 1 and 10"),
        ({"retryStrategy": {"attempts": 2, "evaluateOnExit": [{"action": "EXIT"}] * 6}}, "at most 5"),
        ({"retryStrategy": {"attempts": 2, "evaluateOnExit": [{"action": "EXIT", "onStatusReason": "x" * 513}]}},
         "onStatusReason"),
        ({"retryStrategy": {"attempts": 2, "evaluateOnExit": [{"onStatusReason": "x"}]}}, "action"),
        ({"timeoutConfig": {"attemptDurationSeconds": 59}}, "Timeout must be at least 60 seconds"),
        ({"preemptionConfiguration": {"preemptionRetriesBeforeTermination": -1}}, "greater than or equal to 0"),
        ({"shareIdentifier": "a"}, "shareIdentifier can only be specified"),
        ({"quotaShareName": "a"}, "quotaShareName can only be specified"),
        ({"tags": {"aws:x": "y"}}, "reserved"),
        ({"serviceRequestPayload": "x" * (10 * 1024 + 1)}, "Service request payload size must be less than 10 KiB"),
        # 6,000 characters, 12,000 bytes in UTF-8: the limit is on bytes.
        ({"serviceRequestPayload": "é" * 6000}, "Service request payload size must be less than 10 KiB, got 12 KiB"),
        ({"tags": {f"{i:02d}" + "k" * 126: "v" * 256 for i in range(50)}, "serviceRequestPayload": "x" * 10000,
          "retryStrategy": {"attempts": 1, "evaluateOnExit": [{"action": "EXIT", "onStatusReason": "r" * 512}] * 5}},
         "Job size must be less than 30 KiB, got 32 KiB"),
        # Under 10 KiB as given, 53 KiB as JSON: each control character takes 6 bytes (\u0001).
        ({"serviceRequestPayload": "\x01" * 9000}, "Job size must be less than 30 KiB, got 53 KiB"),
    ],
)
def test_submit_validation(batch, fifo, overrides, fragment):
    params = dict(jobName="train", jobQueue=fifo, serviceJobType="SAGEMAKER_TRAINING", serviceRequestPayload="{}")
    params.update(overrides)
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.submit_service_job(**params)
    assert fragment in client_error(e)


def test_submit_wrapped_messages_carry_the_envelope(batch, fifo):
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, "bad name", fifo)
    assert client_error(e).startswith("Error executing request, Exception : Job name should match valid pattern")


def test_submit_to_container_queue_or_disabled_queue_is_refused(batch, lb, fifo):
    batch.update_job_queue(jobQueue=fifo, state="DISABLED")
    lb.advance(0)
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, "train", fifo)
    assert client_error(e) == "JobQueue fifo is not in ENABLED state"


def test_quota_queue_needs_an_existing_enabled_share(batch, lb):
    quota_queue(batch, lb)
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, "train")
    assert "quotaShareName is required" in client_error(e)
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, "train", quotaShareName="ghost")
    assert client_error(e) == "Quota share ghost does not exist in job queue training"


def test_fair_share_queue_needs_share_identifier(batch, lb):
    policy = batch.create_scheduling_policy(name="fair")["arn"]
    fifo_queue(batch, lb, name="fair", schedulingPolicyArn=policy)
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, "train", "fair")
    assert "shareIdentifier is required" in client_error(e)
    job = submit(batch, "train", "fair", shareIdentifier="teamA")
    assert describe(batch, job)["shareIdentifier"] == "teamA"


def test_client_token_idempotency(batch, lb, fifo):
    params = dict(jobName="train", jobQueue=fifo, serviceJobType="SAGEMAKER_TRAINING",
                  serviceRequestPayload=payload(), clientToken="tok-1")
    first = batch.submit_service_job(**params)
    again = batch.submit_service_job(**params)
    assert (again["jobId"], again["jobArn"]) == (first["jobId"], first["jobArn"])
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.submit_service_job(**{**params, "jobName": "other"})
    assert client_error(e) == "Idempotency token tok-1 was already used with different parameters"
    lb.advance(8 * 3600)
    assert batch.submit_service_job(**params)["jobId"] != first["jobId"]  # the token expired
    # Without a clientToken botocore fills a fresh one: two calls, two jobs.
    params.pop("clientToken")
    assert batch.submit_service_job(**params)["jobId"] != batch.submit_service_job(**params)["jobId"]


def test_client_token_matches_the_request_whatever_the_order_of_its_fields(batch, fifo):
    params = {"jobName": "train", "jobQueue": fifo, "serviceJobType": "SAGEMAKER_TRAINING",
              "serviceRequestPayload": payload(), "tags": {"a": "1", "b": "2"}, "clientToken": "tok-2"}
    first = batch.submit_service_job(**params)
    reordered = dict(reversed(list(params.items())))
    reordered["tags"] = {"b": "2", "a": "1"}
    assert batch.submit_service_job(**reordered)["jobId"] == first["jobId"]


# -- payload checked by SageMaker at dispatch -------------------------------------------


@pytest.mark.parametrize(
    "text, fragment",
    [
        ("not json", "ValidationException: Could not parse serviceRequestPayload as JSON"),
        (json.dumps({"TrainingJobName": "x"}), "ValidationException: 'RoleArn' is a required property"),
        (payload("bad name!"), "ValidationException: "),
        (json.dumps({**json.loads(payload()), "ResourceConfig": {"VolumeSizeInGB": 1}}), "ResourceConfig must give"),
    ],
)
def test_invalid_payload_fails_at_dispatch(batch, lb, fifo, text, fragment):
    job_id = submit(batch, "train", fifo, serviceRequestPayload=text)  # Batch itself passes it through
    job = describe(batch, job_id)
    assert job["status"] == "FAILED" and job["attempts"] == []
    assert job["statusReason"].startswith("Received status from SageMaker: ") and fragment in job["statusReason"]


def test_unparseable_payload_has_no_capacity_usage(batch, fifo):
    assert describe(batch, submit(batch, "train", fifo, serviceRequestPayload="nope"))["capacityUsage"] == []


def test_instance_groups_give_one_capacity_entry_per_type(batch, lb, fifo):
    body = json.loads(payload())
    body["ResourceConfig"] = {"InstanceGroups": [
        {"InstanceType": GPU, "InstanceCount": 2, "InstanceGroupName": "a"},
        {"InstanceType": "ml.m5.large", "InstanceCount": 1, "InstanceGroupName": "b"},
    ], "VolumeSizeInGB": 30}
    job = describe(batch, submit(batch, "train", fifo, serviceRequestPayload=json.dumps(body)))
    assert job["capacityUsage"] == [{"capacityUnit": GPU, "quantity": 2.0},
                                    {"capacityUnit": "ml.m5.large", "quantity": 1.0}]


# -- how jobs run: rules, complete, retries, timeouts --------------------------------------


def test_rules_decide_duration_and_failure(batch, lb, fifo):
    lb.on_job("bad-*", queue=fifo, duration=30, exit_code=1, reason="AlgorithmError: boom")
    lb.on_job("ok", duration=10)
    ok, bad = submit(batch, "ok", fifo), submit(batch, "bad-1", fifo)
    lb.advance(10)
    assert statuses(batch, {"ok": ok, "bad": bad}) == {"ok": "SUCCEEDED", "bad": "RUNNING"}
    lb.advance(20)
    job = describe(batch, bad)
    assert job["status"] == "FAILED"
    assert job["statusReason"] == "Received status from SageMaker: AlgorithmError: boom"


def test_complete_with_failure_reason_and_retry_on_status_reason(batch, lb, fifo):
    lb.on_job(duration=None)
    retry = {"attempts": 3, "evaluateOnExit": [
        {"action": "RETRY", "onStatusReason": "Received status from SageMaker: InternalServerError*"},
        {"action": "EXIT", "onStatusReason": "*"}]}
    job_id = submit(batch, "train", fifo, retryStrategy=retry)
    lb.advance(1)
    lb.complete(job_id, exit_code=1, reason="InternalServerError: We encountered an internal error.")
    assert describe(batch, job_id)["status"] == "RUNNING"  # retried at once
    lb.complete(job_id, exit_code=1, reason="ClientError: bad data")
    job = describe(batch, job_id)
    assert job["status"] == "FAILED" and job["statusReason"] == "Received status from SageMaker: ClientError: bad data"
    assert len(job["attempts"]) == 2
    assert job["attempts"][0]["serviceResourceId"] != job["attempts"][1]["serviceResourceId"]


def test_retries_stop_after_attempts(batch, lb, fifo):
    lb.on_job(duration=5, exit_code=2)
    job_id = submit(batch, "train", fifo, retryStrategy={"attempts": 3})
    lb.advance(60)
    job = describe(batch, job_id)
    assert job["status"] == "FAILED" and len(job["attempts"]) == 3


def test_run_rule_sees_the_training_job(batch, lb, fifo):
    seen = []
    lb.on_job(run=lambda run: seen.append(run) or 0)
    job_id = submit(batch, "train", fifo)
    lb.advance(0)
    (run,) = seen
    assert run.job_id == job_id and run.payload["TrainingJobName"] == "train"
    assert run.training_job_arn == describe(batch, job_id)["latestAttempt"]["serviceResourceId"]["value"]


def test_each_run_gets_its_own_copy_of_the_payload(batch, lb, fifo):
    """Jobs sent the same payload share its parsed form inside localbatch: a
    rule that edits what it is handed changes no other job."""
    seen = []

    def run(job):
        seen.append(job.payload["ResourceConfig"]["InstanceCount"])
        job.payload["ResourceConfig"]["InstanceCount"] = 99
        return 0

    lb.on_job(run=run)
    text = payload("train")
    ids = [submit(batch, f"train{i}", fifo, serviceRequestPayload=text) for i in range(2)]
    lb.advance(0)
    assert seen == [1, 1]
    assert [describe(batch, job_id)["capacityUsage"] for job_id in ids] == [[{"capacityUnit": GPU, "quantity": 1.0}]] * 2


def test_timeout_config_ends_the_attempt_without_retry(batch, lb, fifo):
    lb.on_job(duration=None)
    job_id = submit(batch, "train", fifo, timeoutConfig={"attemptDurationSeconds": 120},
                    retryStrategy={"attempts": 2})
    lb.advance(119)
    assert describe(batch, job_id)["status"] == "RUNNING"
    lb.advance(1)
    job = describe(batch, job_id)
    assert (job["status"], job["statusReason"]) == ("FAILED", "Job attempt duration exceeded timeout")


def test_max_runtime_stops_the_training_job(batch, lb, fifo):
    lb.on_job(duration=None)
    body = json.loads(payload())
    body["StoppingCondition"] = {"MaxRuntimeInSeconds": 300}
    job_id = submit(batch, "train", fifo, serviceRequestPayload=json.dumps(body),
                    timeoutConfig={"attemptDurationSeconds": 86400})
    lb.advance(300)
    job = describe(batch, job_id)
    assert job["status"] == "FAILED" and "MaxRuntimeExceeded" in job["statusReason"]
    assert job["stoppedAt"] == T0_MS + 300_000


def test_dwell_times_are_configurable(batch):
    import time_machine

    import localbatch
    from tests.api.test_service_jobs_support import T0, client

    with time_machine.travel(T0, tick=False), localbatch.patch(service_scheduled_seconds=5,
                                                               service_starting_seconds=10) as lb2:
        b = client()
        fifo_queue(b, lb2, name="dwell")
        lb2.on_job(duration=None)
        job_id = submit(b, "train", "dwell")
        lb2.advance(0)
        assert describe(b, job_id)["status"] == "SCHEDULED"
        lb2.advance(5)
        assert describe(b, job_id)["status"] == "STARTING"
        lb2.advance(10)
        assert describe(b, job_id)["startedAt"] == T0_MS + 15_000


# -- FIFO service environments count instances ----------------------------------------------


def test_fifo_queue_counts_instances_against_num_instances(batch, lb):
    fifo_queue(batch, lb, max_instances=4)
    lb.on_job(duration=None)
    ids = {}
    for name, count in (("a", 3), ("b", 2), ("c", 1)):
        ids[name] = submit(batch, name, "fifo", count=count)
        lb.advance(0.001)  # the next is created later: same-millisecond jobs go by jobId (spec §3.2)
    lb.advance(1)
    # b does not fit (3+2 > 4) and blocks c: head-of-line, no back-fill.
    assert statuses(batch, ids) == {"a": "RUNNING", "b": "RUNNABLE", "c": "RUNNABLE"}
    lb.complete(ids["a"])
    assert statuses(batch, ids) == {"a": "SUCCEEDED", "b": "RUNNING", "c": "RUNNING"}


def test_fifo_job_bigger_than_the_environment_is_blocked_and_terminated_by_time_limit(batch, lb):
    fifo_queue(batch, lb, max_instances=2, jobStateTimeLimitActions=[{
        "reason": "MISCONFIGURATION:SERVICE_ENVIRONMENT_MAX_RESOURCE", "state": "RUNNABLE", "maxTimeSeconds": 600,
        "action": "TERMINATE"}])
    job_id = submit(batch, "huge", "fifo", count=3)
    lb.advance(1)
    assert describe(batch, job_id)["statusReason"] == (
        "MISCONFIGURATION:SERVICE_ENVIRONMENT_MAX_RESOURCE - Service environment(s) associated with the job queue "
        "cannot meet the capacity requirement of the job."
    )
    lb.advance(600)
    job = describe(batch, job_id)
    assert job["status"] == "FAILED" and job["isTerminated"] is True
    assert job["statusReason"] == (
        "Terminated by JobStateTimeLimit action due to reason: MISCONFIGURATION:SERVICE_ENVIRONMENT_MAX_RESOURCE"
    )


def test_deleting_the_queue_fails_its_service_jobs(batch, lb, fifo):
    lb.on_job(duration=None)
    job_id = submit(batch, "train", fifo)
    lb.advance(1)
    batch.update_job_queue(jobQueue=fifo, state="DISABLED")
    lb.advance(0)
    batch.delete_job_queue(jobQueue=fifo)
    lb.advance(0)
    job = describe(batch, job_id)
    assert (job["status"], job["statusReason"], job["isTerminated"]) == ("FAILED", "Job queue deleted", True)


# -- UpdateServiceJob / TerminateServiceJob(s) / tags -----------------------------------------


def test_update_priority_rules(batch, lb, fifo):
    lb.on_job(duration=None)
    job_id = submit(batch, "train", fifo)
    out = batch.update_service_job(jobId=job_id, schedulingPriority=9999)
    assert out["jobId"] == job_id and out["jobName"] == "train"
    assert describe(batch, job_id)["schedulingPriority"] == 9999
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.update_service_job(jobId=job_id, schedulingPriority=10000)
    assert client_error(e) == "schedulingPriority must be between 0 and 9999"
    lb.advance(0)
    lb.complete(job_id)
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.update_service_job(jobId=job_id, schedulingPriority=1)
    assert client_error(e) == f"Job {job_id} is in a terminal state"
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.update_service_job(jobId="nope", schedulingPriority=1)
    assert client_error(e) == "Job nope not found"


def test_terminate_runnable_and_running_jobs(batch, lb):
    fifo_queue(batch, lb, max_instances=1)
    lb.on_job(duration=None)
    running, waiting = submit(batch, "a", "fifo"), submit(batch, "b", "fifo")
    lb.advance(1)
    batch.terminate_service_job(jobId=waiting, reason="not needed")
    batch.terminate_service_job(jobId=running, reason="stop it")
    for job_id, reason in ((waiting, "not needed"), (running, "stop it")):
        job = describe(batch, job_id)
        assert (job["status"], job["statusReason"], job["isTerminated"]) == ("FAILED", reason, True)
    assert describe(batch, running)["attempts"][0]["stoppedAt"] == T0_MS + 1000
    batch.terminate_service_job(jobId=running, reason="again")  # terminal: no change
    assert describe(batch, running)["statusReason"] == "stop it"
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.terminate_service_job(jobId="nope", reason="x")
    assert client_error(e) == "Job nope not found"
    with pytest.raises(batch.exceptions.ClientException):
        batch.terminate_service_job(jobId=running, reason="x" * 1025)


def test_terminate_service_jobs_in_bulk(batch, lb, fifo):
    lb.on_job(duration=None)
    a, b = submit(batch, "a", fifo), submit(batch, "b", fifo)
    unknown = "00000000-0000-4000-8000-000000000000"
    out = batch.terminate_service_jobs(jobs=[a, b, a, unknown, "bad-id"], reason="cleanup")
    assert out["successful"] == [a, b, unknown]
    assert out["errors"] == [{"job": "bad-id", "code": "ValidationException", "message": "Invalid job id bad-id"}]
    assert statuses(batch, {"a": a, "b": b}) == {"a": "FAILED", "b": "FAILED"}
    with pytest.raises(batch.exceptions.ClientException):
        batch.terminate_service_jobs(jobs=[unknown] * 51, reason="x")


def test_tags_on_service_jobs(batch, fifo):
    job_id = submit(batch, "train", fifo, tags={"a": "1"})
    arn = describe(batch, job_id)["jobArn"]
    batch.tag_resource(resourceArn=arn, tags={"b": "2"})
    assert batch.list_tags_for_resource(resourceArn=arn)["tags"] == {"a": "1", "b": "2"}
    batch.untag_resource(resourceArn=arn, tagKeys=["a"])
    assert describe(batch, job_id)["tags"] == {"b": "2"}


def test_describe_unknown_job(batch, fifo):
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.describe_service_job(jobId="nope")
    assert client_error(e) == "Job nope not found"


# -- ListServiceJobs ----------------------------------------------------------------------------


def test_list_defaults_to_running_newest_first(batch, lb, fifo):
    lb.on_job(duration=None)
    ids = [submit(batch, f"j{i}", fifo) for i in range(3)]
    lb.advance(1)
    listed = batch.list_service_jobs(jobQueue=fifo)["jobSummaryList"]
    assert [j["jobId"] for j in listed] == ids[::-1]
    first = listed[-1]
    assert first["latestAttempt"]["serviceResourceId"]["name"] == "TrainingJobArn"
    assert first["capacityUsage"] == [{"capacityUnit": GPU, "quantity": 1.0}]
    assert first["serviceJobType"] == "SAGEMAKER_TRAINING" and first["isTerminated"] is False
    assert batch.list_service_jobs(jobQueue=fifo, jobStatus="SUCCEEDED")["jobSummaryList"] == []


def test_list_filters(batch, lb):
    quota_queue(batch, lb)
    share(batch, lb, "A", "RESERVE", limit=1)
    share(batch, lb, "B", "RESERVE", limit=1)
    lb.on_job(duration=None)
    a1 = submit(batch, "Alpha-1", quotaShareName="A")
    lb.advance(1)
    a2 = submit(batch, "alpha-2", quotaShareName="A")
    lb.advance(1)
    b1 = submit(batch, "beta", quotaShareName="B")
    lb.advance(1)

    def names(**kwargs):
        return [j["jobId"] for j in batch.list_service_jobs(jobQueue="training", **kwargs)["jobSummaryList"]]

    assert names(filters=[{"name": "JOB_NAME", "values": ["alpha*"]}]) == [a2, a1]
    assert names(filters=[{"name": "JOB_NAME", "values": ["ALPHA-1"]}]) == [a1]
    assert names(filters=[{"name": "QUOTA_SHARE_NAME", "values": ["A"]}]) == [a2, a1]
    assert names(jobStatus="RUNNABLE", filters=[{"name": "QUOTA_SHARE_NAME", "values": ["A"]}]) == [a2]
    assert names(filters=[{"name": "BEFORE_CREATED_AT", "values": [str(T0_MS + 1000)]}]) == [a1]
    assert names(filters=[{"name": "AFTER_CREATED_AT", "values": [str(T0_MS + 1000)]}]) == [b1]
    assert names(filters=[{"name": "SHARE_IDENTIFIER", "values": ["x"]}]) == []
    for bad in ([{"name": "job_name", "values": ["a"]}], [{"name": "JOB_NAME", "values": ["a"]}] * 2):
        with pytest.raises(batch.exceptions.ClientException):
            names(filters=bad)


def test_list_pages(batch, lb):
    fifo = fifo_queue(batch, lb, max_instances=0)
    ids = [submit(batch, f"j{i}", fifo) for i in range(5)]
    lb.advance(0)
    for bad in (0, 101):
        with pytest.raises(batch.exceptions.ClientException):
            batch.list_service_jobs(jobQueue=fifo, jobStatus="RUNNABLE", maxResults=bad)
    page = batch.list_service_jobs(jobQueue=fifo, jobStatus="RUNNABLE", maxResults=2)
    assert len(page["jobSummaryList"]) == 2 and "nextToken" in page
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.list_service_jobs(jobQueue=fifo, jobStatus="RUNNING", nextToken=page["nextToken"])
    assert client_error(e) == "Invalid nextToken"
    pages = batch.get_paginator("list_service_jobs").paginate(
        jobQueue=fifo, jobStatus="RUNNABLE", PaginationConfig={"PageSize": 2})
    seen = [j["jobId"] for p in pages for j in p["jobSummaryList"]]
    assert seen == ids[::-1]


# -- lb.explain ---------------------------------------------------------------------------------


def test_explain_names_share_capacity_and_what_it_waits_for(batch, lb):
    quota_queue(batch, lb)
    share(batch, lb, "QS1", "LEND_AND_BORROW", in_share=True)
    share(batch, lb, "QS2", "RESERVE", limit=2)
    lb.on_job(duration=None)
    submit(batch, "first", quotaShareName="QS1", count=1)
    waiting = submit(batch, "second", quotaShareName="QS1", count=1)
    lb.advance(1)
    backend = lb.backend()
    text = explain_service_job(backend, backend.service_jobs.get(waiting))
    assert "quota share QS1" in text and f"1 x {GPU}" in text
    assert "must borrow" in text and f"0 {GPU}" in text
    # The controller routes service jobs (by id or ARN) to the same explanation.
    assert lb.explain(waiting) == text
    assert lb.explain(describe(batch, waiting)["jobArn"]) == text


def test_explain_on_a_fifo_service_queue_names_instances_and_the_order(batch, lb):
    fifo_queue(batch, lb, max_instances=1)
    lb.on_job(duration=None)
    submit(batch, "first", "fifo")
    waiting = submit(batch, "second", "fifo")
    assert lb.explain(waiting).endswith(
        "It is at position 0 of frontOfQueue; service environment fifo-se has 1 of 1 instances in use and jobs "
        "start in order of creation (createdAt, then jobId)."
    )


# -- a submission evaluated within its call ------------------------------------------------


def test_service_jobs_submitted_in_one_millisecond_keep_the_event_timeline(batch, lb, fifo):
    """A submission with no event due is evaluated in its own call; the
    timeline is the one its evaluation event would have given: each job's
    evaluation comes before the next submission, and the pass it asked for
    runs before the next call does anything."""
    lb.on_job(duration=None)
    for name in ("a", "b"):
        submit(batch, name, fifo)
    describe(batch, submit(batch, "c", fifo))
    assert [(r["job_name"], r["from"], r["to"]) for r in lb.timeline()] == [
        ("a", None, "SUBMITTED"),
        ("a", "SUBMITTED", "RUNNABLE"),
        ("a", "RUNNABLE", "SCHEDULED"),
        ("a", "SCHEDULED", "STARTING"),
        ("a", "STARTING", "RUNNING"),
        ("b", None, "SUBMITTED"),
        ("b", "SUBMITTED", "RUNNABLE"),
        ("b", "RUNNABLE", "SCHEDULED"),
        ("b", "SCHEDULED", "STARTING"),
        ("b", "STARTING", "RUNNING"),
        ("c", None, "SUBMITTED"),
        ("c", "SUBMITTED", "RUNNABLE"),
        ("c", "RUNNABLE", "SCHEDULED"),
        ("c", "SCHEDULED", "STARTING"),
        ("c", "STARTING", "RUNNING"),
    ]


def test_a_service_submission_waits_for_events_already_due(batch, lb, fifo):
    """With an event due (here the pass the first job's arrival asked for),
    a new job's evaluation stays an event, behind it."""
    lb.on_job(duration=None)
    first = submit(batch, "first", fifo)
    backend = lb.backend()
    assert backend.service_jobs.get(first).status == "RUNNABLE"
    assert not backend.events.idle_until(backend.now_ms)
    # SubmitServiceJob's handler, as a call runs it, but with that event still due.
    out = OPERATIONS["SubmitServiceJob"](backend, {
        "jobName": "second", "jobQueue": fifo, "serviceJobType": "SAGEMAKER_TRAINING",
        "serviceRequestPayload": payload("second"),
    })
    assert backend.service_jobs.get(out["jobId"]).status == "SUBMITTED"
    describe(batch, first)
    assert [(r["job_name"], r["to"]) for r in lb.timeline()][:5] == [
        ("first", "SUBMITTED"), ("first", "RUNNABLE"), ("second", "SUBMITTED"),
        ("first", "SCHEDULED"),  # the pass, due before second's evaluation was scheduled
        ("second", "RUNNABLE"),
    ]
