"""Fair-share scheduling: three teams share one queue, and decay lets them catch up.

The scheduling policy gives `analytics` weight 1.0, `ml` weight 0.5 (a lower
weight gets more: twice analytics' share) and every identifier starting
with `research` weight 2.0 through one `research*` entry (half of
analytics' share, each). Usage decays over a 15-minute window.

Analytics bursts first and has all 32 vCPUs to itself. Ten minutes later ml
and two research groups (`researchVision`, `researchGenomics`) queue work.
Analytics' recent usage weighs against it, so the newcomers get nearly all
the capacity that frees up at first; as that usage decays the split settles
at what the weights say: ml 2 : analytics 1 : each research group 1/2.

`main()` is plain boto3, as it would run against AWS; only the clock and
how long jobs run come from localbatch (`lb.advance`, `lb.on_job`). The
table is computed from ListJobs (startedAt, stoppedAt, capacityUsage).
"""

from __future__ import annotations

from collections import defaultdict

import boto3

import localbatch

MINUTE = 60
INTERVAL = 5 * MINUTE
TEAMS = ("analytics", "ml", "research*")


def setup(batch) -> None:
    batch.create_compute_environment(
        computeEnvironmentName="shared",
        type="MANAGED",
        computeResources={
            "type": "EC2", "minvCpus": 0, "maxvCpus": 32, "instanceTypes": ["optimal"],
            "subnets": ["subnet-0123456789abcdef0"], "securityGroupIds": ["sg-0123456789abcdef0"],
            "instanceRole": "ecsInstanceRole",
        },
    )
    policy = batch.create_scheduling_policy(
        name="teams",
        fairsharePolicy={
            "shareDecaySeconds": 15 * MINUTE,
            "shareDistribution": [
                {"shareIdentifier": "analytics", "weightFactor": 1.0},
                {"shareIdentifier": "ml", "weightFactor": 0.5},
                {"shareIdentifier": "research*", "weightFactor": 2.0},
            ],
        },
    )
    batch.create_job_queue(
        jobQueueName="teams",
        priority=1,
        schedulingPolicyArn=policy["arn"],
        computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "shared"}],
    )
    batch.register_job_definition(
        jobDefinitionName="work",
        type="container",
        containerProperties={
            "image": "public.ecr.aws/docker/library/busybox:latest",
            "command": ["sleep", "240"],
            "resourceRequirements": [{"type": "VCPU", "value": "2"}, {"type": "MEMORY", "value": "2048"}],
        },
    )


def submit(batch, share: str, count: int) -> None:
    for i in range(count):
        batch.submit_job(jobName=f"{share}-{i}", jobQueue="teams", jobDefinition="work", shareIdentifier=share)


def team_of(share: str) -> str:
    return "research*" if share.startswith("research") else share


def vcpu_seconds(batch, start_ms: int, end_ms: int) -> dict[str, float]:
    """vCPU-seconds each team used between two times, from the jobs' own timestamps."""
    used: dict[str, float] = defaultdict(float)
    for status in ("RUNNING", "SUCCEEDED"):
        for page in batch.get_paginator("list_jobs").paginate(jobQueue="teams", jobStatus=status):
            for job in page["jobSummaryList"]:
                started, stopped = job.get("startedAt"), job.get("stoppedAt") or end_ms
                overlap = min(stopped, end_ms) - max(started, start_ms)
                if started is not None and overlap > 0:
                    vcpus = job["capacityUsage"][0]["quantity"]
                    used[team_of(job["shareIdentifier"])] += vcpus * overlap / 1000
    return used


def main(lb) -> list[dict[str, float]]:
    batch = boto3.client("batch")
    setup(batch)
    t0 = lb.now_ms
    submit(batch, "analytics", 80)  # the burst: 80 × 2 vCPU × 4 min
    rows = []
    print(f"{'minutes':>9} " + " ".join(f"{team:>10}" for team in TEAMS) + "   (share of the vCPU-seconds used)")
    for interval in range(8):
        if interval == 2:
            submit(batch, "ml", 60)
            submit(batch, "researchVision", 30)
            submit(batch, "researchGenomics", 30)
        start = lb.now_ms
        lb.advance(INTERVAL)
        used = vcpu_seconds(batch, start, lb.now_ms)
        total = sum(used.values()) or 1.0
        row = {team: used.get(team, 0.0) / total for team in TEAMS}
        rows.append(row)
        minutes = f"{(start - t0) // 60000:>3}-{(lb.now_ms - t0) // 60000:<3}"
        print(f"{minutes:>9} " + " ".join(f"{row[team]:>10.0%}" for team in TEAMS))
    return rows


if __name__ == "__main__":
    with localbatch.patch() as lb:
        lb.on_job("*", duration=4 * MINUTE)
        main(lb)
