"""Per-call cost of localbatch against the floor of any shim.

The floor is the same boto3 call on a client whose `before-call` is answered
by a bare handler returning a canned response (the body localbatch itself
gave for that call, so both sides hand back the same payload). Both run side
by side in one process, interleaved in rounds so drift in machine speed hits
both alike; each figure is the median of the per-round means.

    python benchmarks/bench_calls.py            # full run (10 / 1,000 / 10,000 held)
    python benchmarks/bench_calls.py --quick    # smaller, for a smoke check

Reported: median µs per call for each side, the ratio, and how the ratio
moves from the smallest to the largest number of resources held. Also the
cost of `boto3.client("batch")` inside an active patch against outside.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
from typing import Any, Callable

os.environ.setdefault("AWS_ACCESS_KEY_ID", "bench")
os.environ.setdefault("AWS_SECRET_ACCESS_KEY", "bench")
os.environ.setdefault("AWS_DEFAULT_REGION", "us-east-1")
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"

# Run as a script, sys.path[0] is benchmarks/, so `import localbatch` would find
# whichever checkout is installed (an editable install points at one tree), not
# the tree this file is in: measure this tree. The other benchmarks import this
# module (bench_fair_share.py through bench_service_jobs.py) before localbatch.
sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

import boto3  # noqa: E402
from botocore.awsrequest import AWSResponse  # noqa: E402
from botocore.compat import HTTPHeaders  # noqa: E402

import localbatch  # noqa: E402
from localbatch.api import OPERATIONS  # noqa: E402


class _Body:
    def stream(self, **kwargs: Any) -> Any:
        return iter((b"",))


def floor_client(canned: dict[str, dict[str, Any]]) -> Any:
    """A batch client answered by a bare before-call handler (localbatch's hooks removed)."""
    client = boto3.client("batch", region_name="us-east-1")
    client.meta.events.unregister("before-call.batch", unique_id="localbatch-answer")
    client.meta.events.unregister("before-parameter-build.batch", unique_id="localbatch-params")
    headers = HTTPHeaders()
    headers["content-type"] = "application/json"
    http = AWSResponse("https://batch.invalid", 200, headers, _Body())

    def answer(model: Any, **kwargs: Any) -> Any:
        body = dict(canned[model.name])
        body["ResponseMetadata"] = {"RequestId": "floor", "HTTPStatusCode": 200, "HTTPHeaders": {}, "RetryAttempts": 0}
        return http, body

    client.meta.events.register("before-call.batch", answer)
    return client


def populate(lb: Any, n: int) -> None:
    """Hold `n` resources of every kind (direct engine calls: fast setup).

    Quota shares go 20 to a quota-management queue (AWS's per-queue quota),
    each queue with a service environment of its own, so holding more of
    them also means holding more queues; the benchmark lists the shares of
    the middle one."""
    backend = lb.backend("us-east-1")
    create_policy = OPERATIONS["CreateSchedulingPolicy"]
    register = OPERATIONS.get("RegisterJobDefinition")
    for i in range(n):
        create_policy(backend, {"name": f"held-{i}"})
        if register is not None:
            register(backend, {"jobDefinitionName": f"held-{i}", "type": "container", "containerProperties": _CONTAINER})
    for op, params in _HELD:
        if op in OPERATIONS:
            for i in range(n):
                OPERATIONS[op](backend, params(i))
            lb.run_until_idle()  # CREATING -> VALID before the next kind refers to them
    if "CreateQuotaShare" in OPERATIONS:
        create_policy(backend, {"name": "quota", "quotaSharePolicy": {"idleResourceAssignmentStrategy": "FIFO"}})
        for q in range(-(-n // SHARES_PER_QUEUE)):
            OPERATIONS["CreateJobQueue"](backend, {
                "jobQueueName": f"quota-{q}", "priority": 1, "jobQueueType": "SAGEMAKER_TRAINING",
                "schedulingPolicyArn": "quota", "serviceEnvironmentOrder": [{"order": 1, "serviceEnvironment": f"held-{q}"}],
            })
        lb.run_until_idle()
        for i in range(n):
            OPERATIONS["CreateQuotaShare"](backend, {
                "quotaShareName": f"held-{i}", "jobQueue": f"quota-{i // SHARES_PER_QUEUE}",
                "capacityLimits": [{"maxCapacity": 1, "capacityUnit": "ml.m5.large"}],
                "resourceSharingConfiguration": {"strategy": "LEND_AND_BORROW", "borrowLimit": 200},
                "preemptionConfiguration": {"inSharePreemption": "ENABLED"},
            })
        lb.run_until_idle()


SHARES_PER_QUEUE = 20


def _quotas(n: int) -> dict[str, int]:
    """Patch options that let the backend hold `n` of each kind (AWS's quotas are 50)."""
    room = n + n // SHARES_PER_QUEUE + 10
    return {"max_compute_environments": room, "max_job_queues": room, "max_service_environments": room}


_CONTAINER = {
    "image": "busybox",
    "command": ["echo", "hi"],
    "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
}

_COMPUTE_RESOURCES = {
    "type": "EC2",
    "minvCpus": 0,
    "maxvCpus": 16,
    "instanceTypes": ["optimal"],
    "subnets": ["subnet-1", "subnet-2"],
    "securityGroupIds": ["sg-1"],
    "instanceRole": "ecsInstanceRole",
    "tags": {"team": "bench"},
}

# (create operation, its params for the i-th held resource), in the order
# they must exist: queues refer to compute environments.
_HELD: list[tuple[str, Callable[[int], dict[str, Any]]]] = [
    ("CreateComputeEnvironment", lambda i: {
        "computeEnvironmentName": f"held-{i}", "type": "MANAGED", "computeResources": _COMPUTE_RESOURCES}),
    ("CreateJobQueue", lambda i: {
        "jobQueueName": f"held-{i}", "priority": 1,
        "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": f"held-{i}"}]}),
    ("CreateServiceEnvironment", lambda i: {
        "serviceEnvironmentName": f"held-{i}", "serviceEnvironmentType": "SAGEMAKER_TRAINING",
        "capacityLimits": [{"maxCapacity": 8, "capacityUnit": "ml.m5.large"}]}),
    ("CreateConsumableResource", lambda i: {
        "consumableResourceName": f"held-{i}", "totalQuantity": 10, "resourceType": "REPLENISHABLE",
        "tags": {"team": "bench"}}),
]

Scenario = tuple[str, str, Callable[[Any, int], dict[str, Any]]]


def scenarios(n: int) -> list[Scenario]:
    middle = f"held-{n // 2}"
    policy_arn = f"arn:aws:batch:us-east-1:123456789012:scheduling-policy/{middle}"
    out: list[Scenario] = [
        ("describe_scheduling_policies (1 arn)", "DescribeSchedulingPolicies",
         lambda c, i: c.describe_scheduling_policies(arns=[policy_arn])),
        ("list_scheduling_policies (page of 10)", "ListSchedulingPolicies",
         lambda c, i: c.list_scheduling_policies(maxResults=10)),
        ("create_scheduling_policy", "CreateSchedulingPolicy",
         lambda c, i: c.create_scheduling_policy(name=f"new-{i}")),
    ]
    if "RegisterJobDefinition" in OPERATIONS:
        out += [
            ("describe_job_definitions (name:rev)", "DescribeJobDefinitions",
             lambda c, i: c.describe_job_definitions(jobDefinitions=[f"{middle}:1"])),
            ("describe_job_definitions (page of 10)", "DescribeJobDefinitions",
             lambda c, i: c.describe_job_definitions(maxResults=10)),
            ("register_job_definition", "RegisterJobDefinition",
             lambda c, i: c.register_job_definition(jobDefinitionName=f"new-{i}", type="container",
                                                    containerProperties=_CONTAINER)),
        ]
    out += _resource_scenarios(n, middle)
    return out


def _resource_scenarios(n: int, middle: str) -> list[Scenario]:
    """One row per describe/list call of the other issue-2 resources: a page of
    10 where the call pages, else the one resource in the middle of those held."""
    arn = f"arn:aws:batch:us-east-1:123456789012:job-queue/{middle}"
    queue = f"quota-{(n // 2) // SHARES_PER_QUEUE}"
    share = f"arn:aws:batch:us-east-1:123456789012:job-queue/{queue}/quota-share/{middle}"
    rows: list[tuple[str, str, Callable[[Any, int], dict[str, Any]]]] = [
        ("describe_compute_environments (page of 10)", "DescribeComputeEnvironments",
         lambda c, i: c.describe_compute_environments(maxResults=10)),
        ("describe_compute_environments (1 name)", "DescribeComputeEnvironments",
         lambda c, i: c.describe_compute_environments(computeEnvironments=[middle])),
        ("describe_job_queues (page of 10)", "DescribeJobQueues",
         lambda c, i: c.describe_job_queues(maxResults=10)),
        ("describe_job_queues (1 name)", "DescribeJobQueues",
         lambda c, i: c.describe_job_queues(jobQueues=[middle])),
        ("describe_service_environments (page of 10)", "DescribeServiceEnvironments",
         lambda c, i: c.describe_service_environments(maxResults=10)),
        ("describe_consumable_resource (1 name)", "DescribeConsumableResource",
         lambda c, i: c.describe_consumable_resource(consumableResource=middle)),
        ("list_consumable_resources (page of 10)", "ListConsumableResources",
         lambda c, i: c.list_consumable_resources(maxResults=10)),
        ("describe_quota_share (1 arn)", "DescribeQuotaShare",
         lambda c, i: c.describe_quota_share(quotaShareArn=share)),
        ("list_quota_shares (page of 10)", "ListQuotaShares",
         lambda c, i: c.list_quota_shares(jobQueue=queue, maxResults=10)),
        ("list_tags_for_resource (1 arn)", "ListTagsForResource",
         lambda c, i: c.list_tags_for_resource(resourceArn=arn)),
    ]
    return [row for row in rows if row[1] in OPERATIONS]


def _time_calls(fn: Callable[[int], Any], start: int, count: int) -> float:
    t0 = time.perf_counter()
    for i in range(start, start + count):
        fn(i)
    return (time.perf_counter() - t0) / count


def compare(label: str, op: str, call: Callable[[Any, int], dict[str, Any]], real: Any,
            rounds: int, per_round: int) -> dict[str, Any]:
    """Median µs per call of `call` on localbatch and on the floor, interleaved.

    The floor answers with the body localbatch gave for the same call."""
    canned = {op: {k: v for k, v in call(real, -1).items() if k != "ResponseMetadata"}}
    floor = floor_client(canned)
    for warm in (real, floor):
        _time_calls(lambda i, c=warm: call(c, i), 10_000_000, 20)
    lb_times, floor_times = [], []
    offset = 0
    for _ in range(rounds):
        lb_times.append(_time_calls(lambda i: call(real, i), offset, per_round))
        floor_times.append(_time_calls(lambda i: call(floor, i), offset, per_round))
        offset += per_round
    lb_us = statistics.median(lb_times) * 1e6
    floor_us = statistics.median(floor_times) * 1e6
    return {"call": label, "localbatch_us": lb_us, "floor_us": floor_us, "ratio": lb_us / floor_us}


def measure(held: int, rounds: int, per_round: int, only: str | None = None) -> list[dict[str, Any]]:
    with localbatch.patch(check_responses=False, **_quotas(held)) as lb:
        populate(lb, held)
        real = boto3.client("batch", region_name="us-east-1")
        return [{**compare(label, op, call, real, rounds, per_round), "held": held}
                for label, op, call in scenarios(held) if only is None or only in label]


def client_creation(rounds: int) -> dict[str, float]:
    def make() -> float:
        t0 = time.perf_counter()
        boto3.client("batch")
        return time.perf_counter() - t0

    for _ in range(3):
        make()
    outside, inside = [], []
    for _ in range(rounds):
        outside.append(make())
        with localbatch.patch():
            inside.append(make())
    out_us = statistics.median(outside) * 1e6
    in_us = statistics.median(inside) * 1e6
    return {"outside_us": out_us, "inside_us": in_us, "ratio": in_us / out_us}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="fewer rounds and resources (smoke check)")
    parser.add_argument("--json", help="also write the results to this file")
    parser.add_argument("--only", help="run only the calls whose label contains this text")
    args = parser.parse_args(argv)
    sizes = (10, 1_000) if args.quick else (10, 1_000, 10_000)
    rounds, per_round = (5, 50) if args.quick else (15, 200)

    rows: list[dict[str, Any]] = []
    for held in sizes:
        rows += measure(held, rounds, per_round, args.only)
    print(f"{'call':42} {'held':>7} {'localbatch µs':>14} {'floor µs':>9} {'ratio':>6}")
    for r in rows:
        print(f"{r['call']:42} {r['held']:>7} {r['localbatch_us']:>14.1f} {r['floor_us']:>9.1f} {r['ratio']:>6.2f}")
    print()
    growth = {}
    for label in dict.fromkeys(r["call"] for r in rows):
        ratios = [r["ratio"] for r in rows if r["call"] == label]
        growth[label] = ratios[-1] / ratios[0]
        print(f"ratio growth {sizes[0]} -> {sizes[-1]} held, {label}: {growth[label]:.2f}x")
    creation = client_creation(20 if args.quick else 60)
    print(f"\nboto3.client('batch'): outside a patch {creation['outside_us']:.0f} µs, inside "
          f"{creation['inside_us']:.0f} µs (ratio {creation['ratio']:.2f})")
    if args.json:
        with open(args.json, "w") as f:
            json.dump({"calls": rows, "growth": growth, "client_creation": creation}, f, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
