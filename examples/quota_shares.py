"""Three teams share 3 GPU instances through quota shares (AWS Batch quota
management for SageMaker Training jobs), answered by localbatch.

* research: 1 x ml.g5.xlarge, LEND_AND_BORROW (may borrow 200 %), in-share preemption
* product:  1 x ml.g5.xlarge, LEND (lends its idle instance, never borrows)
* infra:    1 x ml.g5.xlarge, RESERVE (keeps its instance for itself)

The script shows a borrow (research borrows product's idle instance), a
reclaim by preemption (product submits a job and takes its instance back),
and an in-share preemption after update_service_job raises a waiting job's
priority, printing GetJobQueueSnapshot at each step. It is plain boto3 under
`localbatch.patch()`, on a frozen clock moved with `lb.advance`.
"""

from __future__ import annotations

import datetime as dt
import json

import boto3
import time_machine

import localbatch

GPU = "ml.g5.xlarge"


def payload(name: str) -> str:
    return json.dumps({
        "TrainingJobName": name,
        "RoleArn": "arn:aws:iam::123456789012:role/SageMakerRole",
        "AlgorithmSpecification": {"TrainingImage": "763104351884.dkr.ecr.us-east-1.amazonaws.com/pytorch-training:2.3",
                                   "TrainingInputMode": "File"},
        "OutputDataConfig": {"S3OutputPath": "s3://my-bucket/output"},
        "ResourceConfig": {"InstanceType": GPU, "InstanceCount": 1, "VolumeSizeInGB": 30},
        "StoppingCondition": {"MaxRuntimeInSeconds": 86400},
    })


def setup(batch) -> None:
    batch.create_service_environment(serviceEnvironmentName="gpus", serviceEnvironmentType="SAGEMAKER_TRAINING",
                                     capacityLimits=[{"maxCapacity": 3, "capacityUnit": GPU}])
    policy = batch.create_scheduling_policy(name="teams", quotaSharePolicy={"idleResourceAssignmentStrategy": "FIFO"})
    batch.create_job_queue(jobQueueName="training", priority=1, jobQueueType="SAGEMAKER_TRAINING",
                           schedulingPolicyArn=policy["arn"],
                           serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": "gpus"}])
    for name, sharing, preemption in (
        ("research", {"strategy": "LEND_AND_BORROW", "borrowLimit": 200}, "ENABLED"),
        ("product", {"strategy": "LEND"}, "DISABLED"),
        ("infra", {"strategy": "RESERVE"}, "DISABLED"),
    ):
        batch.create_quota_share(quotaShareName=name, jobQueue="training",
                                 capacityLimits=[{"maxCapacity": 1, "capacityUnit": GPU}],
                                 resourceSharingConfiguration=sharing,
                                 preemptionConfiguration={"inSharePreemption": preemption})


def submit(batch, name: str, team: str, priority: int = 0) -> str:
    return batch.submit_service_job(jobName=name, jobQueue="training", serviceJobType="SAGEMAKER_TRAINING",
                                    serviceRequestPayload=payload(name), quotaShareName=team,
                                    schedulingPriority=priority)["jobId"]


def show(batch, step: str, names: dict[str, str]) -> None:
    print(f"\n== {step}")
    for name, job_id in names.items():
        job = batch.describe_service_job(jobId=job_id)
        reason = f"  ({job['statusReason']})" if job.get("statusReason") else ""
        print(f"  {name:<14} {job['quotaShareName']:<9} p{job.get('schedulingPriority', 0)}  {job['status']}{reason}")
    snap = batch.get_job_queue_snapshot(jobQueue="training")
    by_arn = {batch.describe_service_job(jobId=i)["jobArn"]: n for n, i in names.items()}
    print("  frontOfQueue:", [by_arn[j["jobArn"]] for j in snap["frontOfQueue"]["jobs"]])
    print("  frontOfQuotaShares:", {s: by_arn[j[0]["jobArn"]] for s, j in
                                    snap["frontOfQuotaShares"]["quotaShares"].items()})
    print("  usage:", {u["quotaShareName"]: u["capacityUsage"][0]["quantity"]
                       for u in snap["queueUtilization"]["quotaShareUtilization"]["topCapacityUtilization"]})


def main(lb) -> None:
    batch = boto3.client("batch", region_name="us-east-1")
    setup(batch)
    lb.advance(1)
    lb.on_job(duration=None)  # training runs until we say otherwise
    jobs = {name: submit(batch, name, "research", p) for name, p in
            (("research-high", 3), ("research-med", 2), ("research-low", 1))}
    lb.advance(60)
    show(batch, "research submits three jobs: one on its own instance, one borrowed from product", jobs)

    jobs["product-1"] = submit(batch, "product-1", "product")
    lb.advance(60)
    show(batch, "product submits a job: it reclaims its lent instance by preemption", jobs)

    batch.update_service_job(jobId=jobs["research-low"], schedulingPriority=4)
    lb.advance(60)
    show(batch, "research-low raised to priority 4: it preempts research-high inside the share", jobs)


if __name__ == "__main__":
    frozen = time_machine.travel(dt.datetime(2026, 4, 1, 9, 0, tzinfo=dt.timezone.utc), tick=False)
    with frozen, localbatch.patch() as controller:
        main(controller)
