"""Helpers for the service-job, quota-scheduling and snapshot tests (no tests here).

Every test here runs on a frozen clock (time-machine, tick=False): time
moves only through `lb.advance`, so timelines are exact.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

import boto3
import time_machine

import localbatch

T0 = dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.timezone.utc)
T0_MS = int(T0.timestamp() * 1000)
ACCOUNT = "123456789012"
REGION = "us-east-1"
GPU = "ml.g5.xlarge"
CPU = "ml.m5.large"
QUEUE_ARN = f"arn:aws:batch:{REGION}:{ACCOUNT}:job-queue/training"


def frozen_lb():
    with time_machine.travel(T0, tick=False), localbatch.patch() as controller:
        yield controller


def client():
    return boto3.client("batch", region_name=REGION)


def payload(name: str = "train", instance_type: str = GPU, count: int = 1, **extra: Any) -> str:
    body: dict[str, Any] = {
        "TrainingJobName": name,
        "RoleArn": f"arn:aws:iam::{ACCOUNT}:role/SageMakerRole",
        "AlgorithmSpecification": {
            "TrainingImage": f"{ACCOUNT}.dkr.ecr.{REGION}.amazonaws.com/train:latest",
            "TrainingInputMode": "File",
        },
        "OutputDataConfig": {"S3OutputPath": "s3://bucket/output"},
        "ResourceConfig": {"InstanceType": instance_type, "InstanceCount": count, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
    }
    body.update(extra)
    return json.dumps(body)


def fifo_queue(batch, lb, name: str = "fifo", max_instances: int = 4, **queue: Any) -> str:
    batch.create_service_environment(
        serviceEnvironmentName=f"{name}-se",
        serviceEnvironmentType="SAGEMAKER_TRAINING",
        capacityLimits=[{"maxCapacity": max_instances, "capacityUnit": "NUM_INSTANCES"}],
    )
    lb.advance(0)
    batch.create_job_queue(
        jobQueueName=name,
        priority=1,
        serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": f"{name}-se"}],
        **queue,
    )
    lb.advance(0)
    return name


def quota_queue(batch, lb, limits: dict[str, int] | None = None, **queue: Any) -> str:
    limits = limits or {GPU: 3}
    batch.create_service_environment(
        serviceEnvironmentName="gpus",
        serviceEnvironmentType="SAGEMAKER_TRAINING",
        capacityLimits=[{"maxCapacity": n, "capacityUnit": unit} for unit, n in limits.items()],
    )
    lb.advance(0)
    policy = batch.create_scheduling_policy(name="quota", quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"})
    batch.create_job_queue(
        jobQueueName="training",
        priority=1,
        jobQueueType="SAGEMAKER_TRAINING",
        schedulingPolicyArn=policy["arn"],
        serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": "gpus"}],
        **queue,
    )
    lb.advance(0)
    return "training"


def share(batch, lb, name: str, strategy: str, limit: int = 1, *, unit: str = GPU, borrow: int | None = None,
          in_share: bool = False) -> str:
    sharing: dict[str, Any] = {"strategy": strategy}
    if borrow is not None:
        sharing["borrowLimit"] = borrow
    arn = batch.create_quota_share(
        quotaShareName=name,
        jobQueue="training",
        capacityLimits=[{"maxCapacity": limit, "capacityUnit": unit}],
        resourceSharingConfiguration=sharing,
        preemptionConfiguration={"inSharePreemption": "ENABLED" if in_share else "DISABLED"},
    )["quotaShareArn"]
    lb.advance(0)
    return arn


def fargate_queue(batch, lb, max_vcpus: int = 2) -> str:
    """A container queue `q` on Fargate, with the job definition `jd` (1 vCPU)."""
    batch.create_compute_environment(computeEnvironmentName="ce", type="MANAGED", computeResources={
        "type": "FARGATE", "maxvCpus": max_vcpus, "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"]})
    lb.advance(0)
    batch.create_job_queue(jobQueueName="q", priority=1, computeEnvironmentOrder=[
        {"order": 1, "computeEnvironment": "ce"}])
    batch.register_job_definition(jobDefinitionName="jd", type="container", platformCapabilities=["FARGATE"],
                                  containerProperties={"image": "busybox", "resourceRequirements": [
                                      {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}],
                                      "executionRoleArn": f"arn:aws:iam::{ACCOUNT}:role/x"})
    lb.advance(0)
    return "q"


def submit(batch, name: str, queue: str = "training", *, count: int = 1, instance_type: str = GPU, **extra: Any) -> str:
    params: dict[str, Any] = dict(
        jobName=name,
        jobQueue=queue,
        serviceJobType="SAGEMAKER_TRAINING",
        serviceRequestPayload=extra.pop("serviceRequestPayload", None) or payload(name, instance_type, count),
    )
    params.update(extra)
    return batch.submit_service_job(**params)["jobId"]


def describe(batch, job_id: str) -> dict[str, Any]:
    out = batch.describe_service_job(jobId=job_id)
    out.pop("ResponseMetadata", None)
    return out


def statuses(batch, ids: dict[str, str]) -> dict[str, str]:
    return {name: describe(batch, job_id)["status"] for name, job_id in ids.items()}


def transitions(lb, names: set[str] | None = None, kinds: set[str] | None = None) -> list[tuple]:
    """(seconds, name, to, reason) of the moves into `kinds` (default: RUNNABLE and SCHEDULED onwards)."""
    kinds = kinds or {"SCHEDULED", "RUNNABLE", "SUCCEEDED", "FAILED"}
    return [
        ((row["time_ms"] - T0_MS) / 1000, row["job_name"], row["to"], row["reason"])
        for row in lb.timeline()
        if row["to"] in kinds and (names is None or row["job_name"] in names)
    ]

