"""Quickstart: a script written for real AWS Batch, answered by localbatch.

`main()` is plain boto3, exactly as it would run against AWS: it creates a
compute environment, polls until it is VALID (here it takes 30 s of engine
time), then creates a queue and registers a job definition. Under
`localbatch.patch(autojump=True)` the polling `time.sleep` moves engine time
instead of waiting, so the whole script finishes at once.
"""

from __future__ import annotations

import time

import boto3

import localbatch


def wait_until_valid(batch, name: str) -> None:
    while True:
        (ce,) = batch.describe_compute_environments(computeEnvironments=[name])["computeEnvironments"]
        print(f"  compute environment {name}: {ce['status']}")
        if ce["status"] == "VALID":
            return
        time.sleep(10)


def main() -> None:
    batch = boto3.client("batch")
    batch.create_compute_environment(
        computeEnvironmentName="quickstart-ce",
        type="MANAGED",
        computeResources={
            "type": "FARGATE",
            "maxvCpus": 16,
            "subnets": ["subnet-0123456789abcdef0"],
            "securityGroupIds": ["sg-0123456789abcdef0"],
        },
    )
    wait_until_valid(batch, "quickstart-ce")
    queue = batch.create_job_queue(
        jobQueueName="quickstart-queue",
        priority=10,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "quickstart-ce"}],
    )
    print(f"job queue: {queue['jobQueueArn']}")
    job_definition = batch.register_job_definition(
        jobDefinitionName="hello",
        type="container",
        platformCapabilities=["FARGATE"],
        containerProperties={
            "image": "public.ecr.aws/docker/library/busybox:latest",
            "command": ["echo", "Ref::greeting"],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}],
            "executionRoleArn": "arn:aws:iam::123456789012:role/ecsTaskExecutionRole",
        },
        parameters={"greeting": "hello from localbatch"},
    )
    print(f"job definition: {job_definition['jobDefinitionArn']}")


if __name__ == "__main__":
    with localbatch.patch(autojump=True, resource_latency=30) as lb:
        started = lb.now_ms
        main()
        print(f"engine time passed: {(lb.now_ms - started) / 1000:.0f} s (wall time: none)")
