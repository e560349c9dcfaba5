"""Scheduling and job lifecycles through a real boto3 client, as golden
timelines (spec §2.1-§2.9, §3.1, §3.2, §3.4).

Each timeline line is `<seconds after T0> <job> <from>><to>` plus the
statusReason when there is one; `-` is "created". The clock is frozen at T0,
so every time below is exact engine time.
"""

from __future__ import annotations

import pytest

import localbatch
from localbatch.engine import flow
from tests.api.test_jobs import (
    ARN,
    T0,
    compute_environment,
    describe,
    environment,
    frozen,
    job_definition,
    job_queue,
    status,
    submit,
)
from tests.helpers import client_error

__all__ = ["frozen"]  # the fixture, imported for this module

pytestmark = pytest.mark.usefixtures("frozen")


def timeline(lb, *, names=None, moves=None) -> list[str]:
    rows = []
    for row in lb.timeline():
        if names is not None and row["job_name"] not in names:
            continue
        if moves is not None and row["to"] not in moves:
            continue
        line = f"{(row['time_ms'] - T0) / 1000:g} {row['job_name']} {row['from'] or '-'}>{row['to']}"
        rows.append(line + (f" | {row['reason']}" if row["reason"] else ""))
    return rows


# == the default lifecycle (spec §2.1) ================================================


def test_default_lifecycle(batch, lb):
    environment(batch)
    submit(batch, name="a")
    lb.run_until_idle()
    assert timeline(lb) == [
        "0 a ->SUBMITTED",
        "0 a SUBMITTED>RUNNABLE",
        "0 a RUNNABLE>STARTING",
        "0 a STARTING>RUNNING",
        "0 a RUNNING>SUCCEEDED | Essential container in task exited",
    ]


def test_dwell_times_are_configurable(batch):
    with localbatch.patch(submitted_seconds=1, starting_seconds=2, job_duration=3) as lb:
        import boto3

        client = boto3.client("batch", region_name="us-east-1")
        environment(client)
        job_id = submit(client, name="a")
        assert status(client, job_id) == "SUBMITTED"
        lb.advance(1)
        assert status(client, job_id) == "STARTING"
        lb.advance(2)
        assert status(client, job_id) == "RUNNING"
        lb.run_until_idle()
        assert timeline(lb) == [
            "0 a ->SUBMITTED",
            "1 a SUBMITTED>RUNNABLE",
            "1 a RUNNABLE>STARTING",
            "3 a STARTING>RUNNING",
            "6 a RUNNING>SUCCEEDED | Essential container in task exited",
        ]
        job = describe(client, job_id)
        assert (job["startedAt"], job["stoppedAt"]) == (T0 + 3000, T0 + 6000)


def test_reads_never_move_a_job(batch, lb):
    environment(batch)
    lb.on_job("*", duration=10)
    job_id = submit(batch, name="a")
    for _ in range(3):
        assert status(batch, job_id) == "RUNNING"
        batch.list_jobs(jobQueue="q")
    lb.advance(9.999)
    assert status(batch, job_id) == "RUNNING"
    lb.advance(0.001)
    assert status(batch, job_id) == "SUCCEEDED"


# == FIFO and capacity (spec §3.2) ======================================================


def test_fifo_fills_capacity_in_submission_order(batch, lb):
    environment(batch, max_vcpus=2)
    lb.on_job("*", duration=10)
    for name in "abcd":
        submit(batch, name=name)
        lb.advance(0.001)  # a millisecond apart: same-millisecond jobs would go by jobId (spec §3.2)
    lb.run_until_idle()
    assert timeline(lb, moves={"STARTING", "SUCCEEDED"}) == [
        "0 a RUNNABLE>STARTING",
        "0.001 b RUNNABLE>STARTING",
        "10 a RUNNING>SUCCEEDED | Essential container in task exited",
        "10 c RUNNABLE>STARTING",
        "10.001 b RUNNING>SUCCEEDED | Essential container in task exited",
        "10.001 d RUNNABLE>STARTING",
        "20 c RUNNING>SUCCEEDED | Essential container in task exited",
        "20.001 d RUNNING>SUCCEEDED | Essential container in task exited",
    ]


def test_head_of_line_blocking_without_backfill(batch, lb):
    environment(batch, max_vcpus=4)
    job_definition(batch, name="big", vcpus="3")
    lb.on_job("*", duration=10)
    lb.on_job("small2", duration=20)
    submit(batch, name="small1")
    submit(batch, name="small2")
    submit(batch, name="big", definition="big")
    lb.advance(0.001)  # small3 is created after big: same-millisecond jobs go by jobId (spec §3.2)
    submit(batch, name="small3")  # would fit beside the first two, but waits behind "big"
    lb.run_until_idle()
    assert timeline(lb, moves={"STARTING", "SUCCEEDED"}) == [
        "0 small1 RUNNABLE>STARTING",
        "0 small2 RUNNABLE>STARTING",
        "10 small1 RUNNING>SUCCEEDED | Essential container in task exited",
        "10 big RUNNABLE>STARTING",
        "20 small2 RUNNING>SUCCEEDED | Essential container in task exited",
        "20 big RUNNING>SUCCEEDED | Essential container in task exited",
        "20 small3 RUNNABLE>STARTING",
        "30 small3 RUNNING>SUCCEEDED | Essential container in task exited",
    ]


def test_backfill_lets_small_jobs_past(batch):
    with localbatch.patch(backfill=True) as lb:
        import boto3

        client = boto3.client("batch", region_name="us-east-1")
        environment(client, max_vcpus=4)
        job_definition(client, name="big", vcpus="3")
        lb.on_job("*", duration=10)
        for name, definition in (("small1", "jd"), ("small2", "jd"), ("big", "big"), ("small3", "jd")):
            submit(client, name=name, definition=definition)
        lb.run_until_idle()
        assert timeline(lb, moves={"STARTING"}) == [
            "0 small1 RUNNABLE>STARTING",
            "0 small2 RUNNABLE>STARTING",
            "0 small3 RUNNABLE>STARTING",
            "10 big RUNNABLE>STARTING",
        ]


def test_queue_priority_and_compute_environment_order(batch, lb):
    compute_environment(batch, name="first", max_vcpus=1)
    compute_environment(batch, name="second", max_vcpus=1)
    job_queue(batch, name="low", ces=("first", "second"), priority=1)
    job_queue(batch, name="high", ces=("first", "second"), priority=10)
    job_definition(batch)
    lb.on_job("*", duration=10)
    lows = [submit(batch, name=f"low{i}", queue="low") for i in range(2)]
    high = submit(batch, name="high0", queue="high")
    lb.advance(0.001)  # high1 is created after high0: same-millisecond jobs go by jobId (spec §3.2)
    # The low queue took both CEs at once; after they free up, the high queue goes first.
    submit(batch, name="low2", queue="low")
    submit(batch, name="high1", queue="high")
    lb.run_until_idle()
    assert timeline(lb, moves={"STARTING"}) == [
        "0 low0 RUNNABLE>STARTING",
        "0 low1 RUNNABLE>STARTING",
        "10 high0 RUNNABLE>STARTING",
        "10 high1 RUNNABLE>STARTING",
        "20 low2 RUNNABLE>STARTING",
    ]
    env = {describe(batch, j)["attempts"][0]["container"]["taskArn"].split("/")[1] for j in lows}
    assert len(env) == 2  # one job on each compute environment
    assert describe(batch, high)["status"] == "SUCCEEDED"


def test_disabled_compute_environment_gets_nothing_until_enabled(batch, lb):
    environment(batch)
    batch.update_compute_environment(computeEnvironment="ce", state="DISABLED")
    job_id = submit(batch, name="a")
    lb.run_until_idle()
    assert status(batch, job_id) == "RUNNABLE"
    batch.update_compute_environment(computeEnvironment="ce", state="ENABLED")
    lb.run_until_idle()
    assert status(batch, job_id) == "SUCCEEDED"


def test_unmanaged_compute_environment_is_unlimited(batch, lb):
    batch.create_compute_environment(computeEnvironmentName="own", type="UNMANAGED")
    job_queue(batch, ces=("own",))
    job_definition(batch, vcpus="64")
    lb.on_job("*", duration=None)
    ids = [submit(batch, name=f"j{i}") for i in range(5)]
    assert [status(batch, i) for i in ids] == ["RUNNING"] * 5


def test_never_fits_gets_misconfiguration_reason_then_time_limit_cancel(batch, lb):
    compute_environment(batch, max_vcpus=2)
    job_queue(
        batch,
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
    job = describe(batch, huge)
    assert job["status"] == "RUNNABLE"
    assert job["statusReason"] == (
        "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - CE(s) associated with the job queue cannot meet the "
        "CPU requirement of the job."
    )
    listed = batch.list_jobs(jobQueue="q", jobStatus="RUNNABLE")["jobSummaryList"]
    assert [j["statusReason"] for j in listed if j["jobName"] == "huge"] == [job["statusReason"]]
    assert status(batch, behind) == "RUNNABLE"  # blocked behind the head
    lb.advance(598.999)
    assert status(batch, huge) == "RUNNABLE"
    lb.advance(1)
    job = describe(batch, huge)
    assert job["status"] == "FAILED"
    assert job["statusReason"] == (
        "Canceled by JobStateTimeLimit action due to reason: MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE"
    )
    assert job["stoppedAt"] == T0 + 600_000
    assert status(batch, behind) == "SUCCEEDED"


def test_blocked_reason_without_action_stays(batch, lb):
    environment(batch, max_vcpus=2, vcpus="4")
    job_id = submit(batch, name="huge")
    lb.advance(100_000)
    job = describe(batch, job_id)
    assert job["status"] == "RUNNABLE" and job["statusReason"].startswith("MISCONFIGURATION:")


def test_waiting_for_capacity_has_no_reason(batch, lb):
    environment(batch, max_vcpus=1)
    lb.on_job("*", duration=10)
    submit(batch, name="a")
    waiting = submit(batch, name="b")
    job = describe(batch, waiting)
    assert job["status"] == "RUNNABLE" and "statusReason" not in job


# == dependencies (spec §2.3) =====================================================================


def test_dependency_waits_then_runs(batch, lb):
    environment(batch)
    lb.on_job("first", duration=30)
    first = submit(batch, name="first")
    second = submit(batch, name="second", dependsOn=[{"jobId": first}])
    lb.run_until_idle()
    assert timeline(lb, names={"second"}) == [
        "0 second ->SUBMITTED",
        "0 second SUBMITTED>PENDING",
        "30 second PENDING>RUNNABLE",
        "30 second RUNNABLE>STARTING",
        "30 second STARTING>RUNNING",
        "30 second RUNNING>SUCCEEDED | Essential container in task exited",
    ]
    assert describe(batch, second)["dependsOn"] == [{"jobId": first}]


def test_failed_dependency_fails_the_chain(batch, lb):
    environment(batch)
    lb.on_job("first", duration=5, exit_code=1)
    first = submit(batch, name="first")
    second = submit(batch, name="second", dependsOn=[{"jobId": first}])
    third = submit(batch, name="third", dependsOn=[{"jobId": second}])
    lb.run_until_idle()
    assert timeline(lb, moves={"FAILED"}) == [
        "5 first RUNNING>FAILED | Essential container in task exited",
        "5 second PENDING>FAILED | Dependent Job failed",
        "5 third PENDING>FAILED | Dependent Job failed",
    ]
    late = submit(batch, name="late", dependsOn=[{"jobId": first}])
    job = describe(batch, late)
    assert (job["status"], job["statusReason"]) == ("FAILED", "Dependent Job failed")
    assert describe(batch, third)["attempts"] == []


def test_dependency_on_a_finished_job_resolves_at_once(batch, lb):
    environment(batch)
    first = submit(batch, name="first")
    lb.run_until_idle()
    second = submit(batch, name="second", dependsOn=[{"jobId": first}])
    assert status(batch, second) == "SUCCEEDED"
    assert "0 second SUBMITTED>RUNNABLE" in timeline(lb)


# == array jobs (spec §2.4) ======================================================================


def test_array_job_children_and_parent(batch, lb):
    environment(batch, max_vcpus=2)
    lb.on_job("*", duration=10)
    parent = submit(batch, name="arr", arrayProperties={"size": 3})
    job = describe(batch, parent)
    assert job["status"] == "PENDING"
    assert job["arrayProperties"] == {
        "statusSummary": {"SUBMITTED": 0, "PENDING": 0, "RUNNABLE": 1, "STARTING": 0, "RUNNING": 2,
                          "SUCCEEDED": 0, "FAILED": 0},
        "statusSummaryLastUpdatedAt": T0,
        "size": 3,
    }
    child = describe(batch, f"{parent}:1")
    assert child["jobId"] == f"{parent}:1"
    assert child["jobArn"] == ARN + f"job/{parent}:1"
    assert child["arrayProperties"] == {"index": 1}
    children = batch.list_jobs(arrayJobId=parent, jobStatus="RUNNING")["jobSummaryList"]
    assert [c["jobId"] for c in children] == [f"{parent}:0", f"{parent}:1"]
    assert children[0]["arrayProperties"] == {"index": 0}
    lb.run_until_idle()
    assert timeline(lb, names={"arr"}, moves={"PENDING", "STARTING", "SUCCEEDED"}) == [
        "0 arr SUBMITTED>PENDING",
        "0 arr ->PENDING",
        "0 arr ->PENDING",
        "0 arr ->PENDING",
        "0 arr RUNNABLE>STARTING",
        "0 arr RUNNABLE>STARTING",
        "10 arr RUNNING>SUCCEEDED | Essential container in task exited",
        "10 arr RUNNING>SUCCEEDED | Essential container in task exited",
        "10 arr RUNNABLE>STARTING",
        "20 arr RUNNING>SUCCEEDED | Essential container in task exited",
        "20 arr PENDING>SUCCEEDED",
    ]
    job = describe(batch, parent)
    assert job["status"] == "SUCCEEDED" and job["stoppedAt"] == T0 + 20_000
    assert job["arrayProperties"]["statusSummary"]["SUCCEEDED"] == 3
    listed = batch.list_jobs(jobQueue="q", jobStatus="SUCCEEDED")["jobSummaryList"]
    assert [j["jobId"] for j in listed] == [parent]  # children are listed only under their parent
    assert listed[0]["arrayProperties"]["size"] == 3


def test_array_child_environment(batch, lb):
    environment(batch)
    seen = {}
    lb.on_job("*", run=lambda job: seen.setdefault(job.array_index, job.environment) and 0)
    parent = submit(batch, name="arr", arrayProperties={"size": 2})
    lb.run_until_idle()
    assert seen[1]["AWS_BATCH_JOB_ARRAY_INDEX"] == "1"
    assert seen[1]["AWS_BATCH_JOB_ARRAY_SIZE"] == "2"
    assert seen[1]["AWS_BATCH_JOB_ID"] == f"{parent}:1"


def test_failed_child_fails_the_parent(batch, lb):
    environment(batch)
    lb.on_job("*", run=lambda job: 3 if job.array_index == 1 else 0)
    parent = submit(batch, name="arr", arrayProperties={"size": 3})
    lb.run_until_idle()
    job = describe(batch, parent)
    assert (job["status"], job["statusReason"]) == ("FAILED", "Array Child Job failed")
    assert job["arrayProperties"]["statusSummary"]["FAILED"] == 1
    assert job["arrayProperties"]["statusSummary"]["SUCCEEDED"] == 2
    assert describe(batch, f"{parent}:1")["container"]["exitCode"] == 3


def test_sequential_array(batch, lb):
    environment(batch, max_vcpus=4)
    lb.on_job("*", duration=10, exit_code=0)
    lb.on_job("*", run=lambda job: 1 if job.array_index == 1 else 0, duration=10)
    parent = submit(batch, name="seq", arrayProperties={"size": 4}, dependsOn=[{"type": "SEQUENTIAL"}])
    lb.run_until_idle()
    assert timeline(lb, moves={"STARTING", "FAILED", "SUCCEEDED"}) == [
        "0 seq RUNNABLE>STARTING",
        "10 seq RUNNING>SUCCEEDED | Essential container in task exited",
        "10 seq RUNNABLE>STARTING",
        "20 seq RUNNING>FAILED | Essential container in task exited",
        "20 seq PENDING>FAILED | Dependent Job failed",
        "20 seq PENDING>FAILED | Dependent Job failed",
        "20 seq PENDING>FAILED | Array Child Job failed",
    ]
    assert describe(batch, parent)["dependsOn"] == [{"type": "SEQUENTIAL"}]


def test_n_to_n_dependency(batch, lb):
    environment(batch, max_vcpus=8)
    lb.on_job("a", run=lambda job: 0, duration=None)
    a = submit(batch, name="a", arrayProperties={"size": 2})
    b = submit(batch, name="b", arrayProperties={"size": 2}, dependsOn=[{"jobId": a, "type": "N_TO_N"}])
    lb.run_until_idle()
    assert status(batch, f"{b}:0") == "PENDING" and status(batch, f"{b}:1") == "PENDING"
    lb.complete(f"{a}:1")
    assert status(batch, f"{b}:1") == "SUCCEEDED"
    assert status(batch, f"{b}:0") == "PENDING"  # waits for a:0 only
    lb.complete(f"{a}:0")
    assert status(batch, b) == "SUCCEEDED"


def test_dependency_on_whole_array(batch, lb):
    environment(batch)
    lb.on_job("arr", duration=5)
    parent = submit(batch, name="arr", arrayProperties={"size": 2})
    after = submit(batch, name="after", dependsOn=[{"jobId": parent}])
    lb.run_until_idle()
    assert timeline(lb, names={"after"}, moves={"RUNNABLE"}) == ["5 after PENDING>RUNNABLE"]
    assert status(batch, after) == "SUCCEEDED"


def test_cancel_array_parent_cancels_children(batch, lb):
    environment(batch, max_vcpus=1)
    lb.on_job("*", duration=None)
    parent = submit(batch, name="arr", arrayProperties={"size": 3})
    assert status(batch, f"{parent}:0") == "RUNNING"
    batch.cancel_job(jobId=parent, reason="stop")
    assert [status(batch, f"{parent}:{i}") for i in range(3)] == ["RUNNING", "FAILED", "FAILED"]
    assert status(batch, parent) == "PENDING"  # until its running child ends
    lb.complete(f"{parent}:0")
    job = describe(batch, parent)
    assert (job["status"], job["statusReason"], job["isCancelled"]) == ("FAILED", "stop", True)
    batch.terminate_job(jobId=parent, reason="no-op")  # already finished


def test_terminate_array_parent_stops_running_children(batch, lb):
    environment(batch, max_vcpus=1)
    lb.on_job("*", duration=None)
    parent = submit(batch, name="arr", arrayProperties={"size": 2})
    batch.terminate_job(jobId=parent, reason="kill")
    child = describe(batch, f"{parent}:0")
    assert (child["status"], child["isTerminated"]) == ("FAILED", True)
    assert (status(batch, parent), describe(batch, parent)["statusReason"]) == ("FAILED", "kill")


# == retries (spec §2.6) ===========================================================================


def test_retry_until_attempts_run_out(batch, lb):
    environment(batch)
    lb.on_job("*", duration=10, exit_code=1, reason="boom")
    job_id = submit(batch, name="r", retryStrategy={"attempts": 3})
    lb.run_until_idle()
    assert timeline(lb, moves={"RUNNABLE", "FAILED"}) == [
        "0 r SUBMITTED>RUNNABLE",
        "10 r RUNNING>RUNNABLE",
        "20 r RUNNING>RUNNABLE",
        "30 r RUNNING>FAILED | Essential container in task exited",
    ]
    job = describe(batch, job_id)
    assert [a["container"]["exitCode"] for a in job["attempts"]] == [1, 1, 1]
    assert [a["container"]["reason"] for a in job["attempts"]] == ["boom"] * 3
    assert [a["startedAt"] - T0 for a in job["attempts"]] == [0, 10_000, 20_000]


def test_retry_attempt_number_and_success(batch, lb):
    environment(batch)
    lb.on_job("*", run=lambda job: 0 if job.attempt == 2 else 1)
    job_id = submit(batch, name="r", retryStrategy={"attempts": 5})
    lb.run_until_idle()
    job = describe(batch, job_id)
    assert job["status"] == "SUCCEEDED" and len(job["attempts"]) == 2


@pytest.mark.parametrize(
    "entries, retried",
    [
        ([{"action": "EXIT", "onExitCode": "1"}], False),
        ([{"action": "exit", "onExitCode": "1*"}], False),
        ([{"action": "EXIT", "onExitCode": "2"}], True),  # no match: retry
        ([{"action": "RETRY", "onReason": "Out*"}, {"action": "EXIT", "onReason": "*"}], True),
        ([{"action": "EXIT", "onReason": "OutOfMemory", "onExitCode": "1"}], True),  # AND: reason does not match
        ([{"action": "EXIT", "onStatusReason": "Essential*"}], False),
        ([{"action": "EXIT", "onReason": "*"}], False),
    ],
)
def test_evaluate_on_exit(batch, lb, entries, retried):
    environment(batch)
    lb.on_job("*", exit_code=1, reason="OutOfMemoryError: Container killed due to memory usage")
    job_id = submit(batch, retryStrategy={"attempts": 2, "evaluateOnExit": entries})
    lb.run_until_idle()
    assert len(describe(batch, job_id)["attempts"]) == (2 if retried else 1)


def test_host_failure_is_retried(batch, lb):
    environment(batch)
    lb.on_job("*", duration=None)
    job_id = submit(batch, name="h", retryStrategy={
        "attempts": 2, "evaluateOnExit": [{"action": "RETRY", "onStatusReason": "Host EC2*"}, {"action": "EXIT"}]
    })
    lb.fail_host(job_id)
    job = describe(batch, job_id)
    assert job["status"] == "RUNNING"
    (first,) = job["attempts"]
    assert first["statusReason"].startswith("Host EC2 (instance i-")
    import re

    assert re.fullmatch(r"Host EC2 \(instance i-[0-9a-f]{17}\) terminated\.", first["statusReason"])
    assert "exitCode" not in first["container"]
    lb.fail_host(job_id)
    job = describe(batch, job_id)
    assert job["status"] == "FAILED" and job["statusReason"].startswith("Host EC2")


# == timeouts (spec §2.7) =======================================================================


def test_timeout_fires_exactly_and_is_not_retried(batch, lb):
    environment(batch)
    lb.on_job("*", duration=None)
    job_id = submit(batch, name="t", timeout={"attemptDurationSeconds": 60}, retryStrategy={"attempts": 3})
    lb.advance(59.999)
    assert status(batch, job_id) == "RUNNING"
    lb.advance(0.001)
    job = describe(batch, job_id)
    assert (job["status"], job["statusReason"]) == ("FAILED", "Job attempt duration exceeded timeout")
    assert job["stoppedAt"] - job["startedAt"] == 60_000
    (attempt,) = job["attempts"]
    assert attempt["container"]["exitCode"] == 137


def test_timeout_restarts_with_each_attempt(batch, lb):
    environment(batch)
    lb.on_job("*", duration=50, exit_code=1)
    job_id = submit(batch, name="t", timeout={"attemptDurationSeconds": 60}, retryStrategy={"attempts": 2})
    lb.run_until_idle()
    job = describe(batch, job_id)
    assert [a["statusReason"] for a in job["attempts"]] == ["Essential container in task exited"] * 2
    assert job["stoppedAt"] == T0 + 100_000


# == test control ===================================================================================


def test_most_recent_matching_rule_wins_and_queue_scope(batch, lb):
    environment(batch)
    job_queue(batch, name="other")
    lb.on_job("*", duration=1)
    lb.on_job("x*", duration=2)
    lb.on_job("*", queue="other", duration=3)
    ids = {name: submit(batch, name=name, queue=queue) for name, queue in (("a", "q"), ("xa", "q"), ("xb", "other"))}
    lb.run_until_idle()
    lengths = {n: (describe(batch, i)["stoppedAt"] - describe(batch, i)["startedAt"]) // 1000 for n, i in ids.items()}
    assert lengths == {"a": 1, "xa": 2, "xb": 3}


def test_complete_and_fail_host_need_a_running_job(batch, lb):
    environment(batch)
    job_id = submit(batch)
    lb.run_until_idle()
    with pytest.raises(localbatch.LocalBatchError, match="SUCCEEDED"):
        lb.complete(job_id)
    with pytest.raises(localbatch.LocalBatchError, match="no job"):
        lb.fail_host("00000000-0000-4000-8000-000000000000")
    with pytest.raises(localbatch.LocalBatchError):
        lb.on_job("*", duration=-1)


def test_run_must_return_an_exit_code(batch, lb):
    environment(batch)
    lb.on_job("*", run=lambda job: "ok")
    submit(batch)
    with pytest.raises(localbatch.LocalBatchError, match="exit code"):
        lb.run_until_idle()


# == multi-node (spec §2.5) ===========================================================================


def _multinode(batch, num_nodes=3):
    batch.register_job_definition(
        jobDefinitionName="mnp",
        type="multinode",
        nodeProperties={
            "numNodes": num_nodes,
            "mainNode": 0,
            "nodeRangeProperties": [{
                "targetNodes": "0:",
                "container": {"image": "mpi", "command": ["run"],
                              "resourceRequirements": [{"type": "VCPU", "value": "2"},
                                                       {"type": "MEMORY", "value": "512"}]},
            }],
        },
    )


def test_multinode_job(batch, lb):
    compute_environment(batch, max_vcpus=6)
    job_queue(batch)
    job_definition(batch)
    _multinode(batch)
    lb.on_job("*", duration=None)
    job_id = submit(batch, name="mpi", definition="mnp")
    job = describe(batch, job_id)
    assert job["status"] == "RUNNING"
    assert job["nodeProperties"]["numNodes"] == 3
    node = describe(batch, f"{job_id}#1")
    assert node["nodeDetails"] == {"nodeIndex": 1, "isMainNode": False}
    assert node["status"] == "RUNNING"
    nodes = batch.list_jobs(multiNodeJobId=job_id)["jobSummaryList"]
    assert [n["nodeProperties"] for n in nodes] == [
        {"isMainNode": i == 0, "numNodes": 3, "nodeIndex": i} for i in range(3)
    ]
    other = submit(batch, name="waits")  # 6 vCPUs are taken by the three nodes
    assert status(batch, other) == "RUNNABLE"
    lb.complete(f"{job_id}#1")  # a non-main node ends alone (tests/api/test_multinode_actions.py)
    assert (status(batch, f"{job_id}#1"), status(batch, job_id)) == ("SUCCEEDED", "RUNNING")
    lb.complete(f"{job_id}#0", exit_code=0)
    assert status(batch, job_id) == "SUCCEEDED"
    assert status(batch, f"{job_id}#2") == "SUCCEEDED"


def test_multinode_node_overrides_and_array_refused(batch, lb):
    compute_environment(batch, max_vcpus=20)
    job_queue(batch)
    _multinode(batch)
    seen = []
    lb.on_job("*", run=lambda job: seen.append(job.environment) or 0)
    job_id = submit(batch, name="mpi", definition="mnp", nodeOverrides={"numNodes": 5})
    lb.run_until_idle()
    assert describe(batch, job_id)["nodeProperties"]["numNodes"] == 5
    assert seen[0]["AWS_BATCH_JOB_NUM_NODES"] == "5"
    assert seen[0]["AWS_BATCH_JOB_MAIN_NODE_INDEX"] == "0"
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, definition="mnp", arrayProperties={"size": 2})
    assert client_error(e) == "Array jobs are not supported for multinode job definitions"


# == queue deletion (spec §1.3 [proposed]) =============================================================


def test_jobs_of_a_deleted_queue_fail(batch, lb):
    environment(batch, max_vcpus=1)
    lb.on_job("*", duration=None)
    running = submit(batch, name="running")
    queued = submit(batch, name="queued")
    backend = lb.backend()
    backend.journal.begin()
    flow.fail_jobs_of_queue(backend, ARN + "job-queue/q")
    backend.journal.commit()
    job = describe(batch, running)
    assert (job["status"], job["statusReason"], job["isTerminated"]) == ("FAILED", "Job queue deleted", True)
    job = describe(batch, queued)
    assert (job["status"], job["statusReason"]) == ("FAILED", "Job queue deleted")


def test_a_failing_run_leaves_the_engine_as_it_was(batch, lb):
    environment(batch)

    def broken(job):
        raise RuntimeError("bug in the test's run()")

    lb.on_job("*", run=broken)
    job_id = submit(batch, name="a")
    with pytest.raises(RuntimeError):
        lb.run_until_idle()
    # Each job event is atomic: the events before the failing one (evaluation,
    # dispatch) stand, the failing one left nothing behind and is still due.
    # (Read the engine directly: a call would run the failing event again.)
    backend = lb.backend()
    assert backend.jobs.get(job_id).status == "STARTING"
    assert len(backend.jobs.timeline) == 3
    assert backend.events.next_due_ms() == T0
    lb.on_job("*")
    assert status(batch, job_id) == "SUCCEEDED"
    assert len(timeline(lb)) == 5
