"""The container-job engine at scale.

1. `lb.run_until_idle()` on N queued 1-vCPU jobs through one 256-vCPU
   compute environment (jobs submitted through boto3 first; that time is
   reported apart).
2. Per-call cost of submit_job (a job that starts at once, and one that
   waits in a busy queue), describe_jobs (one id) and list_jobs (one page)
   with few jobs held and with N held: the figures must not grow.

    python benchmarks/bench_jobs.py              # N = 100,000
    python benchmarks/bench_jobs.py --jobs 10000 # quicker
"""

from __future__ import annotations

import argparse
import os
import resource
import time

os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

import boto3  # noqa: E402
from bench_calls import compare  # noqa: E402  (benchmarks/ is on sys.path when run as a script)

import localbatch  # noqa: E402


def setup(batch) -> None:
    _queue_on_its_own_ce(batch, "q", "ce", max_vcpus=256)
    # Probes of the per-call costs run elsewhere, so they never take the 256 vCPUs.
    batch.create_compute_environment(computeEnvironmentName="probe-ce", type="UNMANAGED")
    batch.create_job_queue(
        jobQueueName="probes", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "probe-ce"}]
    )
    # A queue whose one vCPU a job that never ends holds: what is submitted
    # there waits behind its head, as in any busy queue.
    _queue_on_its_own_ce(batch, "busy", "busy-ce", max_vcpus=1)
    batch.register_job_definition(
        jobDefinitionName="jd", type="container",
        containerProperties={"image": "busybox", "command": ["true"],
                             "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}]},
    )


def _queue_on_its_own_ce(batch, queue: str, ce: str, max_vcpus: int) -> None:
    batch.create_compute_environment(
        computeEnvironmentName=ce,
        type="MANAGED",
        computeResources={
            "type": "EC2", "minvCpus": 0, "maxvCpus": max_vcpus, "instanceTypes": ["optimal"],
            "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"], "instanceRole": "ecsInstanceRole",
        },
    )
    batch.create_job_queue(jobQueueName=queue, priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": ce}])


def call_costs(batch, lb, label: str, rounds: int = 9, per_round: int = 100) -> dict[str, dict]:
    """submit_job, describe_jobs (one id), list_jobs (one page) against the floor."""
    lb.on_job("probe", duration=None)  # probes stay RUNNING: they do not disturb the held jobs
    lb.on_job("blocker", duration=None)
    job_id = batch.submit_job(jobName="probe", jobQueue="probes", jobDefinition="jd")["jobId"]
    if not batch.list_jobs(jobQueue="busy")["jobSummaryList"]:
        batch.submit_job(jobName="blocker", jobQueue="busy", jobDefinition="jd")
    calls = [
        ("submit_job", "SubmitJob",
         lambda c, i: c.submit_job(jobName="probe", jobQueue="probes", jobDefinition="jd")),
        # Into a busy queue: the job waits behind the queue's head.
        ("submit_job (job waits)", "SubmitJob",
         lambda c, i: c.submit_job(jobName="waiter", jobQueue="busy", jobDefinition="jd")),
        ("describe_jobs(1 id)", "DescribeJobs", lambda c, i: c.describe_jobs(jobs=[job_id])),
        ("list_jobs(page of 100)", "ListJobs",
         lambda c, i: c.list_jobs(jobQueue="q", jobStatus="SUCCEEDED", maxResults=100)),
        # No maxResults: the page is what ListJobs gives by default (spec §6.1:
        # up to 1000 with jobStatus), so it grows with the jobs held up to that.
        ("list_jobs(default page)", "ListJobs",
         lambda c, i: c.list_jobs(jobQueue="q", jobStatus="SUCCEEDED")),
    ]
    costs = {name: compare(name, op, call, batch, rounds, per_round) for name, op, call in calls}
    listed = len(batch.list_jobs(jobQueue="q", jobStatus="SUCCEEDED")["jobSummaryList"])
    for name, row in costs.items():
        shown = f" ({listed} jobs)" if name == "list_jobs(default page)" else ""
        print(f"  {label}: {name:24} localbatch {row['localbatch_us']:6.0f} µs, floor {row['floor_us']:6.0f} µs, "
              f"ratio {row['ratio']:.2f}{shown}")
    return costs


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--no-timeline", action="store_true", help="record_timeline=False")
    args = parser.parse_args()
    with localbatch.patch(check_responses=False, record_timeline=not args.no_timeline) as lb:
        batch = boto3.client("batch", region_name="us-east-1")
        setup(batch)
        for _ in range(100):
            batch.submit_job(jobName="warm", jobQueue="q", jobDefinition="jd")
        lb.run_until_idle()
        small = call_costs(batch, lb, "100 jobs held")
        lb.run_until_idle()

        rss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        start_ms = lb.now_ms
        # Each job runs 60 s of engine time, so all but 256 wait RUNNABLE.
        lb.on_job("job-*", duration=60)
        start = time.perf_counter()
        for i in range(args.jobs):
            batch.submit_job(jobName=f"job-{i}", jobQueue="q", jobDefinition="jd")
        submitted = time.perf_counter() - start
        print(f"submitted {args.jobs:,} jobs through boto3 in {submitted:.1f} s ({submitted / args.jobs * 1e6:.0f} µs each)")

        start, cpu = time.perf_counter(), time.process_time()
        lb.run_until_idle()
        ran, cpu = time.perf_counter() - start, time.process_time() - cpu
        backend = lb.backend()
        done = len(backend.jobs.queues[backend.arn("job-queue/q")].by_status["SUCCEEDED"])
        print(f"run_until_idle: {ran:.2f} s wall, {cpu:.2f} s CPU for {args.jobs:,} queued jobs ({done:,} SUCCEEDED in the queue, "
              f"{(lb.now_ms - start_ms) / 3600_000:.1f} h of engine time)")
        rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        print(f"peak RSS {rss / 1024:.0f} MiB; memory per finished job ≈ {(rss - rss_before) * 1024 / args.jobs:.0f} bytes "
              f"(peak RSS growth over the run / jobs, timeline {'off' if args.no_timeline else 'on'})")

        big = call_costs(batch, lb, f"{len(backend.jobs):,} jobs held")
        for key in small:
            growth = big[key]["ratio"] / small[key]["ratio"]
            print(f"  {key}: ratio to the floor x{growth:.2f} from 100 to {len(backend.jobs):,} jobs held")


if __name__ == "__main__":
    main()
