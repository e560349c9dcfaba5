"""The SageMaker Python SDK's AWS Batch queue support, replayed call for call.

`TrainingQueue` / `TrainingQueuedJob` (v2 `sagemaker.aws_batch`, v3
`sagemaker.train.aws_batch`) reach Batch only through the `sdk_*` functions
below. Each sends exactly the kwargs the SDK sends, from a client made the
way the SDK makes it (a new `boto3.client("batch", region_name=None,
endpoint_url=None)` per call), and each test asserts every response field the
SDK reads, in the form it reads it. The SDK itself is not a dependency: these
functions are its contract with Batch, restated.

What the SDK relies on:
* submit: `jobArn` and `jobName` in the response (else MissingRequiredArgument);
* describe (called with the job ARN as `jobId`): `status`; `statusReason` when
  FAILED (raised as RuntimeError); once the status is past SUBMITTED/PENDING/
  RUNNABLE, `latestAttempt.serviceResourceId.value` is a training-job ARN its
  regex parses into the name it hands to SageMaker DescribeTrainingJob;
  `attempts[].statusReason` while still queued (logged);
* list: `jobSummaryList[].jobArn/jobName` (v3 also `shareIdentifier`,
  `quotaShareName`), following `nextToken` until absent;
* terminate and update take the job ARN as `jobId`.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
import time_machine

import localbatch
from tests.api.test_service_jobs_support import ACCOUNT, GPU, REGION, T0, T0_MS, client, fifo_queue, quota_queue, share

# -- the SDK's constants (sagemaker/aws_batch/constants.py) ---------------------------------

SAGEMAKER_TRAINING = "SAGEMAKER_TRAINING"
DEFAULT_TIMEOUT = {"attemptDurationSeconds": 86400}
POLL_IN_SECONDS = 5
JOB_STATUS_RUNNING = "RUNNING"
TERMINAL = ("SUCCEEDED", "FAILED")  # what wait() stops on
NO_TRAINING_JOB = {"SUBMITTED", "PENDING", "RUNNABLE"}  # TrainingQueuedJob._no_training_job_status
SDK_INTERNAL_ERROR = (
    "Received status from SageMaker:InternalServerError: We encountered an internal error. Please try again."
)
DEFAULT_RETRY = {
    "attempts": 1,
    "evaluateOnExit": [{"action": "RETRY", "onStatusReason": SDK_INTERNAL_ERROR},
                       {"action": "EXIT", "onStatusReason": "*"}],
}
# sagemaker(.train).utils get_training_job_name_from_training_job_arn
TRAINING_JOB_ARN_RE = "arn:aws[a-z-]*:sagemaker:[a-z0-9-]*:[0-9]{12}:training-job/(.+)"
# SageMaker CreateTrainingJob's TrainingJobName constraint (what DescribeTrainingJob accepts)
TRAINING_JOB_NAME_RE = re.compile(r"[a-zA-Z0-9](-*[a-zA-Z0-9]){0,62}")
COMPLETED = "Received status from SageMaker: Training job completed"
ESTIMATOR_JOB = "pytorch-training-2026-04-01-09-00-00-000"  # EstimatorBase: base name + ms timestamp
TRAINER_JOB = "pytorch-training-20260401090000"  # ModelTrainer: base name + second timestamp


# -- the SDK's Batch calls (batch_api_helper.py), restated -----------------------------------


def sdk_client() -> Any:
    return boto3.client("batch", region_name=None, endpoint_url=None)


def sdk_submit(training_payload: dict[str, Any], job_name: str, job_queue: str, retry_config: dict | None = None,
               scheduling_priority: int | None = None, timeout: dict | None = None,
               share_identifier: str | None = None, tags: dict | None = None, quota_share_name: str | None = None,
               preemption_config: dict | None = None) -> dict[str, Any]:
    training_payload = dict(training_payload)
    payload_tags = training_payload.pop("Tags", None)
    kwargs: dict[str, Any] = {
        "jobName": job_name,
        "jobQueue": job_queue,
        "retryStrategy": retry_config or DEFAULT_RETRY,
        "serviceJobType": SAGEMAKER_TRAINING,
        "serviceRequestPayload": json.dumps(training_payload),
        "timeoutConfig": timeout or DEFAULT_TIMEOUT,
    }
    # Falsy values are left out, so priority 0 is never sent.
    if scheduling_priority:
        kwargs["schedulingPriority"] = scheduling_priority
    if share_identifier:
        kwargs["shareIdentifier"] = share_identifier
    if quota_share_name:
        kwargs["quotaShareName"] = quota_share_name
    if preemption_config:
        kwargs["preemptionConfiguration"] = preemption_config
    if tags or payload_tags:
        # Training payload tags win over Batch tags on a key conflict.
        kwargs["tags"] = {**(tags or {}), **{t["Key"]: t["Value"] for t in payload_tags or []}}
    response = sdk_client().submit_service_job(**kwargs)
    assert "jobArn" in response and "jobName" in response  # else the SDK raises MissingRequiredArgument
    return response


def sdk_describe(job_arn: str) -> dict[str, Any]:
    return sdk_client().describe_service_job(jobId=job_arn)


def sdk_terminate(job_arn: str, reason: str = "Default terminate reason") -> dict[str, Any]:
    return sdk_client().terminate_service_job(jobId=job_arn, reason=reason)


def sdk_update(job_arn: str, scheduling_priority: int) -> dict[str, Any]:
    return sdk_client().update_service_job(jobId=job_arn, schedulingPriority=scheduling_priority)


def sdk_pages(job_queue: str, job_status: str | None = None, filters: list | None = None) -> Iterator[dict]:
    next_token = None
    while True:
        kwargs: dict[str, Any] = {"jobQueue": job_queue}
        if filters:
            kwargs["filters"] = filters
        if next_token:
            kwargs["nextToken"] = next_token
        if job_status:
            kwargs["jobStatus"] = job_status
        page = sdk_client().list_service_jobs(**kwargs)
        yield page
        next_token = page.get("nextToken")
        if not next_token:
            return


def sdk_list_jobs(job_queue: str, job_name: str | None = None, status: str | None = JOB_STATUS_RUNNING,
                  share_identifier: str | None = None, quota_share_name: str | None = None) -> list[dict]:
    """TrainingQueue.list_jobs / list_jobs_by_share: (jobArn, jobName, shareIdentifier, quotaShareName) per job."""
    filters = None
    if job_name:
        filters = [{"name": "JOB_NAME", "values": [job_name]}]
        status = None  # the SDK drops the status when it filters by name
    elif share_identifier:
        filters = [{"name": "SHARE_IDENTIFIER", "values": [share_identifier]}]
    elif quota_share_name:
        filters = [{"name": "QUOTA_SHARE_NAME", "values": [quota_share_name]}]
    jobs = []
    for page in sdk_pages(job_queue, status, filters):
        for summary in page.get("jobSummaryList", []):
            assert "jobArn" in summary and "jobName" in summary  # else the SDK skips it with a warning
            jobs.append({"jobArn": summary["jobArn"], "jobName": summary["jobName"],
                         "shareIdentifier": summary.get("shareIdentifier"),
                         "quotaShareName": summary.get("quotaShareName")})
    return jobs


def sdk_wait(job_arn: str) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    """TrainingQueuedJob.wait() without a timeout: describe, then sleep and describe
    until SUCCEEDED or FAILED. Returns the last answer and every answer seen."""
    seen = [sdk_describe(job_arn)]
    while seen[-1].get("status", "") not in TERMINAL:
        time.sleep(POLL_IN_SECONDS)
        seen.append(sdk_describe(job_arn))
    return seen[-1], seen


def sdk_training_job_name(describe: dict[str, Any]) -> str | None:
    """get_estimator() / get_model_trainer(): the name passed to SageMaker DescribeTrainingJob."""
    assert "latestAttempt" in describe  # else the SDK raises MissingRequiredArgument
    arn = describe["latestAttempt"].get("serviceResourceId", {}).get("value", None)
    match = re.match(TRAINING_JOB_ARN_RE, arn) if arn is not None else None
    return match.group(1) if match else None


def sdk_result(job_arn: str) -> dict[str, Any]:
    """TrainingQueuedJob.result(): the describe answer when SUCCEEDED, RuntimeError(statusReason) when FAILED."""
    sdk_wait(job_arn)
    describe = sdk_describe(job_arn)
    if describe.get("status", "") == "SUCCEEDED":
        return describe
    if describe.get("status", "") == "FAILED":
        raise RuntimeError(describe["statusReason"])
    raise TimeoutError("Reached timeout before the Batch job reached a terminal status")


# -- payloads as the SDK builds them --------------------------------------------------------


def estimator_payload(name: str = ESTIMATOR_JOB, **extra: Any) -> dict[str, Any]:
    """What v2 `Session.get_train_request` builds for a framework Estimator (Tags included:
    the SDK pops them before sending)."""
    bucket = f"s3://sagemaker-{REGION}-{ACCOUNT}"
    body: dict[str, Any] = {
        "AlgorithmSpecification": {
            "TrainingInputMode": "File",
            "TrainingImage": f"763104351884.dkr.ecr.{REGION}.amazonaws.com/pytorch-training:2.5-gpu-py311",
            "EnableSageMakerMetricsTimeSeries": True,
            "MetricDefinitions": [{"Name": "train:loss", "Regex": "loss: ([0-9\\.]+)"}],
        },
        "OutputDataConfig": {"S3OutputPath": f"{bucket}/"},
        "TrainingJobName": name,
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
        "ResourceConfig": {"VolumeSizeInGB": 30, "InstanceCount": 1, "InstanceType": GPU},
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole",
        "InputDataConfig": [{
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://my-bucket/train",
                                            "S3DataDistributionType": "FullyReplicated"}},
            "ChannelName": "training",
        }],
        "HyperParameters": {
            "epochs": "10",
            "sagemaker_program": '"train.py"',
            "sagemaker_submit_directory": f'"{bucket}/{name}/source/sourcedir.tar.gz"',
            "sagemaker_container_log_level": "20",
            "sagemaker_job_name": f'"{name}"',
            "sagemaker_region": f'"{REGION}"',
        },
        "DebugHookConfig": {"S3OutputPath": f"{bucket}/", "CollectionConfigurations": []},
        "ProfilerConfig": {"S3OutputPath": f"{bucket}/", "DisableProfiler": False},
        "Environment": {"SM_LOG_LEVEL": "20"},
        "EnableNetworkIsolation": False,
        "EnableInterContainerTrafficEncryption": False,
        "EnableManagedSpotTraining": False,
        "Tags": [{"Key": "project", "Value": "vision"}, {"Key": "team", "Value": "from-payload"}],
    }
    body.update(extra)
    return body


def model_trainer_payload(name: str = TRAINER_JOB, count: int = 1) -> dict[str, Any]:
    """What v3 `ModelTrainer._create_training_job_args(boto3=True)` builds."""
    return {
        "TrainingJobName": name,
        "AlgorithmSpecification": {
            "TrainingImage": f"763104351884.dkr.ecr.{REGION}.amazonaws.com/pytorch-training:2.5-gpu-py311",
            "TrainingInputMode": "File",
            "ContainerEntrypoint": ["/bin/bash"],
            "ContainerArguments": ["/opt/ml/input/data/sm_drivers/sm_train.sh"],
        },
        "HyperParameters": {"lr": "0.001"},
        "InputDataConfig": [{
            "ChannelName": "code",
            "DataSource": {"S3DataSource": {"S3DataType": "S3Prefix", "S3Uri": "s3://my-bucket/code",
                                            "S3DataDistributionType": "FullyReplicated"}},
            "InputMode": "File",
        }],
        "ResourceConfig": {"InstanceType": GPU, "InstanceCount": count, "VolumeSizeInGB": 30},
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole",
        "StoppingCondition": {"MaxRuntimeInSeconds": 3600},
        "OutputDataConfig": {"S3OutputPath": "s3://my-bucket/output", "CompressionType": "GZIP"},
        "EnableManagedSpotTraining": False,
    }


# -- fixtures -------------------------------------------------------------------------------


@pytest.fixture
def lb(monkeypatch):
    # The SDK passes region_name=None: the region comes from the environment, as for the test's own client.
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    with time_machine.travel(T0, tick=False), localbatch.patch(
        autojump=True, submitted_seconds=5, service_scheduled_seconds=10, service_starting_seconds=20
    ) as controller:
        yield controller


@pytest.fixture
def batch(lb):
    return client()


@pytest.fixture
def fifo(batch, lb):
    return fifo_queue(batch, lb, max_instances=1)


# -- submit ---------------------------------------------------------------------------------


def test_submit_with_the_sdk_defaults_round_trips_every_field(batch, lb, fifo):
    body = estimator_payload()
    out = sdk_submit(body, body["TrainingJobName"], fifo, tags={"team": "from-batch", "cost": "42"})
    assert out["jobName"] == ESTIMATOR_JOB
    assert out["jobArn"] == f"arn:aws:batch:{REGION}:{ACCOUNT}:service-job/{out['jobId']}"
    job = sdk_describe(out["jobArn"])
    assert job["jobArn"] == out["jobArn"] and job["jobName"] == ESTIMATOR_JOB
    assert job["serviceJobType"] == SAGEMAKER_TRAINING
    assert job["retryStrategy"] == DEFAULT_RETRY and job["timeoutConfig"] == DEFAULT_TIMEOUT
    assert job["tags"] == {"team": "from-payload", "cost": "42", "project": "vision"}
    sent = json.loads(job["serviceRequestPayload"])
    assert "Tags" not in sent and sent == {k: v for k, v in body.items() if k != "Tags"}
    assert not {"schedulingPriority", "shareIdentifier", "quotaShareName", "preemptionConfiguration"} & set(job)
    assert job["capacityUsage"] == [{"capacityUnit": GPU, "quantity": 1.0}]


def test_queue_given_by_arn_and_priority_zero_left_out(batch, lb, fifo):
    arn = batch.describe_job_queues(jobQueues=[fifo])["jobQueues"][0]["jobQueueArn"]
    out = sdk_submit(model_trainer_payload(), "trainer", arn, scheduling_priority=0)
    job = sdk_describe(out["jobArn"])
    assert job["jobQueue"] == arn and "schedulingPriority" not in job


# -- wait / result / get_estimator ------------------------------------------------------------


def test_wait_polls_until_succeeded_and_every_answer_reads_as_the_sdk_reads_it(batch, lb, fifo):
    lb.on_job(duration=120)
    out = sdk_submit(estimator_payload(), ESTIMATOR_JOB, fifo)
    last, seen = sdk_wait(out["jobArn"])
    # SUBMITTED 5 s, SCHEDULED 10 s, STARTING 20 s, RUNNING 120 s, one describe every 5 s.
    assert [d["status"] for d in seen] == (
        ["SUBMITTED"] + ["SCHEDULED"] * 2 + ["STARTING"] * 4 + ["RUNNING"] * 24 + ["SUCCEEDED"]
    )
    assert lb.now_ms == T0_MS + 5000 * (len(seen) - 1)
    names = set()
    for answer in seen:
        if answer["status"] not in NO_TRAINING_JOB:  # the SDK says a training job exists
            names.add(sdk_training_job_name(answer))
    (name,) = names
    assert name is not None and TRAINING_JOB_NAME_RE.fullmatch(name) and len(name) <= 63
    assert name.startswith("AWSBatch" + ESTIMATOR_JOB[:23])
    assert (last["statusReason"], last["stoppedAt"], last["isTerminated"]) == (COMPLETED, lb.now_ms, False)
    assert last["createdAt"] == T0_MS and last["startedAt"] == T0_MS + 35_000
    assert sdk_result(out["jobArn"])["status"] == "SUCCEEDED"


def test_training_job_name_is_the_one_sagemaker_runs(batch, lb, fifo):
    runs = []
    lb.on_job(run=lambda run: runs.append(run) or 0)
    out = sdk_submit(model_trainer_payload(), TRAINER_JOB, fifo)
    last, _ = sdk_wait(out["jobArn"])
    (run,) = runs
    assert sdk_training_job_name(last) == run.training_job_name
    assert last["latestAttempt"]["serviceResourceId"] == {"name": "TrainingJobArn", "value": run.training_job_arn}
    assert last["attempts"][-1]["serviceResourceId"] == last["latestAttempt"]["serviceResourceId"]


@pytest.mark.parametrize("region, account", [("eu-west-1", "111122223333"), ("ap-southeast-2", "000000000001")])
def test_training_job_arn_parses_in_any_region_and_account(monkeypatch, region, account):
    monkeypatch.setenv("AWS_DEFAULT_REGION", region)
    with time_machine.travel(T0, tick=False), localbatch.patch(autojump=True, account_id=account) as lb2:
        fifo_queue(sdk_client(), lb2)
        out = sdk_submit(model_trainer_payload(), TRAINER_JOB, "fifo")
        last, _ = sdk_wait(out["jobArn"])
    arn = last["latestAttempt"]["serviceResourceId"]["value"]
    assert arn.startswith(f"arn:aws:sagemaker:{region}:{account}:training-job/AWSBatch")
    assert sdk_training_job_name(last) == arn.rpartition("/")[2]


def test_failed_job_gives_the_status_reason_result_raises(batch, lb, fifo):
    lb.on_job(duration=30, exit_code=1, reason="AlgorithmError: CUDA out of memory")
    out = sdk_submit(estimator_payload(), ESTIMATOR_JOB, fifo)
    with pytest.raises(RuntimeError) as e:
        sdk_result(out["jobArn"])
    assert str(e.value) == "Received status from SageMaker: AlgorithmError: CUDA out of memory"
    job = sdk_describe(out["jobArn"])
    (attempt,) = job["attempts"]
    assert attempt["statusReason"] == str(e.value) and sdk_training_job_name(job) is not None


def test_sdk_default_retry_strategy_never_retries(batch, lb, fifo):
    # attempts=1: the RETRY entry cannot fire, whatever SageMaker says.
    lb.on_job(duration=30, exit_code=1, reason=SDK_INTERNAL_ERROR)
    out = sdk_submit(estimator_payload(), ESTIMATOR_JOB, fifo)
    last, _ = sdk_wait(out["jobArn"])
    assert (last["status"], last["statusReason"], len(last["attempts"])) == ("FAILED", SDK_INTERNAL_ERROR, 1)


def test_sdk_retry_entry_matches_its_own_reason_and_latest_attempt_moves(batch, lb, fifo):
    lb.on_job(duration=30, run=lambda run: 1 if run.attempt == 1 else 0, reason=SDK_INTERNAL_ERROR)
    retry = {**DEFAULT_RETRY, "attempts": 2}
    out = sdk_submit(estimator_payload(), ESTIMATOR_JOB, fifo, retry_config=retry)
    last, seen = sdk_wait(out["jobArn"])
    assert last["status"] == "SUCCEEDED"
    assert [row["to"] for row in lb.timeline()].count("RUNNABLE") == 2  # retried, re-placed at once
    first, second = last["attempts"]
    assert first["statusReason"] == SDK_INTERNAL_ERROR and second["statusReason"] == COMPLETED
    assert last["latestAttempt"]["serviceResourceId"] == second["serviceResourceId"] != first["serviceResourceId"]
    # From the retry on, every poll names the second training job.
    retried = [d for d in seen if len(d["attempts"]) == 2]
    assert retried[0]["status"] == "SCHEDULED"
    assert {sdk_training_job_name(d) for d in retried} == {second["serviceResourceId"]["value"].rpartition("/")[2]}


def test_queued_job_has_no_training_job_then_terminate_by_arn(batch, lb, fifo):
    lb.on_job(duration=None)
    running = sdk_submit(estimator_payload(), ESTIMATOR_JOB, fifo)
    lb.advance(0.001)  # queued is created after running: same-millisecond jobs go by jobId (spec §3.2)
    queued = sdk_submit(model_trainer_payload(), TRAINER_JOB, fifo)  # the environment holds one instance
    time.sleep(60)
    job = sdk_describe(queued["jobArn"])
    assert job["status"] in NO_TRAINING_JOB and job["attempts"] == [] and "latestAttempt" not in job
    assert set(sdk_terminate(queued["jobArn"])) == {"ResponseMetadata"}  # an empty answer
    job = sdk_describe(queued["jobArn"])
    assert (job["status"], job["statusReason"], job["isTerminated"]) == ("FAILED", "Default terminate reason", True)
    with pytest.raises(RuntimeError, match="Default terminate reason"):
        sdk_result(queued["jobArn"])
    sdk_terminate(running["jobArn"], "stop")
    job = sdk_describe(running["jobArn"])
    assert (job["status"], job["statusReason"]) == ("FAILED", "stop") and sdk_training_job_name(job) is not None


def test_rejected_payload_fails_without_an_attempt(batch, lb, fifo):
    body = estimator_payload()
    del body["RoleArn"]
    out = sdk_submit(body, ESTIMATOR_JOB, fifo)
    last, _ = sdk_wait(out["jobArn"])
    # FAILED is "a training job exists" to the SDK, yet there is none: it raises MissingRequiredArgument.
    assert last["status"] == "FAILED" and last["attempts"] == [] and "latestAttempt" not in last
    assert last["statusReason"].startswith("Received status from SageMaker: ValidationException: ")


# -- update (v3) --------------------------------------------------------------------------------


def test_update_priority_by_job_arn(batch, lb, fifo):
    lb.on_job(duration=None)
    out = sdk_submit(model_trainer_payload(), TRAINER_JOB, fifo, scheduling_priority=1)
    answer = sdk_update(out["jobArn"], 5)
    assert {k: answer[k] for k in ("jobArn", "jobName", "jobId")} == {k: out[k] for k in ("jobArn", "jobName", "jobId")}
    assert sdk_describe(out["jobArn"])["schedulingPriority"] == 5


# -- list_jobs / get_job / list_jobs_by_share -------------------------------------------------


def test_list_jobs_defaults_to_running_and_get_job_finds_any_status(batch, lb, fifo):
    lb.on_job(duration=None)
    first = sdk_submit(estimator_payload(), "sweep", fifo)
    lb.advance(0.001)  # second is created after first: same-millisecond jobs go by jobId (spec §3.2)
    second = sdk_submit(estimator_payload(), "sweep", fifo)  # same name: Batch allows it
    time.sleep(60)
    running = sdk_list_jobs(fifo)
    assert [j["jobArn"] for j in running] == [first["jobArn"]]
    by_name = sdk_list_jobs(fifo, job_name="sweep", status="SUCCEEDED")  # the status is dropped
    assert [j["jobArn"] for j in by_name] == [second["jobArn"], first["jobArn"]]  # newest first
    assert by_name[0] == {"jobArn": second["jobArn"], "jobName": "sweep", "shareIdentifier": None,
                          "quotaShareName": None}
    assert sdk_list_jobs(fifo, job_name="nothing-like-it") == []  # get_job raises "Cannot find job"


def test_list_jobs_follows_next_token_to_the_end(batch, lb):
    fifo_queue(batch, lb, max_instances=0)
    arns = [sdk_submit(model_trainer_payload(), "many", "fifo")["jobArn"] for _ in range(105)]
    time.sleep(5)
    pages = list(sdk_pages("fifo", None, [{"name": "JOB_NAME", "values": ["many"]}]))
    assert [len(p["jobSummaryList"]) for p in pages] == [100, 5] and "nextToken" not in pages[-1]
    assert [j["jobArn"] for j in sdk_list_jobs("fifo", job_name="many")] == arns[::-1]
    assert [j["jobArn"] for j in sdk_list_jobs("fifo", status="RUNNABLE")] == arns[::-1]


def test_quota_share_jobs_submit_and_list_by_share(batch, lb):
    quota_queue(batch, lb)
    share(batch, lb, "research", "RESERVE", limit=1)
    share(batch, lb, "prod", "RESERVE", limit=2)
    lb.on_job(duration=None)
    preemption = {"preemptionRetriesBeforeTermination": 10}
    research = []
    for i in range(2):  # a millisecond apart: same-millisecond jobs go by jobId (spec §3.5)
        research.append(sdk_submit(model_trainer_payload(f"r{i}"), f"r{i}", "training", scheduling_priority=3,
                                   quota_share_name="research", preemption_config=preemption)["jobArn"])
        lb.advance(0.001)
    prod = sdk_submit(model_trainer_payload("p0"), "p0", "training", quota_share_name="prod")["jobArn"]
    time.sleep(60)
    job = sdk_describe(research[0])
    assert (job["quotaShareName"], job["preemptionConfiguration"], job["schedulingPriority"]) == (
        "research", preemption, 3)
    running = sdk_list_jobs("training", quota_share_name="research")  # status RUNNING, the SDK default
    assert running == [{"jobArn": research[0], "jobName": "r0", "shareIdentifier": None,
                        "quotaShareName": "research"}]
    every = sdk_list_jobs("training", quota_share_name="research", status=None)
    assert [j["jobArn"] for j in every] == research[::-1]
    assert [j["jobArn"] for j in sdk_list_jobs("training", quota_share_name="prod")] == [prod]


def test_fair_share_jobs_submit_and_list_by_share_identifier(batch, lb):
    policy = batch.create_scheduling_policy(name="fair", fairsharePolicy={"shareDecaySeconds": 3600})["arn"]
    fifo_queue(batch, lb, name="fair", schedulingPolicyArn=policy)
    lb.on_job(duration=None)
    team_a = sdk_submit(model_trainer_payload("a"), "a", "fair", share_identifier="teamA", scheduling_priority=2)
    sdk_submit(model_trainer_payload("b"), "b", "fair", share_identifier="teamB")
    time.sleep(60)
    assert sdk_list_jobs("fair", share_identifier="teamA") == [
        {"jobArn": team_a["jobArn"], "jobName": "a", "shareIdentifier": "teamA", "quotaShareName": None}]
    job = sdk_describe(team_a["jobArn"])
    assert (job["shareIdentifier"], job["schedulingPriority"]) == ("teamA", 2)


def test_map_submits_one_batch_job_and_one_training_job_each(batch, lb):
    # ModelTrainer names have one-second resolution: a map() within a second reuses the name.
    fifo_queue(batch, lb, max_instances=3)
    arns = [sdk_submit(model_trainer_payload(), TRAINER_JOB, "fifo")["jobArn"] for _ in range(3)]
    names = [sdk_training_job_name(sdk_wait(arn)[0]) for arn in arns]
    assert len(set(arns)) == len(set(names)) == 3
    assert all(name.startswith("AWSBatch" + TRAINER_JOB[:23]) for name in names)
