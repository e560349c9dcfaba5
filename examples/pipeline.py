"""A small batch pipeline, written for real AWS Batch with plain boto3.

    preprocess ──► shard (array of 4) ──► train (fails once, retried) ──► publish
                                  └───────────────────────────────────────┘

Nothing here knows about localbatch. Run it locally, with its real commands
as local processes and 30 s of engine time per job, and an HTML timeline:

    localbatch run --option executor=subprocess --option job_duration=30 \
        examples/pipeline.py --report timeline.html

The polling loop sleeps 30 s between checks; under `localbatch run` those
sleeps move engine time instead, so the run takes well under a second.
"""

from __future__ import annotations

import time

import boto3

QUEUE = "pipeline-queue"
STEP = "pipeline-step"


def create_environment(batch) -> None:
    batch.create_compute_environment(
        computeEnvironmentName="pipeline-ce",
        type="MANAGED",
        computeResources={
            "type": "EC2",
            "minvCpus": 0,
            "maxvCpus": 4,
            "instanceTypes": ["optimal"],
            "instanceRole": "ecsInstanceRole",
            "subnets": ["subnet-0123456789abcdef0"],
            "securityGroupIds": ["sg-0123456789abcdef0"],
        },
    )
    while batch.describe_compute_environments(computeEnvironments=["pipeline-ce"])["computeEnvironments"][0][
        "status"
    ] != "VALID":
        time.sleep(5)
    batch.create_job_queue(
        jobQueueName=QUEUE, priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "pipeline-ce"}]
    )
    batch.register_job_definition(
        jobDefinitionName=STEP,
        type="container",
        containerProperties={
            "image": "public.ecr.aws/docker/library/busybox:latest",
            "command": ["echo", "Ref::message"],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
        },
        parameters={"message": "hello"},
    )


def submit(batch, name: str, command: list[str] | None = None, **kwargs) -> str:
    overrides = {"command": command} if command else {}
    job = batch.submit_job(jobName=name, jobQueue=QUEUE, jobDefinition=STEP, containerOverrides=overrides, **kwargs)
    return job["jobId"]


def run_pipeline(batch) -> dict[str, str]:
    jobs = {}
    jobs["preprocess"] = submit(batch, "preprocess", parameters={"message": "preprocessing input s3://bucket/raw"})
    jobs["shard"] = submit(
        batch,
        "shard",
        ["sh", "-c", 'echo "shard $AWS_BATCH_JOB_ARRAY_INDEX of $AWS_BATCH_JOB_ARRAY_SIZE"'],
        arrayProperties={"size": 4},
        dependsOn=[{"jobId": jobs["preprocess"]}],
    )
    # Fails on its first attempt (as a flaky step would), succeeds on the retry.
    jobs["train"] = submit(
        batch,
        "train",
        ["sh", "-c", 'echo "attempt $AWS_BATCH_JOB_ATTEMPT"; test "$AWS_BATCH_JOB_ATTEMPT" -gt 1'],
        retryStrategy={"attempts": 2},
        dependsOn=[{"jobId": jobs["shard"]}],
    )
    jobs["publish"] = submit(
        batch,
        "publish",
        parameters={"message": "publishing the model"},
        dependsOn=[{"jobId": jobs["train"]}, {"jobId": jobs["shard"]}],
    )
    return jobs


def wait(batch, jobs: dict[str, str]) -> dict[str, dict]:
    while True:
        described = {j["jobId"]: j for j in batch.describe_jobs(jobs=list(jobs.values()))["jobs"]}
        if all(j["status"] in ("SUCCEEDED", "FAILED") for j in described.values()):
            return described
        time.sleep(30)


def print_timeline(jobs: dict[str, str], described: dict[str, dict]) -> None:
    t0 = min(j["createdAt"] for j in described.values())
    print(f"{'job':12} {'status':10} {'created':>8} {'started':>8} {'stopped':>8}  attempts")
    for name, job_id in jobs.items():
        job = described[job_id]

        def at(key: str) -> str:
            return f"{(job[key] - t0) / 1000:.0f}s" if key in job else "-"

        attempts = ", ".join(a.get("statusReason", "?") + f" (exit {a['container'].get('exitCode')})"
                             for a in job.get("attempts", []))
        print(f"{name:12} {job['status']:10} {at('createdAt'):>8} {at('startedAt'):>8} {at('stoppedAt'):>8}  "
              f"{attempts or '(array parent)'}")


def main() -> None:
    batch = boto3.client("batch")
    create_environment(batch)
    jobs = run_pipeline(batch)
    described = wait(batch, jobs)
    print_timeline(jobs, described)


if __name__ == "__main__":
    main()
