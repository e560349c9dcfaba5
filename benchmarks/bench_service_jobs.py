"""Cost of a quota-share scheduling pass and of GetJobQueueSnapshot with
20 quota shares and 10,000 RUNNABLE service jobs (issue 4 target: < 5 ms each).

    python benchmarks/bench_service_jobs.py
"""

from __future__ import annotations

import json
import statistics
import time

import boto3

import localbatch
from localbatch.api import OPERATIONS
from localbatch.engine.service_lifecycle import dispatch_pass

GPU = "ml.g5.xlarge"
SHARES = 20
JOBS = 10_000
PAYLOAD = json.dumps({
    "TrainingJobName": "bench", "RoleArn": "arn:aws:iam::123456789012:role/r",
    "AlgorithmSpecification": {"TrainingImage": "img", "TrainingInputMode": "File"},
    "OutputDataConfig": {"S3OutputPath": "s3://b/o"},
    "ResourceConfig": {"InstanceType": GPU, "InstanceCount": 1, "VolumeSizeInGB": 1},
    "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
})


def timed(fn, repeat: int = 200) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples)


def main() -> None:
    with localbatch.patch(record_timeline=False) as lb:
        batch = boto3.client("batch", region_name="us-east-1")
        batch.create_service_environment(serviceEnvironmentName="gpus", serviceEnvironmentType="SAGEMAKER_TRAINING",
                                         capacityLimits=[{"maxCapacity": 2 * SHARES, "capacityUnit": GPU}])
        policy = batch.create_scheduling_policy(name="q", quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"})
        batch.create_job_queue(jobQueueName="training", priority=1, jobQueueType="SAGEMAKER_TRAINING",
                               schedulingPolicyArn=policy["arn"],
                               serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": "gpus"}])
        lb.advance(0)
        for i in range(SHARES):
            strategy = ("LEND_AND_BORROW", "LEND", "RESERVE")[i % 3]
            batch.create_quota_share(quotaShareName=f"s{i}", jobQueue="training",
                                     capacityLimits=[{"maxCapacity": 2, "capacityUnit": GPU}],
                                     resourceSharingConfiguration={"strategy": strategy},
                                     preemptionConfiguration={"inSharePreemption": "ENABLED"})
        lb.on_job(duration=None)
        start = time.perf_counter()
        for n in range(JOBS + 2 * SHARES):
            batch.submit_service_job(jobName=f"j{n}", jobQueue="training", serviceJobType="SAGEMAKER_TRAINING",
                                     serviceRequestPayload=PAYLOAD, quotaShareName=f"s{n % SHARES}",
                                     schedulingPriority=n % 7)
        lb.advance(1)
        submit_s = time.perf_counter() - start
        backend = lb.backend()
        jobs = backend.service_jobs.queues[backend.job_queues.get("training").arn]
        runnable = len(jobs.by_status["RUNNABLE"])
        running = len(jobs.in_use)
        pass_ms = timed(lambda: dispatch_pass(backend))
        handler = OPERATIONS["GetJobQueueSnapshot"]
        snapshot_ms = timed(lambda: handler(backend, {"jobQueue": "training"}))
        call_ms = timed(lambda: batch.get_job_queue_snapshot(jobQueue="training"), repeat=50)
        list_ms = timed(lambda: batch.list_service_jobs(jobQueue="training", jobStatus="RUNNABLE"), repeat=50)
        describe_ms = timed(lambda: batch.describe_service_job(jobId=backend.service_jobs.by_seq[
            jobs.listed[-1]].id), repeat=200)
    print(f"{SHARES} quota shares, {runnable} RUNNABLE, {running} running service jobs "
          f"(submitted {JOBS + 2 * SHARES} in {submit_s:.1f} s)")
    print(f"scheduling pass (nothing to start):  median {pass_ms[0]:.3f} ms, max {pass_ms[1]:.3f} ms")
    print(f"GetJobQueueSnapshot (engine):         median {snapshot_ms[0]:.3f} ms, max {snapshot_ms[1]:.3f} ms")
    print(f"GetJobQueueSnapshot (boto3 call):     median {call_ms[0]:.3f} ms, max {call_ms[1]:.3f} ms")
    print(f"ListServiceJobs 100 (boto3 call):     median {list_ms[0]:.3f} ms")
    print(f"DescribeServiceJob (boto3 call):      median {describe_ms[0]:.3f} ms")


if __name__ == "__main__":
    main()
