"""`lb.complete` and `lb.fail_host` on the nodes of a multi-node job (`<jobId>#<n>`),
through a real boto3 client (spec §2.5, §2.6, §2.10).

The main node's exit, or the loss of its host, decides the job; another
node's exit or lost host ends that node only. Child nodes launch once the
main node is RUNNING. Timelines are golden:
`<seconds after T0> <job>[#node] <from>><to> | <reason>`.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import boto3
import pytest

import localbatch
from localbatch.engine import executors
from tests.api.test_jobs import (
    T0,
    compute_environment,
    describe,
    frozen,
    job_definition,
    job_queue,
    status,
    submit,
)
from tests.api.test_jobs_scheduling import _multinode

__all__ = ["frozen"]

pytestmark = pytest.mark.usefixtures("frozen")

EXITED = "Essential container in task exited"
HOST_LOST = re.compile(r"Host EC2 \(instance i-[0-9a-f]{17}\) terminated\.")


@pytest.fixture
def mpi(batch, lb):
    """Submits a 3-node job (main node 0, 2 vCPU each) that runs until completed."""
    compute_environment(batch, max_vcpus=6)
    job_queue(batch)
    _multinode(batch)
    lb.on_job("*", duration=None)

    def start(**kwargs):
        job_id = submit(batch, name="mpi", definition="mnp", **kwargs)
        assert status(batch, job_id) == "RUNNING"
        return job_id

    return start


def moves(lb, job_id: str) -> list[str]:
    rows = []
    for row in lb.timeline():
        node = row["job_id"].replace(job_id, "mpi")
        line = f"{(row['time_ms'] - T0) / 1000:g} {node} {row['from'] or '-'}>{row['to']}"
        rows.append(line + (f" | {row['reason']}" if row["reason"] else ""))
    return rows


START = [
    "0 mpi ->SUBMITTED",
    "0 mpi SUBMITTED>RUNNABLE",
    "0 mpi RUNNABLE>STARTING",
    "0 mpi#0 ->STARTING",  # only the main node starts with the job...
    "0 mpi STARTING>RUNNING",
    "0 mpi#0 STARTING>RUNNING",
    "0 mpi#1 ->STARTING",  # ...the others launch once it is RUNNING (spec §2.5)
    "0 mpi#2 ->STARTING",
    "0 mpi#1 STARTING>RUNNING",
    "0 mpi#2 STARTING>RUNNING",
]


def node(batch, job_id: str, index: int) -> dict:
    return describe(batch, f"{job_id}#{index}")


def exit_codes(detail: dict) -> list:
    return [attempt["container"].get("exitCode") for attempt in detail["attempts"]]


# == complete ============================================================================================


def test_completing_the_main_node_ends_the_job(batch, lb, mpi):
    job_id = mpi()
    lb.advance(10)
    lb.complete(f"{job_id}#0", exit_code=0)
    assert moves(lb, job_id) == START + [
        f"10 mpi#0 RUNNING>SUCCEEDED | {EXITED}",
        f"10 mpi#1 RUNNING>SUCCEEDED | {EXITED}",
        f"10 mpi#2 RUNNING>SUCCEEDED | {EXITED}",
        f"10 mpi RUNNING>SUCCEEDED | {EXITED}",
    ]
    job = describe(batch, job_id)
    assert (job["status"], job["statusReason"], job["stoppedAt"]) == ("SUCCEEDED", EXITED, T0 + 10_000)


def test_completing_another_node_ends_that_node_only(batch, lb, mpi):
    job_id = mpi()
    lb.advance(10)
    lb.complete(f"{job_id}#1", exit_code=3, reason="worker crashed")
    one = node(batch, job_id, 1)
    assert (one["status"], one["statusReason"], one["stoppedAt"]) == ("FAILED", EXITED, T0 + 10_000)
    assert one["container"]["exitCode"] == 3 and one["container"]["reason"] == "worker crashed"
    assert exit_codes(one) == [3]
    assert one["attempts"][0]["statusReason"] == EXITED
    assert status(batch, job_id) == "RUNNING"
    assert [node(batch, job_id, i)["status"] for i in (0, 2)] == ["RUNNING", "RUNNING"]
    (listed,) = batch.list_jobs(multiNodeJobId=job_id, jobStatus="FAILED")["jobSummaryList"]
    assert (listed["jobId"], listed["container"]) == (f"{job_id}#1", {"exitCode": 3, "reason": "worker crashed"})
    running = batch.list_jobs(multiNodeJobId=job_id)["jobSummaryList"]  # RUNNING by default
    assert [n["jobId"] for n in running] == [f"{job_id}#0", f"{job_id}#2"]

    lb.advance(5)
    lb.complete(f"{job_id}#0", exit_code=0)  # the main node decides: the job succeeds
    assert moves(lb, job_id) == START + [
        f"10 mpi#1 RUNNING>FAILED | {EXITED}",
        f"15 mpi#0 RUNNING>SUCCEEDED | {EXITED}",
        f"15 mpi#2 RUNNING>SUCCEEDED | {EXITED}",
        f"15 mpi RUNNING>SUCCEEDED | {EXITED}",
    ]
    assert exit_codes(node(batch, job_id, 1)) == [3]  # it keeps its own end
    assert exit_codes(node(batch, job_id, 2)) == [0]
    assert node(batch, job_id, 1)["stoppedAt"] == T0 + 10_000


def test_a_node_that_succeeded_alone_does_not_save_a_failing_job(batch, lb, mpi):
    job_id = mpi()
    lb.complete(f"{job_id}#2", exit_code=0)
    lb.advance(20)
    lb.complete(job_id, exit_code=1)  # the job id itself is its main node
    assert [node(batch, job_id, i)["status"] for i in range(3)] == ["FAILED", "FAILED", "SUCCEEDED"]
    job = describe(batch, job_id)
    assert (job["status"], exit_codes(job)) == ("FAILED", [1])


def test_completing_a_node_that_ended_is_refused(batch, lb, mpi):
    job_id = mpi()
    lb.complete(f"{job_id}#1")
    with pytest.raises(localbatch.LocalBatchError, match=r"complete\('.*#1'\): the job is SUCCEEDED, not RUNNING"):
        lb.complete(f"{job_id}#1")
    with pytest.raises(localbatch.LocalBatchError, match=r"fail_host\('.*#1'\): the job is SUCCEEDED"):
        lb.fail_host(f"{job_id}#1")  # its instance is gone already
    with pytest.raises(localbatch.LocalBatchError, match="no job"):
        lb.complete(f"{job_id}#7")
    assert status(batch, job_id) == "RUNNING"


def test_a_failing_complete_changes_nothing(batch, lb, mpi, monkeypatch):
    job_id = mpi()
    before = (node(batch, job_id, 1), lb.timeline())

    def broken(*args, **kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr(executors, "transition", broken)
    with pytest.raises(RuntimeError, match="boom"):
        lb.complete(f"{job_id}#1", exit_code=2)
    monkeypatch.undo()
    assert (node(batch, job_id, 1), lb.timeline()) == before


def test_a_failing_run_leaves_a_node_that_ended_as_it_was(batch, lb, mpi):
    job_id = mpi(retryStrategy={"attempts": 2})
    lb.complete(f"{job_id}#1", exit_code=0)

    def broken(job):
        raise RuntimeError("bug in the test's run()")

    lb.on_job("*", duration=None, run=lambda job: broken(job) if job.attempt == 2 else 0)
    with pytest.raises(RuntimeError, match="bug"):
        lb.fail_host(job_id)  # attempt 2 starts at once, and its run() fails when the main node runs
    # The failing event (main node RUNNING, node 1 launched again) left nothing behind.
    backend = lb.backend()
    assert backend.jobs.get(job_id).status == "STARTING"
    assert [backend.jobs.get(f"{job_id}#{i}").status for i in range(3)] == ["STARTING", "SUCCEEDED", "RUNNABLE"]
    lb.on_job("*", duration=None)
    assert [node(batch, job_id, i)["status"] for i in range(3)] == ["RUNNING"] * 3
    assert exit_codes(node(batch, job_id, 1)) == [0]


def test_terminating_the_job_keeps_the_end_of_a_node_that_ended(batch, lb, mpi):
    job_id = mpi()
    lb.complete(f"{job_id}#1", exit_code=0)
    batch.terminate_job(jobId=job_id, reason="stop")
    assert [(n["status"], n["statusReason"]) for n in (node(batch, job_id, i) for i in range(3))] == [
        ("FAILED", "stop"), ("SUCCEEDED", EXITED), ("FAILED", "stop"),
    ]
    assert exit_codes(node(batch, job_id, 1)) == [0]
    assert exit_codes(node(batch, job_id, 2)) == [143]


def test_explain_a_node_that_ended_alone(batch, lb, mpi):
    job_id = mpi()
    lb.complete(f"{job_id}#1", exit_code=4)
    assert lb.explain(f"{job_id}#1") == (
        f"FAILED: {EXITED} (attempt 1 of 1, exit code 4, at 2026-01-01T00:00:00Z); this node ended alone, "
        f"multi-node job {job_id} is RUNNING (its main node decides)"
    )


# == fail_host =============================================================================================


def test_a_lost_host_on_the_main_node_ends_the_attempt(batch, lb, mpi):
    job_id = mpi()
    lb.advance(7)
    lb.fail_host(f"{job_id}#0")
    job = describe(batch, job_id)
    assert job["status"] == "FAILED" and HOST_LOST.fullmatch(job["statusReason"])
    assert [node(batch, job_id, i)["status"] for i in range(3)] == ["FAILED"] * 3
    assert {node(batch, job_id, i)["statusReason"] for i in range(3)} == {job["statusReason"]}
    assert job["stoppedAt"] == T0 + 7_000


def test_a_lost_host_on_another_node_ends_that_node_only(batch, lb, mpi):
    job_id = mpi(retryStrategy={"attempts": 2})
    lb.advance(7)
    lb.fail_host(f"{job_id}#2")
    two = node(batch, job_id, 2)
    assert (two["status"], two["stoppedAt"], exit_codes(two)) == ("FAILED", T0 + 7_000, [None])
    assert HOST_LOST.fullmatch(two["statusReason"]) and two["attempts"][0]["statusReason"] == two["statusReason"]
    job = describe(batch, job_id)
    assert (job["status"], job["attempts"]) == ("RUNNING", [])  # no new attempt: only the main node decides
    assert [node(batch, job_id, i)["status"] for i in (0, 1)] == ["RUNNING", "RUNNING"]
    job_definition(batch)
    other = submit(batch, name="waits")
    assert status(batch, other) == "RUNNABLE"  # the lost node's vCPUs stay held until the job ends

    lb.advance(3)
    lb.complete(job_id)
    assert [move for move in moves(lb, job_id) if " mpi" in move][len(START):] == [
        "7 mpi#2 RUNNING>FAILED | " + two["statusReason"],
        f"10 mpi#0 RUNNING>SUCCEEDED | {EXITED}",
        f"10 mpi#1 RUNNING>SUCCEEDED | {EXITED}",
        f"10 mpi RUNNING>SUCCEEDED | {EXITED}",
    ]
    assert node(batch, job_id, 2)["statusReason"] == two["statusReason"]  # it keeps its own end
    assert status(batch, other) == "RUNNING"


def test_lost_hosts_name_the_instance_of_their_node(batch, lb, mpi):
    job_id = mpi()
    lb.fail_host(f"{job_id}#1")
    lb.fail_host(f"{job_id}#2")
    lb.fail_host(f"{job_id}#0")
    reasons = [node(batch, job_id, i)["statusReason"] for i in range(3)]
    assert all(HOST_LOST.fullmatch(reason) for reason in reasons)
    assert len(set(reasons)) == 3
    assert describe(batch, job_id)["statusReason"] == reasons[0]  # the main node runs on its job's instance


@contextmanager
def _nodes_start_in_2_s() -> Iterator[tuple]:
    """The 3-node job definition `mnp` on 6 vCPUs, each node STARTING for 2 s."""
    with localbatch.patch(starting_seconds=2) as lb:
        batch = boto3.client("batch", region_name="us-east-1")
        compute_environment(batch, max_vcpus=6)
        job_queue(batch)
        _multinode(batch)
        yield lb, batch


def test_a_node_lost_while_starting_never_runs():
    with _nodes_start_in_2_s() as (lb, batch):
        lb.on_job("*", duration=None)
        job_id = submit(batch, name="mpi", definition="mnp")
        lb.advance(3)  # the main node runs from 2 s; the others start until 4 s
        assert [status(batch, f"{job_id}#{i}") for i in range(3)] == ["RUNNING", "STARTING", "STARTING"]
        lb.fail_host(f"{job_id}#1")
        lb.advance(10)
        one = node(batch, job_id, 1)
        assert (one["status"], "startedAt" in one, one["attempts"][0]["stoppedAt"]) == ("FAILED", False, T0 + 3_000)
        assert [status(batch, f"{job_id}#{i}") for i in (0, 2)] == ["RUNNING", "RUNNING"]
        assert lb.timeline()[-1]["to"] == "RUNNING"  # node 2 at 4 s; nothing for node 1


def test_a_lost_host_is_retried_and_every_node_starts_again(batch, lb, mpi):
    job_id = mpi(retryStrategy={"attempts": 2})
    lb.advance(5)
    lb.complete(f"{job_id}#1", exit_code=0)
    lb.advance(5)
    lb.fail_host(f"{job_id}#0")
    reason = describe(batch, job_id)["attempts"][0]["statusReason"]
    assert HOST_LOST.fullmatch(reason)
    assert moves(lb, job_id)[len(START):] == [
        f"5 mpi#1 RUNNING>SUCCEEDED | {EXITED}",
        "10 mpi#0 RUNNING>RUNNABLE",
        "10 mpi#2 RUNNING>RUNNABLE",
        "10 mpi RUNNING>RUNNABLE",
        "10 mpi RUNNABLE>STARTING",
        "10 mpi#0 RUNNABLE>STARTING",
        "10 mpi STARTING>RUNNING",
        "10 mpi#0 STARTING>RUNNING",
        "10 mpi#1 ->STARTING",  # it had ended: it starts over as the same node
        "10 mpi#2 RUNNABLE>STARTING",
        "10 mpi#1 STARTING>RUNNING",
        "10 mpi#2 STARTING>RUNNING",
    ]
    one = node(batch, job_id, 1)
    assert (one["status"], one["createdAt"], exit_codes(one)) == ("RUNNING", T0, [0])
    pages = batch.get_paginator("list_jobs").paginate(multiNodeJobId=job_id, PaginationConfig={"PageSize": 1})
    listed = [summary["jobId"] for page in pages for summary in page["jobSummaryList"]]
    assert listed == [f"{job_id}#{i}" for i in range(3)]  # every node exactly once, in order

    lb.advance(5)
    lb.complete(f"{job_id}#0")
    assert [exit_codes(node(batch, job_id, i)) for i in range(3)] == [[None, 0], [0, 0], [None, 0]]
    job = describe(batch, job_id)
    assert (job["status"], len(job["attempts"])) == ("SUCCEEDED", 2)


def test_evaluate_on_exit_sees_the_lost_host(batch, lb, mpi):
    job_id = mpi(retryStrategy={"attempts": 3, "evaluateOnExit": [{"action": "EXIT", "onStatusReason": "Host EC2*"}]})
    lb.fail_host(job_id)  # the job id is its main node
    job = describe(batch, job_id)
    assert job["status"] == "FAILED" and len(job["attempts"]) == 1


# == explain ===============================================================================================


def test_explain_follows_the_nodes_as_they_launch():
    with _nodes_start_in_2_s() as (lb, batch):
        lb.on_job("*", duration=None)
        job_id = submit(batch, name="mpi", definition="mnp", timeout={"attemptDurationSeconds": 60})
        launch = "RUNNING at 2026-01-01T00:00:02Z; the other nodes launch once the main node is RUNNING"
        assert lb.explain(job_id) == f"STARTING on ce since 2026-01-01T00:00:00Z, attempt 1 of 1; {launch}"
        assert lb.explain(f"{job_id}#0") == (
            f"STARTING on ce since 2026-01-01T00:00:00Z, main node 0 of multi-node job {job_id}, attempt 1 of 1; "
            + launch
        )
        lb.advance(3)
        assert lb.explain(f"{job_id}#1") == (
            f"STARTING on ce since 2026-01-01T00:00:02Z, node 1 of multi-node job {job_id}, attempt 1 of 1; "
            "RUNNING at 2026-01-01T00:00:04Z"
        )
        assert lb.explain(f"{job_id}#0") == (
            f"RUNNING on ce since 2026-01-01T00:00:02Z, main node 0 of multi-node job {job_id}, attempt 1 of 1; "
            "it runs until lb.complete(); the attempt times out at 2026-01-01T00:01:02Z"
        )
        lb.advance(1)
        assert lb.explain(f"{job_id}#2").endswith(f"node 2 of multi-node job {job_id}, attempt 1 of 1; "
                                                  "ends with its main node")


def test_cancelling_a_retried_job_that_waits_ends_its_nodes_too(batch, lb, mpi):
    """A multi-node job RUNNABLE again after a lost main host has nodes RUNNABLE
    with it: CancelJob (§2.8) fails them with the job, none is left behind."""
    job_id = mpi(retryStrategy={"attempts": 2})
    batch.update_compute_environment(computeEnvironment="ce", state="DISABLED")  # nowhere to start again
    lb.advance(5)
    lb.fail_host(job_id)
    assert [status(batch, f"{job_id}#{i}") for i in range(3)] == ["RUNNABLE"] * 3
    batch.cancel_job(jobId=job_id, reason="no longer needed")
    assert status(batch, job_id) == "FAILED"
    assert [status(batch, f"{job_id}#{i}") for i in range(3)] == ["FAILED"] * 3
    assert describe(batch, f"{job_id}#1")["statusReason"] == "no longer needed"
