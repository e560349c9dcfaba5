"""Cost of one fair-share dispatch pass with many shares and many waiting jobs.

A fair-share queue on a 256-vCPU compute environment holds --shares active
share identifiers (default 500, the per-queue limit) with --jobs RUNNABLE
jobs between them (default 100,000), every vCPU taken by held jobs. Then,
one engine second at a time, the oldest running job completes and the
pass that follows dispatches one job in its place: the steady state of a
busy queue. Each share has a different weight (exact entries and a
`team*` prefix), usage history decays over a 600 s window, and the
compute reservation is on, so every pass scores all waiting shares.

Reported: the cost of each pass (`fair_share.dispatch`, timed alone), of a
pass that finds nothing free, of `fair_share_front(limit=100)` and of
GetJobQueueSnapshot (the handler, without botocore).

The same for a fair-share SAGEMAKER_TRAINING queue (`--service`, on by
default): --shares shares and --jobs RUNNABLE service jobs of 1 instance on
a 256-instance service environment, every instance held. Reported: a whole
service scheduling pass (`service_lifecycle.dispatch_pass`: the dispatch and
frontOfQueue) when one job ended and one is dispatched, the same pass when
nothing is free, and GetJobQueueSnapshot. Target for each: median < 5 ms.

    python benchmarks/bench_fair_share.py                # 500 shares, 100,000 jobs
    python benchmarks/bench_fair_share.py --jobs 10000   # quicker
    python benchmarks/bench_fair_share.py --only service # the service queue only
"""

from __future__ import annotations

import argparse
import gc
import os
import statistics
import time

os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

import boto3
import time_machine
from bench_service_jobs import PAYLOAD  # (first: bench_calls, which it imports, puts this tree on sys.path)

import localbatch
from localbatch.api import OPERATIONS
from localbatch.engine import sagemaker, schedulers, service_lifecycle
from localbatch.engine.fair_share_usage import simulated_order
from localbatch.engine.schedulers import fair_share

MAX_VCPUS = 256
timer = time.perf_counter  # --cpu: time.process_time, which a busy machine's other processes do not inflate
MAX_INSTANCES = 256


def distribution(shares: int) -> list[dict]:
    out = [{"shareIdentifier": f"s{i:03d}", "weightFactor": 0.25 + (i % 8) / 4} for i in range(0, shares, 3)]
    out.append({"shareIdentifier": "team*", "weightFactor": 0.5})
    return out


def setup(batch, shares: int) -> None:
    batch.create_compute_environment(
        computeEnvironmentName="ce",
        type="MANAGED",
        state="DISABLED",
        computeResources={
            "type": "EC2", "minvCpus": 0, "maxvCpus": MAX_VCPUS, "instanceTypes": ["optimal"],
            "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"], "instanceRole": "ecsInstanceRole",
        },
    )
    policy = batch.create_scheduling_policy(
        name="fair",
        fairsharePolicy={"shareDecaySeconds": 600, "computeReservation": 5, "shareDistribution": distribution(shares)},
    )["arn"]
    batch.create_job_queue(
        jobQueueName="q", priority=1, schedulingPolicyArn=policy,
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}],
    )
    batch.register_job_definition(
        jobDefinitionName="jd", type="container",
        containerProperties={
            "image": "busybox", "command": ["true"],
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
        },
    )


def share_name(i: int) -> str:
    return f"team{i:03d}" if i % 3 == 1 else f"s{i:03d}"


def submit_all(lb, jobs: int, shares: int) -> float:
    """Submit through the controller (the api layer without botocore): the pass is what is measured.
    The clock is frozen and jobs stay SUBMITTED for 1 s, so all of them turn RUNNABLE in one event
    burst, followed by one pass."""
    started = timer()
    for n in range(jobs):
        params = {"jobName": f"j{n}", "jobQueue": "q", "jobDefinition": "jd", "shareIdentifier": share_name(n % shares)}
        if n % 7 == 0:
            params["schedulingPriorityOverride"] = n % 10
        status, body, _ = lb.call("us-east-1", "SubmitJob", params)
        assert status == 200, body
    return timer() - started


class PassTimer:
    """Times every fair_share.dispatch call (the pass over this queue), alone."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._dispatch = fair_share.dispatch

    def __enter__(self) -> PassTimer:
        def timed(*args):
            started = timer()
            self._dispatch(*args)
            self.samples.append(timer() - started)

        fair_share.dispatch = timed
        return self

    def __exit__(self, *exc) -> None:
        fair_share.dispatch = self._dispatch


def front_costs(backend, queue, rounds: int = 200) -> list[float]:
    """fair_share_front without its memo (which answers a repeat at the same engine time)."""
    book = fair_share.book_of(backend, queue.arn)
    policy = fair_share.fairshare_policy(backend, queue)
    samples = []
    for _ in range(rounds):
        started = timer()
        simulated_order(book, policy, backend.now_ms, fair_share._vcpus, 100)
        samples.append(timer() - started)
    return samples


def report(label: str, samples: list[float]) -> None:
    ms = sorted(s * 1000 for s in samples)
    p99 = ms[min(len(ms) - 1, int(len(ms) * 0.99))]
    print(f"  {label:44} n={len(ms):5}  median {statistics.median(ms):6.3f} ms  p99 {p99:6.3f} ms  "
          f"max {ms[-1]:6.3f} ms")


def snapshot_costs(lb, backend, queue_name: str, rounds: int = 200, new_time: bool = False) -> list[float]:
    """GetJobQueueSnapshot's handler; with `new_time`, each call 1 ms of engine time after the last
    (outside the timing), so nothing computed for the previous call can be reused."""
    handler = OPERATIONS["GetJobQueueSnapshot"]
    samples = []
    for _ in range(rounds):
        if new_time:
            lb.advance(0.001)
        backend.journal.begin()
        started = timer()
        handler(backend, {"jobQueue": queue_name})
        samples.append(timer() - started)
        backend.journal.commit()
    return samples


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--jobs", type=int, default=100_000)
    parser.add_argument("--shares", type=int, default=500)
    parser.add_argument("--passes", type=int, default=2000)
    parser.add_argument("--only", choices=("container", "service"))
    parser.add_argument("--cpu", action="store_true", help="time CPU used by this process, not wall time")
    args = parser.parse_args()
    print(f"localbatch from {os.path.dirname(localbatch.__file__)}")
    if args.cpu:
        global timer
        timer = time.process_time
        print("times are CPU time of this process")
    if args.only != "service":
        container(args)
    if args.only != "container":
        service(args)


def container(args) -> None:
    print(f"container fair-share queue: {args.shares} shares, {args.jobs:,} RUNNABLE jobs")
    clock = time_machine.travel(1_767_225_600, tick=False)
    with clock, localbatch.patch(check_responses=False, record_timeline=False, submitted_seconds=1) as lb:
        batch = boto3.client("batch", region_name="us-east-1")
        setup(batch, args.shares)
        lb.on_job("*", duration=None)
        seconds = submit_all(lb, args.jobs + MAX_VCPUS, args.shares)
        print(f"submitted {args.jobs + MAX_VCPUS:,} jobs in {seconds:.1f} s")
        lb.advance(1)
        gc.collect()  # the garbage of 100,000 submissions is not the passes' to pay for
        backend = lb.backend()
        queue = backend.job_queues.get("q")
        jobs = backend.jobs.queues[queue.arn]
        report("simulated_order(limit=100), no usage yet", front_costs(backend, queue))
        with PassTimer() as first:
            batch.update_compute_environment(computeEnvironment="ce", state="ENABLED")
            batch.describe_jobs(jobs=[])
        book = jobs.fair_share
        print(f"active shares {book.active_count(backend.now_ms, 600_000)}, "
              f"waiting shares {len(book.waiting)}, RUNNABLE jobs {len(jobs.runnable):,}, "
              f"running {int(backend.jobs.ce_used[backend.compute_environments.get('ce').arn])} vCPU")
        report("first pass (dispatches 256 jobs)", first.samples)

        running = jobs.by_status["RUNNING"]
        with PassTimer() as steady:
            for _ in range(args.passes):
                lb.advance(1)
                oldest = backend.jobs.by_seq[running.min()]
                lb.complete(oldest.id)  # frees 1 vCPU; the pass that follows dispatches one job
        report("pass: one job ended, one dispatched", steady.samples)

        with PassTimer() as blocked:
            for _ in range(200):
                lb.advance(1)
                backend.journal.begin()
                schedulers.request_dispatch(backend)
                backend.journal.commit()
                batch.describe_jobs(jobs=[])
        report("pass: nothing free (head blocked)", blocked.samples)

        report("simulated_order(limit=100), after the passes", front_costs(backend, queue))
        report("GetJobQueueSnapshot, a new engine time each", snapshot_costs(lb, backend, "q", new_time=True))
        report("GetJobQueueSnapshot, repeated at one time", snapshot_costs(lb, backend, "q"))
        print(f"RUNNABLE jobs left {len(jobs.runnable):,}, waiting shares {len(book.waiting)}")


# -- the same for a fair-share SAGEMAKER_TRAINING queue -------------------------------------------


def service_setup(batch, lb, shares: int) -> None:
    batch.create_service_environment(
        serviceEnvironmentName="gpus", serviceEnvironmentType="SAGEMAKER_TRAINING", state="DISABLED",
        capacityLimits=[{"maxCapacity": MAX_INSTANCES, "capacityUnit": "NUM_INSTANCES"}],
    )
    policy = batch.create_scheduling_policy(
        name="fair-service",
        fairsharePolicy={"shareDecaySeconds": 600, "computeReservation": 5, "shareDistribution": distribution(shares)},
    )["arn"]
    batch.create_job_queue(
        jobQueueName="training", priority=1, jobQueueType="SAGEMAKER_TRAINING", schedulingPolicyArn=policy,
        serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": "gpus"}],
    )
    lb.advance(0)


def submit_service_jobs(lb, jobs: int, shares: int) -> float:
    started = timer()
    for n in range(jobs):
        params = {"jobName": f"j{n}", "jobQueue": "training", "serviceJobType": "SAGEMAKER_TRAINING",
                  "serviceRequestPayload": PAYLOAD, "shareIdentifier": share_name(n % shares)}
        if n % 7 == 0:
            params["schedulingPriority"] = n % 10
        status, body, _ = lb.call("us-east-1", "SubmitServiceJob", params)
        assert status == 200, body
    return timer() - started


class ServicePassTimer:
    """Times every service scheduling pass (dispatch and frontOfQueue of the one queue)."""

    def __init__(self) -> None:
        self.samples: list[float] = []
        self._pass = service_lifecycle.dispatch_pass

    def __enter__(self) -> ServicePassTimer:
        def timed(*args):
            started = timer()
            self._pass(*args)
            self.samples.append(timer() - started)

        service_lifecycle.dispatch_pass = timed
        return self

    def __exit__(self, *exc) -> None:
        service_lifecycle.dispatch_pass = self._pass


def service(args) -> None:
    print(f"SAGEMAKER_TRAINING fair-share queue: {args.shares} shares, {args.jobs:,} RUNNABLE service jobs")
    clock = time_machine.travel(1_767_225_600, tick=False)
    with clock, localbatch.patch(check_responses=False, record_timeline=False, submitted_seconds=1) as lb:
        batch = boto3.client("batch", region_name="us-east-1")
        service_setup(batch, lb, args.shares)
        lb.on_job("*", duration=None)
        seconds = submit_service_jobs(lb, args.jobs + MAX_INSTANCES, args.shares)
        print(f"submitted {args.jobs + MAX_INSTANCES:,} service jobs in {seconds:.1f} s")
        lb.advance(1)
        gc.collect()
        backend = lb.backend()
        queue = backend.job_queues.get("training")
        jobs = backend.service_jobs.queues[queue.arn]
        # The first payload check of a process imports jsonschema and compiles
        # the CreateTrainingJob schema (about 60 ms, once): done here, so the
        # row below is the pass and not the import.
        sagemaker._validator()
        with ServicePassTimer() as first:
            batch.update_service_environment(serviceEnvironment="gpus", state="ENABLED")
            lb.advance(0)
        book = jobs.fair_share
        print(f"active shares {book.active_count(backend.now_ms, 600_000)}, waiting shares {len(book.waiting)}, "
              f"RUNNABLE jobs {len(jobs.runnable):,}, instances held {len(jobs.in_use)}")
        report("first pass (dispatches 256 jobs)", first.samples)
        running = jobs.by_status["RUNNING"]
        with ServicePassTimer() as steady:
            for _ in range(args.passes):
                lb.advance(1)
                lb.complete(backend.service_jobs.by_seq[running.min()].id)  # one ends, the pass starts one
        report("service pass: one job ended, one dispatched", steady.samples)
        with ServicePassTimer() as blocked:
            for _ in range(200):
                lb.advance(1)
                backend.journal.begin()
                service_lifecycle.request_dispatch(backend)
                backend.journal.commit()
                batch.list_service_jobs(jobQueue="training", maxResults=1)
        report("service pass: nothing free (head blocked)", blocked.samples)
        report("GetJobQueueSnapshot, a new engine time each", snapshot_costs(lb, backend, "training", new_time=True))
        report("GetJobQueueSnapshot, repeated at one time", snapshot_costs(lb, backend, "training"))
        print(f"RUNNABLE jobs left {len(jobs.runnable):,}, waiting shares {len(book.waiting)}")


if __name__ == "__main__":
    main()
