"""Cost of service jobs at scale (issue 4).

1. A quota-share scheduling pass and GetJobQueueSnapshot with 20 quota
   shares and 10,000 RUNNABLE service jobs (target: < 5 ms each).
2. SubmitServiceJob and DescribeServiceJob against the floor of any shim
   (`compare()` of bench_calls.py: the same boto3 call answered by a bare
   before-call handler, interleaved in rounds), with 100 and with 10,000
   jobs held, on that quota-share queue and on a FIFO service queue
   (target: median <= 1.5x the floor, and the ratio at 10,000 held within
   1.2x of the ratio at 100).

    python benchmarks/bench_service_jobs.py            # full run
    python benchmarks/bench_service_jobs.py --quick    # smaller, for a smoke check

A submit's measured cost includes the engine work its job causes at the
next call (its evaluation to RUNNABLE and what that asks of the
scheduler). Each submit adds a job, so the held count grows by the rounds
times the calls per round (about 500) while it is measured.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable
from typing import Any

import boto3
from bench_calls import compare

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
REGION = "us-east-1"


def timed(fn: Callable[[], Any], repeat: int = 200) -> tuple[float, float]:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        fn()
        samples.append((time.perf_counter() - start) * 1000)
    return statistics.median(samples), max(samples)


# -- the two queues ---------------------------------------------------------------------------


def quota_queue(lb: Any, batch: Any) -> None:
    """20 quota shares of 2 instances each over a 40-instance service environment."""
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
    lb.advance(0)


def fifo_queue(lb: Any, batch: Any) -> None:
    """A FIFO service queue on a 40-instance service environment."""
    batch.create_service_environment(serviceEnvironmentName="fifo-se", serviceEnvironmentType="SAGEMAKER_TRAINING",
                                     capacityLimits=[{"maxCapacity": 2 * SHARES, "capacityUnit": "NUM_INSTANCES"}])
    lb.advance(0)
    batch.create_job_queue(jobQueueName="fifo", priority=1, jobQueueType="SAGEMAKER_TRAINING",
                           serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": "fifo-se"}])
    lb.advance(0)


def submit_params(queue: str, n: int) -> dict[str, Any]:
    """The n-th job of the scenario: shares and priorities 0-6 in turn on the quota queue.

    The first three jobs of each share have priority 6: two run, the third
    heads the share's waiting jobs, so later jobs (priority <= 6) queue
    behind it and the queue is settled. Without them the first jobs of
    priority 5 and 6 submitted while measuring would each take the head of
    their share and preempt a running job of lower priority (in-share
    preemption), hundreds of passes before it settles: real scheduling work,
    not the cost of a call.
    """
    params: dict[str, Any] = {"jobName": f"j{n}", "jobQueue": queue, "serviceJobType": "SAGEMAKER_TRAINING",
                              "serviceRequestPayload": PAYLOAD}
    if queue == "training":
        params.update(quotaShareName=f"s{n % SHARES}", schedulingPriority=6 if n < 3 * SHARES else n % 7)
    return params


def hold(lb: Any, queue: str, runnable: int) -> None:
    """Submit `runnable` jobs beyond the 40 that start (through the controller: faster than boto3)."""
    for n in range(runnable + 2 * SHARES):
        lb.call(REGION, "SubmitServiceJob", submit_params(queue, n))
    lb.advance(1)


# -- 1. pass and snapshot at scale ------------------------------------------------------------


def scale() -> None:
    with localbatch.patch(record_timeline=False) as lb:
        batch = boto3.client("batch", region_name=REGION)
        quota_queue(lb, batch)
        lb.on_job(duration=None)
        start = time.perf_counter()
        hold(lb, "training", JOBS)
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
    print(f"{SHARES} quota shares, {runnable} RUNNABLE, {running} running service jobs "
          f"(submitted {JOBS + 2 * SHARES} in {submit_s:.1f} s)")
    print(f"scheduling pass (nothing to start):  median {pass_ms[0]:.3f} ms, max {pass_ms[1]:.3f} ms")
    print(f"GetJobQueueSnapshot (engine):         median {snapshot_ms[0]:.3f} ms, max {snapshot_ms[1]:.3f} ms")
    print(f"GetJobQueueSnapshot (boto3 call):     median {call_ms[0]:.3f} ms, max {call_ms[1]:.3f} ms")
    print(f"ListServiceJobs 100 (boto3 call):     median {list_ms[0]:.3f} ms")


# -- 2. per-call cost against the floor --------------------------------------------------------


def against_floor(queue: str, held: int, rounds: int, per_round: int) -> list[dict[str, Any]]:
    with localbatch.patch(check_responses=False) as lb:  # default settings: what a test gets
        batch = boto3.client("batch", region_name=REGION)
        (quota_queue if queue == "training" else fifo_queue)(lb, batch)
        lb.on_job(duration=None)
        hold(lb, queue, held)
        backend = lb.backend()
        jobs = backend.service_jobs.queues[backend.job_queues.get(queue).arn]
        waiting = backend.service_jobs.by_seq[jobs.listed[len(jobs.listed) // 2]].id
        first = len(jobs.listed)

        def submit(client: Any, i: int) -> dict[str, Any]:
            return client.submit_service_job(**submit_params(queue, first + 1 + i))

        def describe(client: Any, i: int) -> dict[str, Any]:
            return client.describe_service_job(jobId=waiting)

        rows = []
        for label, op, call in (("submit_service_job", "SubmitServiceJob", submit),
                                ("describe_service_job", "DescribeServiceJob", describe)):
            row = compare(label, op, call, batch, rounds, per_round)
            rows.append({**row, "queue": queue, "held": held})
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="1,000 instead of 10,000 held; fewer rounds")
    parser.add_argument("--json", help="also write the per-call results to this file")
    args = parser.parse_args(argv)
    sizes = (100, 1_000) if args.quick else (100, JOBS)
    rounds, per_round = (5, 20) if args.quick else (15, 30)

    if not args.quick:
        scale()
        print()
    rows: list[dict[str, Any]] = []
    for queue in ("training", "fifo"):
        for held in sizes:
            rows += against_floor(queue, held, rounds, per_round)
    print(f"{'call':22} {'queue':9} {'held':>7} {'localbatch µs':>14} {'floor µs':>9} {'ratio':>6}")
    for r in rows:
        print(f"{r['call']:22} {r['queue']:9} {r['held']:>7} {r['localbatch_us']:>14.1f} {r['floor_us']:>9.1f} "
              f"{r['ratio']:>6.2f}")
    print()
    growth = {}
    for queue in ("training", "fifo"):
        for label in ("submit_service_job", "describe_service_job"):
            ratios = [r["ratio"] for r in rows if r["call"] == label and r["queue"] == queue]
            growth[f"{label} {queue}"] = ratios[-1] / ratios[0]
            print(f"ratio growth {sizes[0]} -> {sizes[-1]} held, {label} ({queue}): {ratios[-1] / ratios[0]:.2f}x")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"calls": rows, "growth": growth}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
