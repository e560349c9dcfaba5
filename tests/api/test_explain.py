"""`lb.explain(job_id)`: one line saying why a container job is where it is
(localbatch/engine/explain.py), for every status and every reason the FIFO
scheduler can have for not placing a job (spec §2.1-§2.9, §3.2, §3.4).

The clock is frozen at T0 (2026-01-01T00:00:00Z), so every time is exact.
"""

from __future__ import annotations

import boto3
import pytest

import localbatch
from tests.api.test_jobs import (
    ARN,
    compute_environment,
    describe,
    environment,
    frozen,
    job_definition,
    job_queue,
    status,
    submit,
)
from tests.api.test_service_jobs_support import fifo_queue, payload

__all__ = ["frozen"]

pytestmark = pytest.mark.usefixtures("frozen")

CAPACITY_REASON = (
    "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - CE(s) associated with the job queue cannot meet the CPU "
    "requirement of the job."
)


def _two_sizes(batch):
    compute_environment(batch, name="ce-a", max_vcpus=8)
    job_queue(batch, ces=("ce-a",))
    job_definition(batch, name="six", vcpus="6")
    job_definition(batch, name="four", vcpus="4")


# == RUNNABLE ==========================================================================================


def test_runnable_head_waiting_for_vcpus(batch, lb):
    _two_sizes(batch)
    lb.on_job("*", duration=None)
    submit(batch, name="big", definition="six")
    head = submit(batch, name="head", definition="four")
    assert lb.explain(head) == "RUNNABLE: needs 4 vCPU, compute environment ce-a has 2 of 8 free"


def test_runnable_behind_a_blocked_head(batch, lb):
    _two_sizes(batch)
    lb.on_job("*", duration=None)
    submit(batch, name="big", definition="six")
    head = submit(batch, name="head", definition="four")
    lb.advance(0.001)  # created after the head: same-millisecond jobs go by jobId (spec §3.2)
    behind = submit(batch, name="small", definition="four")
    assert lb.explain(behind) == (
        f"RUNNABLE: behind job {head} at the head of queue q "
        "(blocked: needs 4 vCPU, compute environment ce-a has 2 of 8 free)"
    )
    assert lb.explain(ARN + f"job/{behind}") == lb.explain(behind)  # an ARN works too


def test_backfill_explains_each_job_on_its_own():
    with localbatch.patch(backfill=True) as lb:
        batch = boto3.client("batch", region_name="us-east-1")
        _two_sizes(batch)
        lb.on_job("*", duration=None)
        submit(batch, name="big", definition="six")
        submit(batch, name="head", definition="four")
        later = submit(batch, name="later", definition="four")
        assert lb.explain(later) == "RUNNABLE: needs 4 vCPU, compute environment ce-a has 2 of 8 free"


def test_every_compute_environment_is_named_in_order(batch, lb):
    compute_environment(batch, name="first", max_vcpus=2)
    compute_environment(batch, name="second", max_vcpus=8)
    compute_environment(batch, name="third", max_vcpus=8)
    job_queue(batch, ces=("first", "second", "third"))
    job_definition(batch, vcpus="2")
    batch.update_compute_environment(computeEnvironment="third", state="DISABLED")
    lb.on_job("*", duration=None)
    submit(batch, name="a")
    for i in range(4):
        submit(batch, name=f"fill{i}")
    waiting = submit(batch, name="waiting")
    assert status(batch, waiting) == "RUNNABLE"
    assert lb.explain(waiting) == (
        "RUNNABLE: needs 2 vCPU, compute environment first has 0 of 2 free; compute environment second has 0 of 8 "
        "free; compute environment third is DISABLED"
    )


def test_misconfiguration_reason_and_its_time_limit(batch, lb):
    compute_environment(batch, name="ce-a", max_vcpus=2)
    job_queue(
        batch,
        ces=("ce-a",),
        jobStateTimeLimitActions=[{
            "reason": "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE", "state": "RUNNABLE",
            "maxTimeSeconds": 600, "action": "CANCEL",
        }],
    )
    job_definition(batch, name="huge", vcpus="4")
    job_definition(batch)
    huge = submit(batch, name="huge", definition="huge")
    lb.advance(0.001)  # created after the head: same-millisecond jobs go by jobId (spec §3.2)
    behind = submit(batch, name="behind")
    blocked = f"{CAPACITY_REASON} (needs 4 vCPU; ce-a maxvCpus 2)"
    timer = "; the queue's jobStateTimeLimitActions cancel it at 2026-01-01T00:10:00Z"
    assert lb.explain(huge) == f"RUNNABLE: {blocked}{timer}"
    assert lb.explain(behind) == f"RUNNABLE: behind job {huge} at the head of queue q (blocked: {blocked}{timer})"
    lb.advance(600)
    assert lb.explain(huge) == (
        "FAILED: Canceled by JobStateTimeLimit action due to reason: MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE"
        " (never ran, cancelled, at 2026-01-01T00:10:00Z)"
    )


def test_misconfiguration_without_a_time_limit(batch, lb):
    environment(batch, max_vcpus=2, vcpus="4")
    job_id = submit(batch, name="huge")
    assert lb.explain(job_id) == f"RUNNABLE: {CAPACITY_REASON} (needs 4 vCPU; ce maxvCpus 2)"


def test_waiting_for_consumable_resource_units(batch, lb):
    batch.create_consumable_resource(consumableResourceName="licences", totalQuantity=3)
    environment(batch, max_vcpus=8)
    lb.on_job("*", duration=None)
    needs = {"consumableResourceList": [{"consumableResource": "licences", "quantity": 2}]}
    submit(batch, name="holder", consumableResourcePropertiesOverride=needs)
    waiting = submit(batch, name="waiting", consumableResourcePropertiesOverride=needs)
    assert lb.explain(waiting) == (
        "RUNNABLE: waiting for consumable resource units: licences needs 2, 1 available "
        "(compute environment ce has the 1 vCPU)"
    )


def test_compute_environment_not_valid_yet():
    with localbatch.patch(resource_latency=5) as lb:
        batch = boto3.client("batch", region_name="us-east-1")
        compute_environment(batch, name="slow")
        lb.advance(5)
        job_queue(batch, ces=("slow",))
        job_definition(batch)
        batch.update_compute_environment(computeEnvironment="slow", computeResources={"maxvCpus": 2})
        job_id = submit(batch, name="a")
        lb.advance(1)
        assert lb.explain(job_id) == "RUNNABLE: needs 1 vCPU, compute environment slow is UPDATING"
        lb.advance(4)
        assert status(batch, job_id) == "SUCCEEDED"


# == SUBMITTED / PENDING ==================================================================================


def test_submitted_says_when_it_is_evaluated():
    with localbatch.patch(submitted_seconds=5, starting_seconds=2) as lb:
        batch = boto3.client("batch", region_name="us-east-1")
        environment(batch)
        lb.on_job("*", duration=None)
        job_id = submit(batch, name="a")
        assert lb.explain(job_id) == "SUBMITTED: dependencies and queue are evaluated at 2026-01-01T00:00:05Z"
        lb.advance(5)
        assert lb.explain(job_id) == (
            "STARTING on ce since 2026-01-01T00:00:05Z, attempt 1 of 1; RUNNING at 2026-01-01T00:00:07Z"
        )


def test_pending_lists_unfinished_dependencies(batch, lb):
    environment(batch)
    lb.on_job("first*", duration=None)
    one = submit(batch, name="first1")
    two = submit(batch, name="first2")
    done = submit(batch, name="done")
    waiting = submit(batch, name="waiting", dependsOn=[{"jobId": one}, {"jobId": done}, {"jobId": two}])
    assert lb.explain(waiting) == f"PENDING: waiting for 2 dependencies: {one} (RUNNING), {two} (RUNNING)"
    lb.complete(one)
    assert lb.explain(waiting) == f"PENDING: waiting for 1 dependency: {two} (RUNNING)"
    batch.cancel_job(jobId=waiting, reason="not needed")
    assert lb.explain(waiting) == (
        f"PENDING: cancelled (not needed); fails once its 1 dependency finishes: {two} (RUNNING)"
    )


def test_array_parent_and_sequential_child(batch, lb):
    environment(batch, max_vcpus=4)
    lb.on_job("*", duration=None)
    parent = submit(batch, name="seq", arrayProperties={"size": 3}, dependsOn=[{"type": "SEQUENTIAL"}])
    assert lb.explain(parent) == "PENDING: array job, 0 of 3 children finished (PENDING 2, RUNNING 1)"
    assert lb.explain(f"{parent}:1") == f"PENDING: waiting for 1 dependency: {parent}:0 (RUNNING)"
    lb.complete(f"{parent}:0")
    assert lb.explain(parent) == "PENDING: array job, 1 of 3 children finished (PENDING 1, RUNNING 1, SUCCEEDED 1)"
    lb.complete(f"{parent}:1")
    lb.complete(f"{parent}:2")
    assert lb.explain(parent) == (
        "SUCCEEDED: every child succeeded (array of 3: SUCCEEDED 3, FAILED 0, at 2026-01-01T00:00:00Z)"
    )


def test_n_to_n_child_waits_for_its_peer(batch, lb):
    environment(batch, max_vcpus=8)
    lb.on_job("a", duration=None)
    a = submit(batch, name="a", arrayProperties={"size": 2})
    b = submit(batch, name="b", arrayProperties={"size": 2}, dependsOn=[{"jobId": a, "type": "N_TO_N"}])
    assert lb.explain(f"{b}:1") == f"PENDING: waiting for 1 dependency: {a}:1 (RUNNING)"


# == STARTING / RUNNING ===================================================================================


def test_running_attempt_two_of_three(batch, lb):
    compute_environment(batch, name="ce-a", max_vcpus=8)
    job_queue(batch, ces=("ce-a",))
    job_definition(batch)
    lb.on_job("*", duration=10, run=lambda job: 1 if job.attempt == 1 else 0)
    job_id = submit(batch, name="r", retryStrategy={"attempts": 3}, timeout={"attemptDurationSeconds": 60})
    lb.advance(10)
    assert lb.explain(job_id) == (
        "RUNNING on ce-a since 2026-01-01T00:00:10Z, attempt 2 of 3; its container exits with code 0 at "
        "2026-01-01T00:00:20Z; the attempt times out at 2026-01-01T00:01:10Z"
    )
    lb.advance(10)
    assert lb.explain(job_id) == (
        "SUCCEEDED: Essential container in task exited (attempt 2 of 3, exit code 0, at 2026-01-01T00:00:20Z)"
    )


def test_running_until_complete(batch, lb):
    environment(batch)
    lb.on_job("*", duration=None)
    job_id = submit(batch, name="held")
    lb.advance(0.25)
    assert lb.explain(job_id) == "RUNNING on ce since 2026-01-01T00:00:00Z, attempt 1 of 1; it runs until lb.complete()"


def test_multinode_nodes(batch, lb):
    compute_environment(batch, max_vcpus=4)
    job_queue(batch)
    batch.register_job_definition(
        jobDefinitionName="mnp",
        type="multinode",
        nodeProperties={"numNodes": 2, "mainNode": 0, "nodeRangeProperties": [{
            "targetNodes": "0:", "container": {"image": "mpi", "command": ["run"], "resourceRequirements": [
                {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}]},
        }]},
    )
    lb.on_job("*", duration=None)
    job_id = submit(batch, name="mpi", definition="mnp")
    assert lb.explain(f"{job_id}#1") == (
        f"RUNNING on ce since 2026-01-01T00:00:00Z, node 1 of multi-node job {job_id}, attempt 1 of 1; "
        "ends with its main node"
    )


# == SUCCEEDED / FAILED ====================================================================================


def test_failed_timeout_terminated_and_dependent(batch, lb):
    environment(batch)
    lb.on_job("slow", duration=None)
    lb.on_job("bad", duration=5, exit_code=3, reason="OutOfMemoryError: Container killed due to memory usage")
    slow = submit(batch, name="slow", timeout={"attemptDurationSeconds": 60})
    bad = submit(batch, name="bad")
    after = submit(batch, name="after", dependsOn=[{"jobId": bad}])
    lb.advance(60)
    assert lb.explain(slow) == (
        "FAILED: Job attempt duration exceeded timeout (attempt 1 of 1, exit code 137, at 2026-01-01T00:01:00Z)"
    )
    assert lb.explain(bad) == (
        "FAILED: Essential container in task exited (attempt 1 of 1, exit code 3, reason OutOfMemoryError: "
        "Container killed due to memory usage, at 2026-01-01T00:00:05Z)"
    )
    assert lb.explain(after) == "FAILED: Dependent Job failed (never ran, at 2026-01-01T00:00:05Z)"
    lb.on_job("held", duration=None)
    held = submit(batch, name="held")
    batch.terminate_job(jobId=held, reason="stop it")
    assert lb.explain(held) == "FAILED: stop it (attempt 1 of 1, exit code 143, terminated, at 2026-01-01T00:01:00Z)"


# == what explain is not ===================================================================================


def test_explain_reads_only(batch, lb):
    _two_sizes(batch)
    lb.on_job("*", duration=None)
    submit(batch, name="big", definition="six")
    head = submit(batch, name="head", definition="four")
    before = (lb.timeline(), describe(batch, head))
    for _ in range(3):
        lb.explain(head)
    assert (lb.timeline(), describe(batch, head)) == before


def test_unknown_ids_are_refused_and_service_jobs_explained(batch, lb):
    with pytest.raises(localbatch.LocalBatchError, match="no job 00000000-0000-4000-8000-000000000000"):
        lb.explain("00000000-0000-4000-8000-000000000000")
    queue = fifo_queue(batch, lb)
    service = batch.submit_service_job(jobName="train", jobQueue=queue, serviceJobType="SAGEMAKER_TRAINING",
                                       serviceRequestPayload=payload("train"))["jobId"]
    text = lb.explain(service)
    assert "in job queue fifo is SUCCEEDED" in text and "Training job completed" in text
