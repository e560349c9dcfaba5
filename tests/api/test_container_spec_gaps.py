"""Container-job rules of spec §2, §3.2, §3.4, §6.1 and §6.2 that no other
test covered (audit of issue 3: /work/notes/audit-issue3.md), through a real
boto3 client.

Scheduling tests are golden timelines: `<seconds after T0> <job> <from>><to>`
plus the statusReason when there is one (`-` is "created"). The clock is
frozen at T0, so every time is exact engine time.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import botocore.exceptions
import pytest

import localbatch
from localbatch.engine import executors
from tests.api.test_jobs import (
    ARN,
    T0,
    compute_environment,
    describe,
    eks_compute_environment,
    environment,
    frozen,
    job_definition,
    job_queue,
    status,
    submit,
)
from tests.api.test_jobs_scheduling import _multinode, timeline
from tests.api.test_service_jobs_support import fifo_queue
from tests.helpers import client_error

__all__ = ["frozen"]  # the fixture, imported for this module

pytestmark = pytest.mark.usefixtures("frozen")

EXITED = "Essential container in task exited"
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@contextmanager
def patched(**options) -> Iterator[tuple]:
    """A patch with engine options (the frozen clock is already at T0)."""
    with localbatch.patch(**options) as lb:
        yield lb, boto3.client("batch", region_name="us-east-1")


def rows_of(lb, job_id: str) -> list[str]:
    """The timeline of one job id (array children and nodes share their parent's name)."""
    out = []
    for row in lb.timeline():
        if row["job_id"] == job_id:
            line = f"{(row['time_ms'] - T0) / 1000:g} {row['from'] or '-'}>{row['to']}"
            out.append(line + (f" | {row['reason']}" if row["reason"] else ""))
    return out


def refused(call, **kwargs) -> str:
    with pytest.raises(botocore.exceptions.ClientError) as e:
        call(**kwargs)
    return client_error(e)


# == §2.1 timestamps and the states a job can be cancelled from =================================


def test_started_at_and_scheduled_at_are_the_running_and_starting_times():
    # §2.1 STARTING->RUNNING sets startedAt of the job and the attempt; §6.1 scheduledAt = entered STARTING;
    # §2.12 the log stream appears at RUNNING.
    with patched(submitted_seconds=1, starting_seconds=2) as (lb, batch):
        environment(batch)
        lb.on_job("*", duration=5)
        job_id = submit(batch, name="a")
        job = describe(batch, job_id)
        assert job["status"] == "SUBMITTED"
        assert not {"startedAt", "stoppedAt"} & set(job)
        lb.advance(1)
        job = describe(batch, job_id)
        assert job["status"] == "STARTING"
        assert not {"startedAt", "stoppedAt"} & set(job)
        assert "logStreamName" not in job["container"]
        (summary,) = batch.list_jobs(jobQueue="q", jobStatus="STARTING")["jobSummaryList"]
        assert summary["scheduledAt"] == T0 + 1000 and "startedAt" not in summary
        lb.run_until_idle()
        assert rows_of(lb, job_id) == [
            "0 ->SUBMITTED",
            "1 SUBMITTED>RUNNABLE",
            "1 RUNNABLE>STARTING",
            "3 STARTING>RUNNING",
            f"8 RUNNING>SUCCEEDED | {EXITED}",
        ]
        job = describe(batch, job_id)
        (attempt,) = job["attempts"]
        assert job["startedAt"] == attempt["startedAt"] == T0 + 3000
        assert job["stoppedAt"] == attempt["stoppedAt"] == T0 + 8000
        task_id = job["container"]["taskArn"].rpartition("/")[2]
        assert job["container"]["logStreamName"] == f"jd/default/{task_id}"
        (summary,) = batch.list_jobs(jobQueue="q", jobStatus="SUCCEEDED")["jobSummaryList"]
        assert summary["scheduledAt"] == T0 + 1000


def test_runnable_job_has_no_run_times(batch, lb):
    # §2.1: startedAt/stoppedAt are absent until they happen; §6.1 scheduledAt absent before STARTING.
    environment(batch, max_vcpus=1)
    lb.on_job("*", duration=None)
    submit(batch, name="holder")
    waiting = submit(batch, name="waiting")
    job = describe(batch, waiting)
    assert job["status"] == "RUNNABLE"
    assert not {"startedAt", "stoppedAt"} & set(job)
    assert job["attempts"] == []
    assert "logStreamName" not in job["container"]
    (summary,) = batch.list_jobs(jobQueue="q", jobStatus="RUNNABLE")["jobSummaryList"]
    assert not {"scheduledAt", "startedAt", "stoppedAt"} & set(summary)


def test_cancel_and_terminate_in_submitted():
    # §2.1 SUBMITTED -> FAILED by CancelJob/TerminateJob; §2.8 row SUBMITTED; stoppedAt = cancel time.
    with patched(submitted_seconds=10) as (lb, batch):
        environment(batch)
        cancelled, terminated = submit(batch, name="cancelled"), submit(batch, name="terminated")
        lb.advance(3)
        assert status(batch, cancelled) == "SUBMITTED"
        batch.cancel_job(jobId=cancelled, reason="changed my mind")
        batch.terminate_job(jobId=terminated, reason="not wanted")
        lb.run_until_idle()
        assert timeline(lb) == [
            "0 cancelled ->SUBMITTED",
            "0 terminated ->SUBMITTED",
            "3 cancelled SUBMITTED>FAILED | changed my mind",
            "3 terminated SUBMITTED>FAILED | not wanted",
        ]
        job = describe(batch, cancelled)
        assert (job["isCancelled"], job["isTerminated"]) == (True, False)
        assert job["stoppedAt"] == T0 + 3000 and "startedAt" not in job
        job = describe(batch, terminated)
        assert (job["statusReason"], job["isCancelled"], job["isTerminated"]) == ("not wanted", True, False)


def test_cancelled_runnable_job_stopped_at_is_the_cancel_time(batch, lb):
    # §2.1 [proposed]: cancelled before running -> no startedAt, stoppedAt = cancel time.
    environment(batch, max_vcpus=1)
    lb.on_job("*", duration=None)
    submit(batch, name="holder")
    queued = submit(batch, name="queued", retryStrategy={"attempts": 3})
    lb.advance(7)
    batch.terminate_job(jobId=queued, reason="bye")
    job = describe(batch, queued)
    assert (job["status"], job["statusReason"]) == ("FAILED", "bye")
    assert job["stoppedAt"] == T0 + 7000 and "startedAt" not in job
    assert job["attempts"] == []  # §2.6: cancelled jobs are never retried


# == §2.2 SubmitJob ===========================================================================


def test_required_members_are_checked_by_botocore(batch):
    environment(batch)
    for missing in ("jobName", "jobQueue", "jobDefinition"):
        params = {"jobName": "a", "jobQueue": "q", "jobDefinition": "jd"}
        del params[missing]
        with pytest.raises(botocore.exceptions.ParamValidationError, match=missing):
            batch.submit_job(**params)


def test_cancel_and_terminate_need_a_reason(batch):
    # §2.8: reason is a required member of both (checked by botocore).
    environment(batch)
    job_id = submit(batch)
    for call in (batch.cancel_job, batch.terminate_job):
        with pytest.raises(botocore.exceptions.ParamValidationError, match="reason"):
            call(jobId=job_id)


def test_submit_checks_run_in_the_spec_order(batch):
    # §2.2 [proposed order]: name, size, queue, definition, fair share, dependencies, the rest.
    environment(batch)
    wrap = "Error executing request, Exception : "
    message = refused(batch.submit_job, jobName="-bad", jobQueue="nope", jobDefinition="nope",
                      parameters={"p": "x" * 31 * 1024})
    assert message.startswith(wrap + "Job name should match valid pattern, RequestId: ")
    message = refused(batch.submit_job, jobName="a", jobQueue="nope", jobDefinition="nope",
                      parameters={"p": "x" * 31 * 1024})
    assert message.startswith(wrap + "Job size must be less than 30 KiB, got 32 KiB, RequestId: ")
    assert refused(batch.submit_job, jobName="a", jobQueue="nope", jobDefinition="nope") == "JobQueue nope not found."
    batch.create_job_queue(jobQueueName="off", state="DISABLED", priority=1,
                           computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce"}])
    assert refused(batch.submit_job, jobName="a", jobQueue="off", jobDefinition="nope") == (
        "JobQueue off is not in ENABLED state"
    )
    assert refused(batch.submit_job, jobName="a", jobQueue="q", jobDefinition="nope", shareIdentifier="s") == (
        "JobDefinition name nope does not exist or is not in ACTIVE status"
    )
    assert refused(batch.submit_job, jobName="a", jobQueue="q", jobDefinition="jd", shareIdentifier="s",
                   dependsOn=[{"jobId": UNKNOWN}] * 21) == (
        "Job with shareIdentifier or schedulingPriority can onlybe submitted to job queue with fair share "
        "scheduling policy."
    )
    message = refused(batch.submit_job, jobName="a", jobQueue="q", jobDefinition="jd",
                      dependsOn=[{"jobId": UNKNOWN}] * 21, arrayProperties={"size": 1})
    assert message.startswith(wrap + "Job cannot have more than 20 dependencies, RequestId: ")
    assert refused(batch.submit_job, jobName="a", jobQueue="q", jobDefinition="jd",
                   dependsOn=[{"jobId": UNKNOWN}], arrayProperties={"size": 1}) == f"Dependent job {UNKNOWN} not found"


def test_container_job_refused_on_a_sagemaker_queue(batch, lb):
    # §2.2 step 3: the queue must not be SAGEMAKER_TRAINING (message [proposed], text not given by the spec).
    fifo_queue(batch, lb, name="training")
    job_definition(batch)
    message = refused(batch.submit_job, jobName="a", jobQueue="training", jobDefinition="jd")
    assert "SAGEMAKER_TRAINING" in message


def test_scheduling_priority_override_lower_bound(batch):
    compute_environment(batch)
    policy = batch.create_scheduling_policy(name="fs")["arn"]
    job_queue(batch, name="fq", schedulingPolicyArn=policy)
    job_definition(batch)
    assert refused(batch.submit_job, jobName="a", jobQueue="fq", jobDefinition="jd", shareIdentifier="s",
                   schedulingPriorityOverride=-1) == "schedulingPriority must be between 0 and 9999"
    job = describe(batch, submit(batch, queue="fq", shareIdentifier="s", schedulingPriorityOverride=0))
    assert job["schedulingPriority"] == 0


def test_submit_tags_at_most_fifty(batch):
    # §2.2 step 7: tags <= 50 (§7 row 28 [proposed] wording).
    environment(batch)
    message = refused(batch.submit_job, jobName="a", jobQueue="q", jobDefinition="jd",
                      tags={f"k{i}": "v" for i in range(51)})
    assert "50" in message  # the spec gives no wording for this one
    job = describe(batch, submit(batch, tags={f"k{i}": "v" for i in range(50)}))
    assert len(job["tags"]) == 50


def test_legacy_vcpus_override_does_not_replace_resource_requirements(batch, lb):
    # §2.2 step 8: legacy vcpus/memory cannot override the JD's resourceRequirements.
    environment(batch, max_vcpus=2)  # JD: VCPU 1 as a resource requirement
    lb.on_job("*", duration=None)
    job_id = submit(batch, containerOverrides={"vcpus": 4, "memory": 8192})
    job = describe(batch, job_id)
    assert job["status"] == "RUNNING"  # 4 vCPUs would never fit in 2
    assert job["container"]["resourceRequirements"] == [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}]
    (summary,) = batch.list_jobs(jobQueue="q")["jobSummaryList"]
    assert summary["capacityUsage"] == [{"capacityUnit": "VCPU", "quantity": 1.0}]


def test_retry_strategy_rules_on_submit(batch):
    # §2.6 table: attempts 1-10, <= 5 evaluateOnExit entries, patterns <= 512 chars and their alphabets.
    environment(batch)
    cases = [
        ({"attempts": 0}, "Attempts must be between 1 and 10"),
        ({"attempts": 2, "evaluateOnExit": [{"action": "EXIT"}] * 6}, "evaluateOnExit must contain at most 5 items"),
        ({"attempts": 2, "evaluateOnExit": [{"action": "EXIT", "onReason": "a" * 513}]},
         "onReason must be at most 512 characters long"),
        ({"attempts": 2, "evaluateOnExit": [{"action": "EXIT", "onExitCode": "1a"}]},
         "onExitCode 1a may contain only digits, optionally ending with *"),
        ({"attempts": 2, "evaluateOnExit": [{"action": "RETRY", "onStatusReason": "Host EC2 (instance"}]},
         ("onStatusReason Host EC2 (instance may contain only letters, numbers, periods, colons and white space, "
          "optionally ending with *")),
    ]
    for strategy, message in cases:
        assert refused(batch.submit_job, jobName="a", jobQueue="q", jobDefinition="jd",
                       retryStrategy=strategy) == message
    submit(batch, retryStrategy={"attempts": 10, "evaluateOnExit": [{"action": "EXIT", "onReason": "r" * 512}] * 5})


# == §2.3 dependencies ==========================================================================


def test_cancelled_or_terminated_dependency_fails_the_dependent(batch, lb):
    environment(batch, max_vcpus=1)
    lb.on_job("*", duration=None)
    running = submit(batch, name="running")
    queued = submit(batch, name="queued")
    submit(batch, name="after-queued", dependsOn=[{"jobId": queued}])
    after_running = submit(batch, name="after-running", dependsOn=[{"jobId": running}])
    lb.advance(5)
    batch.cancel_job(jobId=queued, reason="cancelled")
    lb.advance(5)
    batch.terminate_job(jobId=running, reason="terminated")
    assert timeline(lb, moves={"FAILED"}) == [
        "5 queued RUNNABLE>FAILED | cancelled",
        "5 after-queued PENDING>FAILED | Dependent Job failed",
        "10 running RUNNING>FAILED | terminated",
        "10 after-running PENDING>FAILED | Dependent Job failed",
    ]
    assert describe(batch, after_running)["attempts"] == []


def test_cross_queue_dependency(batch, lb):
    compute_environment(batch)
    job_queue(batch, name="q1")
    job_queue(batch, name="q2")
    job_definition(batch)
    lb.on_job("first", duration=20)
    first = submit(batch, name="first", queue="q1")
    second = submit(batch, name="second", queue="q2", dependsOn=[{"jobId": first}])
    lb.run_until_idle()
    assert timeline(lb, names={"second"}, moves={"PENDING", "RUNNABLE", "SUCCEEDED"}) == [
        "0 second SUBMITTED>PENDING",
        "20 second PENDING>RUNNABLE",
        f"20 second RUNNING>SUCCEEDED | {EXITED}",
    ]
    assert describe(batch, second)["jobQueue"] == ARN + "job-queue/q2"


def test_any_number_of_jobs_may_depend_on_one(batch, lb):
    environment(batch, max_vcpus=64)
    lb.on_job("root", duration=10)
    root = submit(batch, name="root")
    waiting = [submit(batch, name=f"w{i}", dependsOn=[{"jobId": root}]) for i in range(30)]
    lb.advance(9)
    assert {status(batch, j) for j in waiting} == {"PENDING"}
    lb.advance(1)
    assert {status(batch, j) for j in waiting} == {"SUCCEEDED"}


def test_dependent_waits_for_every_dependency(batch, lb):
    environment(batch)
    lb.on_job("short", duration=10)
    lb.on_job("long", duration=25)
    short, long = submit(batch, name="short"), submit(batch, name="long")
    submit(batch, name="both", dependsOn=[{"jobId": short}, {"jobId": long}])
    lb.run_until_idle()
    assert timeline(lb, names={"both"}, moves={"PENDING", "RUNNABLE"}) == [
        "0 both SUBMITTED>PENDING",
        "25 both PENDING>RUNNABLE",
    ]


def test_retries_of_a_dependency_do_not_release_the_dependent(batch, lb):
    environment(batch, max_vcpus=4)
    lb.on_job("flaky", duration=10, run=lambda job: 0 if job.attempt == 2 else 1)
    lb.on_job("doomed", duration=10, exit_code=1)
    flaky = submit(batch, name="flaky", retryStrategy={"attempts": 2})
    lb.advance(0.001)  # doomed is created after flaky: same-millisecond jobs go by jobId (spec §3.2)
    doomed = submit(batch, name="doomed", retryStrategy={"attempts": 2})
    submit(batch, name="after-flaky", dependsOn=[{"jobId": flaky}])
    submit(batch, name="after-doomed", dependsOn=[{"jobId": doomed}])
    lb.run_until_idle()
    assert timeline(lb, moves={"RUNNABLE", "SUCCEEDED", "FAILED"}, names={
        "flaky", "doomed", "after-flaky", "after-doomed"}) == [
        "0 flaky SUBMITTED>RUNNABLE",
        "0.001 doomed SUBMITTED>RUNNABLE",
        "10 flaky RUNNING>RUNNABLE",
        "10.001 doomed RUNNING>RUNNABLE",
        f"20 flaky RUNNING>SUCCEEDED | {EXITED}",
        "20 after-flaky PENDING>RUNNABLE",
        f"20 after-flaky RUNNING>SUCCEEDED | {EXITED}",
        f"20.001 doomed RUNNING>FAILED | {EXITED}",
        "20.001 after-doomed PENDING>FAILED | Dependent Job failed",
    ]


def test_n_to_n_failed_peer_fails_only_its_partner(batch, lb):
    environment(batch, max_vcpus=8)
    lb.on_job("a", duration=10, run=lambda job: 1 if job.array_index == 1 else 0)
    lb.on_job("b", duration=10)
    a = submit(batch, name="a", arrayProperties={"size": 2})
    b = submit(batch, name="b", arrayProperties={"size": 2}, dependsOn=[{"jobId": a, "type": "N_TO_N"}])
    lb.run_until_idle()
    assert rows_of(lb, f"{b}:1")[-1] == "10 PENDING>FAILED | Dependent Job failed"
    assert rows_of(lb, f"{b}:0")[-1] == f"20 RUNNING>SUCCEEDED | {EXITED}"
    assert rows_of(lb, b)[-1] == "20 PENDING>FAILED | Array Child Job failed"


def test_n_to_n_arrays_must_have_the_same_size(batch):
    environment(batch)
    three = submit(batch, name="three", arrayProperties={"size": 3})
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, arrayProperties={"size": 2}, dependsOn=[{"jobId": three, "type": "N_TO_N"}])
    assert "N_TO_N" in client_error(e)
    submit(batch, arrayProperties={"size": 3}, dependsOn=[{"jobId": three, "type": "N_TO_N"}])


# == §2.4 array jobs =============================================================================


def test_children_inherit_timeout_and_retry_strategy_and_parent_states(batch, lb):
    environment(batch, max_vcpus=4)
    lb.on_job("arr", duration=None)
    parent = submit(batch, name="arr", arrayProperties={"size": 2}, timeout={"attemptDurationSeconds": 60},
                    retryStrategy={"attempts": 2}, containerOverrides={"command": ["run", "child"]})
    child0, child1 = f"{parent}:0", f"{parent}:1"
    for child in (child0, child1):
        job = describe(batch, child)
        assert job["container"]["command"] == ["run", "child"]
        assert job["timeout"] == {"attemptDurationSeconds": 60} and job["retryStrategy"] == {"attempts": 2}
        assert job["jobDefinition"] == ARN + "job-definition/jd:1"
    lb.advance(10)
    lb.complete(child1, exit_code=1)  # retried: child 1's own retry strategy
    lb.advance(10)
    lb.complete(child1, exit_code=0)
    lb.run_until_idle()
    assert rows_of(lb, child0)[-1] == "60 RUNNING>FAILED | Job attempt duration exceeded timeout"
    assert len(describe(batch, child0)["attempts"]) == 1  # a timeout is never retried
    assert [a["container"]["exitCode"] for a in describe(batch, child1)["attempts"]] == [1, 0]
    assert rows_of(lb, parent) == [
        "0 ->SUBMITTED",
        "0 SUBMITTED>PENDING",
        "60 PENDING>FAILED | Array Child Job failed",
    ]
    assert "startedAt" in describe(batch, parent)


def test_children_spawn_only_after_the_parents_dependencies(batch, lb):
    environment(batch, max_vcpus=4)
    lb.on_job("first", duration=30)
    first = submit(batch, name="first")
    parent = submit(batch, name="arr", arrayProperties={"size": 2}, dependsOn=[{"jobId": first}])
    lb.advance(10)
    assert status(batch, parent) == "PENDING"
    assert batch.list_jobs(arrayJobId=parent, jobStatus="PENDING")["jobSummaryList"] == []
    assert batch.describe_jobs(jobs=[f"{parent}:0"])["jobs"] == []
    lb.run_until_idle()
    assert rows_of(lb, f"{parent}:0")[:2] == ["30 ->PENDING", "30 PENDING>RUNNABLE"]
    assert describe(batch, f"{parent}:1")["createdAt"] == T0 + 30_000
    assert describe(batch, parent)["createdAt"] == T0


def test_cancelling_a_child_affects_only_that_child(batch, lb):
    environment(batch, max_vcpus=1)
    lb.on_job("*", duration=10)
    parent = submit(batch, name="arr", arrayProperties={"size": 3})
    batch.cancel_job(jobId=f"{parent}:2", reason="not this one")
    lb.run_until_idle()
    assert [status(batch, f"{parent}:{i}") for i in range(3)] == ["SUCCEEDED", "SUCCEEDED", "FAILED"]
    assert describe(batch, f"{parent}:2")["statusReason"] == "not this one"
    assert rows_of(lb, parent)[-1] == "20 PENDING>FAILED | Array Child Job failed"
    assert describe(batch, parent)["isCancelled"] is False


# == §2.5 multi-node ==============================================================================


def test_multinode_final_status_and_times_come_from_the_main_node(batch, lb):
    compute_environment(batch, max_vcpus=6)
    job_queue(batch)
    _multinode(batch)
    lb.on_job("*", duration=None)
    job_id = submit(batch, name="mpi", definition="mnp")
    lb.advance(20)
    lb.complete(f"{job_id}#0", exit_code=3, reason="boom")
    job, main = describe(batch, job_id), describe(batch, f"{job_id}#0")
    assert (job["status"], job["statusReason"]) == ("FAILED", EXITED)
    assert (main["status"], main["statusReason"]) == ("FAILED", EXITED)
    assert (job["startedAt"], job["stoppedAt"]) == (main["startedAt"], main["stoppedAt"]) == (T0, T0 + 20_000)
    assert main["container"]["exitCode"] == 3 and main["container"]["reason"] == "boom"
    assert status(batch, f"{job_id}#2") in ("FAILED", "SUCCEEDED")  # the other nodes are stopped with it


def test_a_child_node_ending_alone_changes_nothing_else(batch, lb):
    compute_environment(batch, max_vcpus=6)
    job_queue(batch)
    _multinode(batch)
    lb.on_job("*", duration=None)
    job_id = submit(batch, name="mpi", definition="mnp", retryStrategy={"attempts": 2})
    lb.advance(5)
    lb.complete(f"{job_id}#1", exit_code=1)
    job = describe(batch, job_id)
    assert (job["status"], job["attempts"]) == ("RUNNING", [])  # no new attempt: only the main node decides
    assert [status(batch, f"{job_id}#{i}") for i in range(3)] == ["RUNNING", "FAILED", "RUNNING"]
    lb.advance(5)
    lb.complete(f"{job_id}#0", exit_code=0)
    assert status(batch, job_id) == "SUCCEEDED"
    assert len(describe(batch, job_id)["attempts"]) == 1


def test_multinode_main_node_failure_retries_the_whole_job(batch, lb):
    compute_environment(batch, max_vcpus=6)
    job_queue(batch)
    _multinode(batch)
    lb.on_job("*", duration=10, run=lambda job: 0 if job.attempt == 2 else 1)
    job_id = submit(batch, name="mpi", definition="mnp", retryStrategy={"attempts": 2})
    lb.run_until_idle()
    job = describe(batch, job_id)
    assert job["status"] == "SUCCEEDED"
    assert [a["container"]["exitCode"] for a in job["attempts"]] == [1, 0]
    assert rows_of(lb, job_id)[-4:] == [
        "10 RUNNING>RUNNABLE", "10 RUNNABLE>STARTING", "10 STARTING>RUNNING", f"20 RUNNING>SUCCEEDED | {EXITED}",
    ]


def test_multinode_timeout_applies_to_the_whole_job(batch, lb):
    compute_environment(batch, max_vcpus=6)
    job_queue(batch)
    _multinode(batch)
    lb.on_job("*", duration=None)
    job_id = submit(batch, name="mpi", definition="mnp", timeout={"attemptDurationSeconds": 60},
                    retryStrategy={"attempts": 2})
    lb.advance(60)
    job = describe(batch, job_id)
    assert (job["status"], job["statusReason"]) == ("FAILED", "Job attempt duration exceeded timeout")
    assert job["stoppedAt"] == T0 + 60_000 and len(job["attempts"]) == 1
    assert [status(batch, f"{job_id}#{i}") for i in range(3)] == ["FAILED"] * 3


def test_multinode_main_node_environment(batch, lb):
    compute_environment(batch, max_vcpus=6)
    job_queue(batch)
    _multinode(batch)
    seen = []
    lb.on_job("*", run=lambda job: seen.append(job.environment) or 0)
    submit(batch, name="mpi", definition="mnp")
    lb.run_until_idle()
    main = seen[0]
    assert (main["AWS_BATCH_JOB_MAIN_NODE_INDEX"], main["AWS_BATCH_JOB_NODE_INDEX"],
            main["AWS_BATCH_JOB_NUM_NODES"]) == ("0", "0", "3")
    assert "AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS" not in main  # child nodes only


def test_child_nodes_start_after_the_main_node_runs():
    with patched(starting_seconds=2) as (lb, batch):
        compute_environment(batch, max_vcpus=6)
        job_queue(batch)
        _multinode(batch)
        lb.on_job("*", duration=10)
        job_id = submit(batch, name="mpi", definition="mnp")
        lb.run_until_idle()
        assert rows_of(lb, f"{job_id}#0")[:2] == ["0 ->STARTING", "2 STARTING>RUNNING"]
        for node in (1, 2):
            first = rows_of(lb, f"{job_id}#{node}")[0]
            assert first.endswith("->STARTING") and float(first.split()[0]) >= 2, first


def test_multinode_lifecycle_follows_the_main_node():
    # RUNNABLE -> main node STARTING -> main node RUNNING -> the other nodes STARTING, RUNNING a dwell
    # later; the job moves with its main node, and capacity for every node is held from dispatch.
    with patched(starting_seconds=2) as (lb, batch):
        compute_environment(batch, max_vcpus=6)
        job_queue(batch)
        job_definition(batch)
        _multinode(batch)
        lb.on_job("*", duration=10)
        job_id = submit(batch, name="mpi", definition="mnp")
        other = submit(batch, name="small")
        lb.advance(1)
        assert [n["jobId"] for n in batch.list_jobs(multiNodeJobId=job_id, jobStatus="STARTING")["jobSummaryList"]] \
            == [f"{job_id}#0"]  # the other nodes do not exist yet
        assert status(batch, other) == "RUNNABLE"  # 6 of 6 vCPUs held by the job from dispatch
        lb.advance(2)
        assert [status(batch, f"{job_id}#{i}") for i in range(3)] == ["RUNNING", "STARTING", "STARTING"]
        assert status(batch, job_id) == "RUNNING"
        lb.run_until_idle()
        assert [row for row in timeline(lb) if row.split()[1] == "mpi"] == [
            "0 mpi ->SUBMITTED",
            "0 mpi SUBMITTED>RUNNABLE",
            "0 mpi RUNNABLE>STARTING",
            "0 mpi ->STARTING",  # node 0, the main node (nodes share their job's name)
            "2 mpi STARTING>RUNNING",
            "2 mpi STARTING>RUNNING",
            "2 mpi ->STARTING",
            "2 mpi ->STARTING",
            "4 mpi STARTING>RUNNING",
            "4 mpi STARTING>RUNNING",
            f"12 mpi RUNNING>SUCCEEDED | {EXITED}",
            f"12 mpi RUNNING>SUCCEEDED | {EXITED}",
            f"12 mpi RUNNING>SUCCEEDED | {EXITED}",
            f"12 mpi RUNNING>SUCCEEDED | {EXITED}",
        ]
        assert rows_of(lb, f"{job_id}#1") == ["2 ->STARTING", "4 STARTING>RUNNING", f"12 RUNNING>SUCCEEDED | {EXITED}"]
        one = describe(batch, f"{job_id}#1")
        assert (one["createdAt"], one["startedAt"], one["attempts"][0]["startedAt"]) == (T0 + 2_000, T0 + 4_000,
                                                                                        T0 + 4_000)
        job = describe(batch, job_id)
        assert (job["startedAt"], job["stoppedAt"]) == (T0 + 2_000, T0 + 12_000)
        assert rows_of(lb, other)[2] == "12 RUNNABLE>STARTING"
        listed = batch.get_paginator("list_jobs").paginate(multiNodeJobId=job_id, jobStatus="SUCCEEDED",
                                                           PaginationConfig={"PageSize": 1})
        assert [s["jobId"] for page in listed for s in page["jobSummaryList"]] == [f"{job_id}#{i}" for i in range(3)]


def test_nodes_still_starting_are_stopped_with_the_job():
    with patched(starting_seconds=2) as (lb, batch):
        compute_environment(batch, max_vcpus=6)
        job_queue(batch)
        _multinode(batch)
        lb.on_job("*", duration=1)  # the main node exits before the others are RUNNING
        job_id = submit(batch, name="mpi", definition="mnp")
        lb.run_until_idle()
        assert lb.now_ms == T0 + 3_000  # nothing waits for the stopped nodes' RUNNING
        assert status(batch, job_id) == "SUCCEEDED"
        for i in (1, 2):
            node = describe(batch, f"{job_id}#{i}")
            # It never ran, so it did not succeed: stopped, with no exit code and no startedAt.
            assert (node["status"], node["statusReason"], node["stoppedAt"]) == ("FAILED", EXITED, T0 + 3_000)
            assert "startedAt" not in node and "exitCode" not in node["attempts"][0]["container"]
        assert rows_of(lb, f"{job_id}#2") == ["2 ->STARTING", f"3 STARTING>FAILED | {EXITED}"]


def test_a_retry_launches_the_other_nodes_after_the_main_node_again():
    with patched(starting_seconds=2) as (lb, batch):
        compute_environment(batch, max_vcpus=6)
        job_queue(batch)
        _multinode(batch, num_nodes=2)
        lb.on_job("*", duration=10, run=lambda job: 0 if job.attempt == 2 else 1)
        job_id = submit(batch, name="mpi", definition="mnp", retryStrategy={"attempts": 2})
        lb.run_until_idle()
        assert rows_of(lb, job_id) == [
            "0 ->SUBMITTED", "0 SUBMITTED>RUNNABLE", "0 RUNNABLE>STARTING", "2 STARTING>RUNNING",
            "12 RUNNING>RUNNABLE", "12 RUNNABLE>STARTING", "14 STARTING>RUNNING", f"24 RUNNING>SUCCEEDED | {EXITED}",
        ]
        assert rows_of(lb, f"{job_id}#0") == [
            "0 ->STARTING", "2 STARTING>RUNNING", "12 RUNNING>RUNNABLE", "12 RUNNABLE>STARTING", "14 STARTING>RUNNING",
            f"24 RUNNING>SUCCEEDED | {EXITED}",
        ]
        assert rows_of(lb, f"{job_id}#1") == [
            "2 ->STARTING", "4 STARTING>RUNNING", "12 RUNNING>RUNNABLE",
            "14 RUNNABLE>STARTING", "16 STARTING>RUNNING", f"24 RUNNING>SUCCEEDED | {EXITED}",
        ]
        one = describe(batch, f"{job_id}#1")
        assert [(a["startedAt"], a["stoppedAt"]) for a in one["attempts"]] == [
            (T0 + 4_000, T0 + 12_000), (T0 + 16_000, T0 + 24_000)]


def test_multinode_capacity_is_the_sum_of_its_nodes(batch, lb):
    compute_environment(batch, max_vcpus=5)  # 3 nodes x 2 vCPU = 6: never fits
    job_queue(batch)
    _multinode(batch)
    job_id = submit(batch, name="mpi", definition="mnp")
    job = describe(batch, job_id)
    assert job["status"] == "RUNNABLE"
    assert job["statusReason"].startswith("MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - ")


def test_multinode_never_runs_on_spot_and_time_limit_cancels_it(batch, lb):
    # §2.5 not on SPOT CEs; §2.9 row MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT and its CANCEL action.
    compute_environment(batch, name="spot", kind="SPOT", max_vcpus=64)
    job_queue(batch, ces=("spot",), jobStateTimeLimitActions=[{
        "reason": "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT", "state": "RUNNABLE", "maxTimeSeconds": 600,
        "action": "CANCEL"}])
    _multinode(batch)
    job_id = submit(batch, name="mpi", definition="mnp")
    job = describe(batch, job_id)
    assert job["status"] == "RUNNABLE"
    assert job["statusReason"] == (
        "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT - The job resource requirement (vCPU/memory/GPU) is higher than "
        "that can be met by the CE(s) attached to the job queue."
    )
    lb.advance(600)
    job = describe(batch, job_id)
    assert (job["status"], job["statusReason"]) == (
        "FAILED", "Canceled by JobStateTimeLimit action due to reason: MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT")


def test_node_overrides_need_an_open_range_below_the_new_size(batch):
    compute_environment(batch, max_vcpus=20)
    job_queue(batch)
    container = {"image": "mpi", "resourceRequirements": [{"type": "VCPU", "value": "1"},
                                                          {"type": "MEMORY", "value": "512"}]}

    def register(name, ranges, main=0, num=3):
        batch.register_job_definition(jobDefinitionName=name, type="multinode", nodeProperties={
            "numNodes": num, "mainNode": main,
            "nodeRangeProperties": [{"targetNodes": r, "container": container} for r in ranges]})

    register("closed", ["0:0", "1:2"])
    register("open", ["0:0", "1:"])
    register("main2", ["0:1", "2:"], main=2)
    for definition, nodes in (("closed", 5), ("open", 1), ("main2", 2)):
        with pytest.raises(batch.exceptions.ClientException):
            submit(batch, definition=definition, nodeOverrides={"numNodes": nodes})
    assert describe(batch, submit(batch, definition="open", nodeOverrides={"numNodes": 2}))["nodeProperties"][
        "numNodes"] == 2


# == §2.6 retries ===================================================================================


def test_retried_job_keeps_its_place_in_the_queue(batch, lb):
    environment(batch, max_vcpus=1)
    attempts = []
    lb.on_job("*", duration=10)
    lb.on_job("a", duration=10, run=lambda job: attempts.append(job.environment["AWS_BATCH_JOB_ATTEMPT"]) or (
        0 if job.attempt == 2 else 1))
    for name in "abc":
        submit(batch, name=name, retryStrategy={"attempts": 2})
        lb.advance(0.001)  # the next is created later: same-millisecond jobs would go by jobId (spec §3.2)
    lb.run_until_idle()
    moves = [line for line in timeline(lb, moves={"STARTING", "RUNNABLE"}) if "SUBMITTED" not in line]
    assert moves == [
        "0 a RUNNABLE>STARTING",
        "10 a RUNNING>RUNNABLE",
        "10 a RUNNABLE>STARTING",
        "20 b RUNNABLE>STARTING",
        "30 c RUNNABLE>STARTING",
    ]
    assert attempts == ["1", "2"]


@pytest.mark.parametrize(
    "entries, retried",
    [
        ([{"action": "EXIT", "onReason": "outofmemory*"}], True),  # case-sensitive
        ([{"action": "EXIT", "onReason": "OutOfMemoryError"}], True),  # no * : the whole string
        ([{"action": "EXIT", "onExitCode": "*"}], False),
    ],
)
def test_patterns_are_case_sensitive_and_whole_string(batch, lb, entries, retried):
    environment(batch)
    lb.on_job("*", exit_code=1, reason="OutOfMemoryError: Container killed due to memory usage")
    job_id = submit(batch, retryStrategy={"attempts": 2, "evaluateOnExit": entries})
    lb.run_until_idle()
    assert len(describe(batch, job_id)["attempts"]) == (2 if retried else 1)


@pytest.mark.parametrize(
    "entries, retried",
    [
        ([{"action": "EXIT", "onReason": "*"}], False),  # a missing container.reason is "": "*" matches it
        ([{"action": "EXIT", "onReason": "Cannot*"}], True),
        ([{"action": "EXIT", "onExitCode": "*"}], False),  # host loss has no exit code: "" matches "*"
    ],
)
def test_missing_fields_match_as_the_empty_string(batch, lb, entries, retried):
    environment(batch)
    lb.on_job("*", duration=None)
    job_id = submit(batch, retryStrategy={"attempts": 2, "evaluateOnExit": entries})
    lb.fail_host(job_id)
    assert len(describe(batch, job_id)["attempts"]) == 1
    assert status(batch, job_id) == ("RUNNING" if retried else "FAILED")


# == §2.7 timeouts ==================================================================================


def test_job_definition_timeout_applies_and_submit_wins(batch, lb):
    environment(batch, timeout={"attemptDurationSeconds": 120})
    lb.on_job("*", duration=None)
    from_jd = submit(batch, name="from-jd")
    from_submit = submit(batch, name="from-submit", timeout={"attemptDurationSeconds": 60})
    lb.run_until_idle()
    assert timeline(lb, moves={"FAILED"}) == [
        "60 from-submit RUNNING>FAILED | Job attempt duration exceeded timeout",
        "120 from-jd RUNNING>FAILED | Job attempt duration exceeded timeout",
    ]
    assert describe(batch, from_jd)["attempts"][0]["container"]["exitCode"] == 137
    assert describe(batch, from_submit)["timeout"] == {"attemptDurationSeconds": 60}


def test_no_timeout_by_default(batch, lb):
    environment(batch)
    lb.on_job("*", duration=None)
    job_id = submit(batch)
    lb.advance(7 * 24 * 3600)
    job = describe(batch, job_id)
    assert job["status"] == "RUNNING" and "timeout" not in job


# == §2.8 CancelJob vs TerminateJob ==================================================================


def test_cancel_and_terminate_while_starting():
    with patched(starting_seconds=5) as (lb, batch):
        environment(batch)
        lb.on_job("*", duration=None)
        job_id = submit(batch, name="a", retryStrategy={"attempts": 3})
        lb.advance(1)
        assert status(batch, job_id) == "STARTING"
        batch.cancel_job(jobId=job_id, reason="too late")
        job = describe(batch, job_id)
        assert (job["status"], job["isCancelled"]) == ("STARTING", False)
        batch.terminate_job(jobId=job_id, reason="stop")
        job = describe(batch, job_id)
        assert (job["status"], job["statusReason"], job["isTerminated"]) == ("FAILED", "stop", True)
        (attempt,) = job["attempts"]
        assert attempt["container"]["exitCode"] == 143 and attempt["statusReason"] == "stop"
        assert job["stoppedAt"] == T0 + 1000
        lb.run_until_idle()
        assert rows_of(lb, job_id)[-1] == "1 STARTING>FAILED | stop"


def test_terminate_pending_waits_for_its_dependencies(batch, lb):
    environment(batch)
    lb.on_job("first", duration=30)
    first = submit(batch, name="first")
    pending = submit(batch, name="pending", dependsOn=[{"jobId": first}])
    lb.advance(10)
    batch.terminate_job(jobId=pending, reason="drop")
    job = describe(batch, pending)
    assert (job["status"], job["isCancelled"]) == ("PENDING", True)
    lb.run_until_idle()
    assert rows_of(lb, pending) == ["0 ->SUBMITTED", "0 SUBMITTED>PENDING", "30 PENDING>FAILED | drop"]


def test_terminate_finished_or_unknown_job(batch, lb):
    environment(batch)
    done = submit(batch)
    batch.terminate_job(jobId=done, reason="late")
    job = describe(batch, done)
    assert (job["status"], job["statusReason"], job["isTerminated"]) == ("SUCCEEDED", EXITED, False)
    assert refused(batch.terminate_job, jobId=UNKNOWN, reason="x") == f"Job {UNKNOWN} not found"


# == §2.9 jobStateTimeLimitActions ================================================================

NEVER_FITS = "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE"
CANCEL_AFTER_600 = [{"reason": NEVER_FITS, "state": "RUNNABLE", "maxTimeSeconds": 600, "action": "CANCEL"}]


def test_each_job_is_timed_from_when_it_becomes_the_blocked_head(batch, lb):
    compute_environment(batch, max_vcpus=2)
    job_queue(batch, jobStateTimeLimitActions=CANCEL_AFTER_600)
    job_definition(batch, name="huge", vcpus="4")
    first = submit(batch, name="huge1", definition="huge")
    lb.advance(0.001)  # created after the head: same-millisecond jobs go by jobId (spec §3.2)
    second = submit(batch, name="huge2", definition="huge")
    lb.advance(300)
    assert "statusReason" not in describe(batch, second)  # not the head: not blocked for that reason
    assert describe(batch, first)["statusReason"].startswith(NEVER_FITS)
    lb.run_until_idle()
    assert timeline(lb, moves={"FAILED"}) == [
        f"600 huge1 RUNNABLE>FAILED | Canceled by JobStateTimeLimit action due to reason: {NEVER_FITS}",
        f"1200 huge2 RUNNABLE>FAILED | Canceled by JobStateTimeLimit action due to reason: {NEVER_FITS}",
    ]


def test_timer_restarts_when_the_reason_changes_and_reason_clears_on_dispatch(batch, lb):
    compute_environment(batch, max_vcpus=2)
    job_queue(batch, jobStateTimeLimitActions=CANCEL_AFTER_600)
    job_definition(batch)
    job_definition(batch, name="big", vcpus="4")
    lb.on_job("holder", duration=None)
    lb.on_job("big", duration=None)
    holder = submit(batch, name="holder")
    big = submit(batch, name="big", definition="big")
    assert describe(batch, big)["statusReason"].startswith(NEVER_FITS)
    lb.advance(300)
    batch.update_compute_environment(computeEnvironment="ce", computeResources={"maxvCpus": 4})
    job = describe(batch, big)
    assert job["status"] == "RUNNABLE" and "statusReason" not in job  # now it only waits for the holder
    lb.advance(100)
    batch.update_compute_environment(computeEnvironment="ce", computeResources={"maxvCpus": 2})
    assert describe(batch, big)["statusReason"].startswith(NEVER_FITS)
    lb.advance(599)  # 999 s: a timer from 0 s or from 400 s... only the second counts
    assert status(batch, big) == "RUNNABLE"
    batch.update_compute_environment(computeEnvironment="ce", computeResources={"maxvCpus": 8})
    job = describe(batch, big)
    assert job["status"] == "RUNNING" and "statusReason" not in job
    lb.advance(3600)
    assert status(batch, big) == "RUNNING"
    lb.complete(holder)


# == §2.11 environment ==============================================================================


def _eks_queue(batch) -> None:
    eks_compute_environment(batch)
    job_queue(batch, ces=("eks",))


def _pod(batch, **container) -> None:
    batch.register_job_definition(jobDefinitionName="pod", type="container", eksProperties={"podProperties": {
        "containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "1"}}, **container}]}})


def test_eks_jobs_get_the_kubernetes_node_uid(batch, lb):
    _eks_queue(batch)
    _pod(batch)
    seen = []
    lb.on_job("*", run=lambda job: seen.append(job.environment) or 0)
    submit(batch, definition="pod")
    lb.run_until_idle()
    assert seen[0].get("AWS_BATCH_JOB_KUBERNETES_NODE_UID")


def test_kubernetes_node_uid_is_a_uuid_per_attempt(batch, lb):
    _eks_queue(batch)
    _pod(batch)
    seen = []
    lb.on_job("*", run=lambda job: seen.append(job.environment["AWS_BATCH_JOB_KUBERNETES_NODE_UID"]) or job.attempt - 2)
    first = submit(batch, name="a", definition="pod", retryStrategy={"attempts": 2})
    submit(batch, name="b", definition="pod")
    lb.run_until_idle()
    assert status(batch, first) == "SUCCEEDED" and len(seen) == 3
    assert all(str(uuid.UUID(uid)) == uid and uuid.UUID(uid).version == 4 for uid in seen)
    assert len(set(seen)) == 3  # a new pod, so a new node, for each attempt and each job


def test_kubernetes_node_uid_in_the_subprocess_environment():
    with patched(executor="subprocess") as (lb, batch):
        _eks_queue(batch)
        _pod(batch, command=["sh", "-c", 'echo "$AWS_BATCH_JOB_KUBERNETES_NODE_UID"'])
        job_id = submit(batch, definition="pod")
        lb.run_until_idle()
        assert status(batch, job_id) == "SUCCEEDED"
        assert lb.logs(job_id, 1) == executors.kubernetes_node_uid(lb.backend().jobs.get(job_id), 1) + "\n"


def test_multinode_node_job_id_in_the_environment(batch, lb):
    compute_environment(batch, max_vcpus=6)
    job_queue(batch)
    _multinode(batch)
    seen = []
    lb.on_job("*", run=lambda job: seen.append(job.environment) or 0)
    job_id = submit(batch, name="mpi", definition="mnp")
    lb.run_until_idle()
    assert seen[0]["AWS_BATCH_JOB_ID"] == f"{job_id}#0"


def test_a_rule_runs_the_main_node_of_a_multinode_job(batch, lb):
    compute_environment(batch, max_vcpus=6)
    job_queue(batch)
    batch.register_job_definition(jobDefinitionName="mnp", type="multinode", nodeProperties={
        "numNodes": 3, "mainNode": 1, "nodeRangeProperties": [{"targetNodes": "0:", "container": {
            "image": "mpi", "command": ["run"], "resourceRequirements": [{"type": "VCPU", "value": "2"},
                                                                         {"type": "MEMORY", "value": "512"}]}}]})
    runs = []
    lb.on_job("*", run=lambda job: runs.append(job) or 0)
    job_id = submit(batch, name="mpi", definition="mnp")
    lb.run_until_idle()
    (run,) = runs  # one container decides: the main node's
    assert (run.job_id, run.job_arn, run.node_index, run.main_node_index, run.num_nodes, run.vcpus) == (
        f"{job_id}#1", f"{ARN}job/{job_id}#1", 1, 1, 3, 2.0)  # its own node's vCPUs, not the job's 6
    assert (run.environment["AWS_BATCH_JOB_ID"], run.environment["AWS_BATCH_JOB_NODE_INDEX"]) == (f"{job_id}#1", "1")
    assert "AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS" not in run.environment


def test_child_nodes_see_their_own_index_and_the_main_node_address(batch, lb):
    # A rule's run() sees only the main node; what the other nodes' containers see is read from
    # the engine, for nodes submitted through boto3.
    job_run = executors.job_run
    compute_environment(batch, max_vcpus=6)
    job_queue(batch)
    _multinode(batch)
    lb.on_job("*", duration=None)
    job_id = submit(batch, name="mpi", definition="mnp", tags={"team": "hpc"})
    assert status(batch, f"{job_id}#2") == "RUNNING"
    jobs = lb.backend().jobs
    main, child = (job_run(jobs.get(f"{job_id}#{i}")) for i in (0, 2))
    assert (child.job_id, child.node_index, child.main_node_index, child.vcpus, child.tags) == (
        f"{job_id}#2", 2, 0, 2.0, {"team": "hpc"})
    env = child.environment
    assert (env["AWS_BATCH_JOB_ID"], env["AWS_BATCH_JOB_NODE_INDEX"], env["AWS_BATCH_JOB_MAIN_NODE_INDEX"],
            env["AWS_BATCH_JOB_NUM_NODES"], env["AWS_BATCH_JOB_ATTEMPT"]) == (f"{job_id}#2", "2", "0", "3", "1")
    address = env["AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"]
    assert address.startswith("10.0.") and address == job_run(jobs.get(f"{job_id}#1")).environment[
        "AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"]
    assert main.environment["AWS_BATCH_JOB_ID"] == f"{job_id}#0"
    assert "AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS" not in main.environment
    assert "AWS_BATCH_JOB_KUBERNETES_NODE_UID" not in env


def test_no_kubernetes_node_uid_outside_eks(batch, lb):
    environment(batch)
    seen = []
    lb.on_job("*", run=lambda job: seen.append(job.environment) or 0)
    submit(batch)
    lb.run_until_idle()
    assert "AWS_BATCH_JOB_KUBERNETES_NODE_UID" not in seen[0]


# == §2.12 DescribeJobs payload =====================================================================


def test_container_reason_is_at_most_255_characters(batch, lb):
    environment(batch)
    lb.on_job("*", duration=None)
    job_id = submit(batch)
    lb.complete(job_id, exit_code=1, reason="r" * 300)
    job = describe(batch, job_id)
    assert job["container"]["reason"] == "r" * 255
    assert job["attempts"][0]["container"]["reason"] == "r" * 255
    (summary,) = batch.list_jobs(jobQueue="q", jobStatus="FAILED")["jobSummaryList"]
    assert summary["container"]["reason"] == "r" * 255


# == §3.2 FIFO and capacity ========================================================================


def test_array_children_are_ordered_by_their_parents_submission(batch, lb):
    compute_environment(batch, name="ce", max_vcpus=1)
    compute_environment(batch, name="other", max_vcpus=1)
    job_queue(batch)
    job_queue(batch, name="side", ces=("other",))
    job_definition(batch)
    lb.on_job("*", duration=10)
    lb.on_job("holder", duration=20)
    submit(batch, name="holder")
    gate = submit(batch, name="gate", queue="side")  # done at 10 s: then the children spawn
    submit(batch, name="arr", arrayProperties={"size": 2}, dependsOn=[{"jobId": gate}])
    lb.advance(5)
    submit(batch, name="later")  # created at 5 s, before the children (10 s)
    lb.run_until_idle()
    assert timeline(lb, moves={"STARTING"}, names={"holder", "arr", "later"}) == [
        "0 holder RUNNABLE>STARTING",
        "20 arr RUNNABLE>STARTING",
        "30 arr RUNNABLE>STARTING",
        "40 later RUNNABLE>STARTING",
    ]


def test_compute_environments_are_tried_in_ascending_order(batch, lb):
    compute_environment(batch, name="ce-a", max_vcpus=1)
    compute_environment(batch, name="ce-b", max_vcpus=1)
    batch.create_job_queue(jobQueueName="q", priority=1, computeEnvironmentOrder=[
        {"order": 2, "computeEnvironment": "ce-a"}, {"order": 1, "computeEnvironment": "ce-b"}])
    job_definition(batch)
    lb.on_job("*", duration=None)
    first, second = submit(batch, name="first"), submit(batch, name="second")

    def cluster(job_id):
        return describe(batch, job_id)["container"]["taskArn"].split("/")[1]

    assert cluster(first).startswith("AWSBatch-ce-b") and cluster(second).startswith("AWSBatch-ce-a")


def test_starting_jobs_hold_capacity():
    with patched(starting_seconds=5) as (lb, batch):
        environment(batch, max_vcpus=1)
        lb.on_job("*", duration=10)
        submit(batch, name="a")
        b = submit(batch, name="b")
        lb.advance(1)
        assert status(batch, b) == "RUNNABLE"
        lb.run_until_idle()
        assert timeline(lb, moves={"STARTING", "RUNNING"}) == [
            "0 a RUNNABLE>STARTING",
            "5 a STARTING>RUNNING",
            "15 b RUNNABLE>STARTING",
            "20 b STARTING>RUNNING",
        ]


def test_a_blocked_high_priority_queue_yields_to_the_next(batch, lb):
    compute_environment(batch, max_vcpus=4)
    job_queue(batch, name="high", priority=10)
    job_queue(batch, name="low", priority=1)
    job_definition(batch)
    job_definition(batch, name="four", vcpus="4")
    lb.on_job("*", duration=10)
    lb.on_job("holder", duration=30)
    submit(batch, name="holder", queue="low")
    submit(batch, name="big", queue="high", definition="four")  # waits for the holder's vCPU
    submit(batch, name="small", queue="low")
    lb.run_until_idle()
    assert timeline(lb, moves={"STARTING"}) == [
        "0 holder RUNNABLE>STARTING",
        "0 small RUNNABLE>STARTING",
        "30 big RUNNABLE>STARTING",
    ]


def test_memory_is_not_placed_on_ec2(batch, lb):
    environment(batch, max_vcpus=1, container={"resourceRequirements": [
        {"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2000000"}]})
    assert status(batch, submit(batch)) == "SUCCEEDED"


def test_legacy_vcpus_are_the_capacity_unit(batch, lb):
    compute_environment(batch, max_vcpus=4)
    job_queue(batch)
    batch.register_job_definition(jobDefinitionName="legacy", type="container",
                                  containerProperties={"image": "busybox", "vcpus": 2, "memory": 512})
    lb.on_job("*", duration=10)
    for name in "abc":
        submit(batch, name=name, definition="legacy")
    lb.run_until_idle()
    assert timeline(lb, moves={"STARTING"}) == [
        "0 a RUNNABLE>STARTING", "0 b RUNNABLE>STARTING", "10 c RUNNABLE>STARTING",
    ]


def test_eks_cpu_requests_are_the_capacity_unit(batch, lb):
    eks_compute_environment(batch, max_vcpus=2)
    job_queue(batch, ces=("eks",))
    batch.register_job_definition(jobDefinitionName="pod", type="container", eksProperties={"podProperties": {
        "containers": [{"name": "c", "image": "busybox", "resources": {"limits": {"cpu": "1500m"}}}]}})
    lb.on_job("*", duration=10)
    for name in "ab":
        submit(batch, name=name, definition="pod")
    lb.run_until_idle()
    assert timeline(lb, moves={"STARTING"}) == ["0 a RUNNABLE>STARTING", "10 b RUNNABLE>STARTING"]


def test_unmanaged_compute_environment_with_unmanaged_vcpus(batch, lb):
    batch.create_compute_environment(computeEnvironmentName="own", type="UNMANAGED", unmanagedvCpus=2)
    job_queue(batch, ces=("own",))
    job_definition(batch)
    lb.on_job("*", duration=10)
    for name in "abc":
        submit(batch, name=name)
    lb.run_until_idle()
    assert timeline(lb, moves={"STARTING"}) == [
        "0 a RUNNABLE>STARTING", "0 b RUNNABLE>STARTING", "10 c RUNNABLE>STARTING",
    ]


def test_disabled_queue_still_dispatches_its_jobs(batch, lb):
    environment(batch, max_vcpus=1)
    lb.on_job("*", duration=10)
    submit(batch, name="a")
    b = submit(batch, name="b")
    batch.update_job_queue(jobQueue="q", state="DISABLED")
    lb.run_until_idle()
    assert status(batch, b) == "SUCCEEDED"
    assert timeline(lb, moves={"STARTING"}) == ["0 a RUNNABLE>STARTING", "10 b RUNNABLE>STARTING"]


# -- §3.2, §3.3 step 3 [proposed]: jobs created in the same millisecond go by jobId -------------------------


@contextmanager
def held_behind(batch) -> Iterator[None]:
    """Jobs submitted inside wait RUNNABLE together behind the disabled
    compute environment `ce`: the first pass, once it is enabled, sees them all."""
    batch.update_compute_environment(computeEnvironment="ce", state="DISABLED")
    yield
    batch.describe_jobs(jobs=[])  # lets SUBMITTED jobs become RUNNABLE (and arrays spawn their children)
    batch.update_compute_environment(computeEnvironment="ce", state="ENABLED")


def started_ids(lb) -> list[str]:
    """Job ids (array children as `<parent id>:<index>`) in the order they went STARTING."""
    return [row["job_id"] for row in lb.timeline() if row["to"] == "STARTING"]


def test_same_creation_time_ties_go_by_job_id(batch, lb):
    environment(batch, max_vcpus=1)
    lb.on_job("*", duration=10)
    with held_behind(batch):
        ids = {submit(batch, name=f"j{i}"): f"j{i}" for i in range(6)}  # all created at T0 (frozen clock)
    lb.run_until_idle()
    started = [line.split()[1] for line in timeline(lb, moves={"STARTING"})]
    assert started == [ids[job_id] for job_id in sorted(ids)]


def test_same_creation_time_front_of_queue_is_the_job_id_order(batch, lb):
    environment(batch, max_vcpus=1)
    lb.on_job("*", duration=10)
    with held_behind(batch):
        ids = [submit(batch, name=f"j{i}") for i in range(6)]
    front = batch.get_job_queue_snapshot(jobQueue="q")["frontOfQueue"]["jobs"]
    # One runs; frontOfQueue is the other five in the order they are about to start.
    assert [entry["jobArn"].rpartition("/")[2] for entry in front] == sorted(ids)[1:]
    lb.run_until_idle()
    assert started_ids(lb) == sorted(ids)


def test_array_children_keep_their_index_order_among_jobs_of_the_same_millisecond(batch, lb):
    environment(batch, max_vcpus=1)
    lb.on_job("*", duration=10)
    with held_behind(batch):
        parent = submit(batch, name="arr", arrayProperties={"size": 12})
        plain = [submit(batch, name=f"p{i}") for i in range(3)]
    lb.run_until_idle()
    # The children take their parent's place (its jobId among jobs of that millisecond), then go by index:
    # 0, 1, 2, ..., 11 (index 10 after 9, not after 1 as the child ids would sort as strings).
    expected = []
    for job_id in sorted([parent, *plain]):
        expected += [f"{parent}:{i}" for i in range(12)] if job_id == parent else [job_id]
    assert started_ids(lb) == expected


def test_fair_share_ties_within_a_share_go_by_job_id_after_priority(batch, lb):
    from tests.api.test_fair_share import fair_queue

    fair_queue(batch, max_vcpus=1, shares=[])
    lb.on_job("*", duration=10)
    with held_behind(batch):
        same = [batch.submit_job(jobName=f"a{i}", jobQueue="q", jobDefinition="jd",
                                 shareIdentifier="a")["jobId"] for i in range(5)]
        urgent = batch.submit_job(jobName="a-urgent", jobQueue="q", jobDefinition="jd", shareIdentifier="a",
                                  schedulingPriorityOverride=5)["jobId"]
    lb.run_until_idle()
    # Spec §3.3 step 3: schedulingPriority desc, createdAt asc (all at T0 here), then jobId.
    assert started_ids(lb) == [urgent, *sorted(same)]


# == §3.4 consumable resources =====================================================================

LICENCE = {"consumableResourceList": [{"consumableResource": "licences", "quantity": 1}]}


def _licences(batch, total=1, **extra):
    batch.create_consumable_resource(consumableResourceName="licences", totalQuantity=total, **extra)


def _quantities(batch):
    found = batch.describe_consumable_resource(consumableResource="licences")
    return found["totalQuantity"], found["inUseQuantity"], found["availableQuantity"]


def test_waiting_for_units_blocks_the_queue(batch, lb):
    _licences(batch)
    environment(batch, max_vcpus=8)
    lb.on_job("*", duration=10)
    submit(batch, name="holder", consumableResourcePropertiesOverride=LICENCE)
    # A millisecond apart, so the queue holds them in submission order (same-millisecond jobs go by jobId).
    lb.advance(0.001)
    submit(batch, name="needs", consumableResourcePropertiesOverride=LICENCE)
    lb.advance(0.001)
    submit(batch, name="free")  # needs no licence, but waits behind the head
    lb.run_until_idle()
    assert timeline(lb, moves={"STARTING"}) == [
        "0 holder RUNNABLE>STARTING", "10 needs RUNNABLE>STARTING", "10 free RUNNABLE>STARTING",
    ]


def test_every_listed_resource_must_have_the_units(batch, lb):
    _licences(batch, total=1)
    batch.create_consumable_resource(consumableResourceName="seats", totalQuantity=1)
    environment(batch, max_vcpus=8)
    lb.on_job("*", duration=10)
    both = {"consumableResourceList": [{"consumableResource": "licences", "quantity": 1},
                                       {"consumableResource": "seats", "quantity": 1}]}
    submit(batch, name="seat", consumableResourcePropertiesOverride={
        "consumableResourceList": [{"consumableResource": "seats", "quantity": 1}]})
    submit(batch, name="both", consumableResourcePropertiesOverride=both)  # licences free, seats not
    lb.run_until_idle()
    assert timeline(lb, moves={"STARTING"}) == ["0 seat RUNNABLE>STARTING", "10 both RUNNABLE>STARTING"]


def test_units_lock_at_starting_and_release_at_failed():
    with patched(starting_seconds=5) as (lb, batch):
        _licences(batch, total=2)
        environment(batch, max_vcpus=8)
        lb.on_job("*", duration=10, exit_code=1)
        submit(batch, consumableResourcePropertiesOverride=LICENCE)
        lb.advance(1)
        assert _quantities(batch) == (2, 1, 1)  # STARTING
        lb.run_until_idle()
        assert _quantities(batch) == (2, 0, 2)  # FAILED gives them back


def test_non_replenishable_units_are_not_given_back(batch, lb):
    _licences(batch, total=2, resourceType="NON_REPLENISHABLE")
    environment(batch)
    first = submit(batch, name="first", consumableResourcePropertiesOverride=LICENCE)
    second = submit(batch, name="second", consumableResourcePropertiesOverride=LICENCE)
    third = submit(batch, name="third", consumableResourcePropertiesOverride=LICENCE)
    lb.run_until_idle()
    assert [status(batch, j) for j in (first, second, third)] == ["SUCCEEDED", "SUCCEEDED", "RUNNABLE"]
    assert _quantities(batch)[2] == 0


def test_units_are_per_array_child(batch, lb):
    _licences(batch, total=2)
    environment(batch, max_vcpus=8)
    lb.on_job("*", duration=10)
    parent = submit(batch, name="arr", arrayProperties={"size": 3}, consumableResourcePropertiesOverride=LICENCE)
    lb.advance(1)
    assert [status(batch, f"{parent}:{i}") for i in range(3)] == ["RUNNING", "RUNNING", "RUNNABLE"]
    assert _quantities(batch) == (2, 2, 0)
    lb.run_until_idle()
    assert status(batch, parent) == "SUCCEEDED"


def test_multinode_job_waits_for_units(batch, lb):
    _licences(batch)
    compute_environment(batch, max_vcpus=16)
    job_queue(batch)
    job_definition(batch)
    _multinode(batch)
    lb.on_job("*", duration=10)
    submit(batch, name="holder", consumableResourcePropertiesOverride=LICENCE)
    mpi = submit(batch, name="mpi", definition="mnp", consumableResourcePropertiesOverride=LICENCE)
    lb.advance(1)
    assert status(batch, mpi) == "RUNNABLE"
    lb.run_until_idle()
    assert rows_of(lb, mpi)[2] == "10 RUNNABLE>STARTING"


def test_fair_share_queue_waits_for_units(batch, lb):
    _licences(batch)
    compute_environment(batch, max_vcpus=8)
    policy = batch.create_scheduling_policy(name="fs", fairsharePolicy={"shareDecaySeconds": 600})["arn"]
    job_queue(batch, schedulingPolicyArn=policy)
    job_definition(batch)
    lb.on_job("*", duration=10)
    for name in ("a1", "a2"):
        submit(batch, name=name, shareIdentifier="a", consumableResourcePropertiesOverride=LICENCE)
    lb.run_until_idle()
    assert timeline(lb, moves={"STARTING"}) == ["0 a1 RUNNABLE>STARTING", "10 a2 RUNNABLE>STARTING"]


# == §6.1 ListJobs =====================================================================================


def test_filter_names_are_case_sensitive(batch):
    environment(batch)
    submit(batch, name="a")
    message = refused(batch.list_jobs, jobQueue="q", filters=[{"name": "job_name", "values": ["a"]}])
    assert "Invalid filter name job_name" in message


def test_job_definition_filter_case_and_revisions(batch, lb):
    environment(batch)
    submit(batch, name="on1")
    job_definition(batch)  # jd:2
    submit(batch, name="on2")

    def names(value):
        out = batch.list_jobs(jobQueue="q", filters=[{"name": "JOB_DEFINITION", "values": [value]}])
        return [j["jobName"] for j in out["jobSummaryList"]]

    assert names("jd") == ["on2", "on1"]
    assert names("jd:2") == ["on2"]
    assert names("JD") == [] and names("JD*") == []


def test_share_identifier_filter_honours_job_status(batch, lb):
    compute_environment(batch, max_vcpus=8)
    policy = batch.create_scheduling_policy(name="fs")["arn"]
    job_queue(batch, schedulingPolicyArn=policy)
    job_definition(batch)
    lb.on_job("held", duration=None)
    submit(batch, name="done", shareIdentifier="a")
    submit(batch, name="held", shareIdentifier="a")
    submit(batch, name="held", shareIdentifier="b")

    def listed(**kwargs):
        out = batch.list_jobs(jobQueue="q", filters=[{"name": "SHARE_IDENTIFIER", "values": ["a"]}], **kwargs)
        return [(j["jobName"], j["shareIdentifier"]) for j in out["jobSummaryList"]]

    assert listed() == [("held", "a"), ("done", "a")]
    assert listed(jobStatus="RUNNING") == [("held", "a")]
    assert listed(jobStatus="SUCCEEDED") == [("done", "a")]


def test_filters_do_not_apply_to_array_children(batch, lb):
    environment(batch)
    parent = submit(batch, name="arr", arrayProperties={"size": 3})
    lb.run_until_idle()
    out = batch.list_jobs(arrayJobId=parent, filters=[{"name": "JOB_NAME", "values": ["no-such-name"]}])
    assert [j["jobId"] for j in out["jobSummaryList"]] == [f"{parent}:{i}" for i in range(3)]


def test_max_results_lower_bound(batch):
    environment(batch)
    assert refused(batch.list_jobs, jobQueue="q", maxResults=0) == "maxResults must be between 1 and 1000"
    assert refused(batch.list_jobs, jobQueue="q", maxResults=0,
                   filters=[{"name": "JOB_NAME", "values": ["a"]}]) == "maxResults must be between 1 and 100"


def test_default_page_sizes(batch, lb):
    environment(batch)
    for i in range(1001):
        batch.submit_job(jobName=f"j{i}", jobQueue="q", jobDefinition="jd")
    page = batch.list_jobs(jobQueue="q", jobStatus="SUCCEEDED")
    assert len(page["jobSummaryList"]) == 1000 and "nextToken" in page
    page = batch.list_jobs(jobQueue="q", filters=[{"name": "JOB_NAME", "values": ["j*"]}])
    assert len(page["jobSummaryList"]) == 100 and "nextToken" in page


def test_service_jobs_are_not_listed_or_described_as_jobs(batch, lb):
    # §6.1 [proposed]: service jobs are not listed by ListJobs / DescribeJobs.
    from tests.api.test_service_jobs_support import submit as submit_service

    fifo_queue(batch, lb, name="training")
    lb.on_job("*", duration=None)
    service_id = submit_service(batch, "train", queue="training")
    lb.advance(1)
    assert batch.describe_service_job(jobId=service_id)["status"] == "RUNNING"
    assert batch.describe_jobs(jobs=[service_id])["jobs"] == []
    for status_ in ("SUBMITTED", "RUNNABLE", "RUNNING"):
        assert batch.list_jobs(jobQueue="training", jobStatus=status_)["jobSummaryList"] == []
    assert batch.list_jobs(jobQueue="training", filters=[{"name": "JOB_NAME", "values": ["*"]}])["jobSummaryList"] == []


def test_job_status_must_be_a_container_status(batch):
    # §6.1: jobStatus is one of the 7 container statuses.
    environment(batch)
    with pytest.raises(batch.exceptions.ClientException):
        batch.list_jobs(jobQueue="q", jobStatus="SCHEDULED")


def test_fargate_places_by_vcpu_only(batch, lb):
    # §3.2: Fargate capacity is vCPU only (memory is not placed).
    compute_environment(batch, name="fargate", kind="FARGATE", max_vcpus=1)
    job_queue(batch, ces=("fargate",))
    batch.register_job_definition(
        jobDefinitionName="small", type="container", platformCapabilities=["FARGATE"],
        containerProperties={"image": "busybox", "resourceRequirements": [
            {"type": "VCPU", "value": "0.5"}, {"type": "MEMORY", "value": "4096"}]},
    )
    lb.on_job("*", duration=10)
    for name in "abc":
        submit(batch, name=name, definition="small")
    lb.run_until_idle()
    assert timeline(lb, moves={"STARTING"}) == [
        "0 a RUNNABLE>STARTING", "0 b RUNNABLE>STARTING", "10 c RUNNABLE>STARTING",
    ]
