"""Injected capacity shortages through a real boto3 client: `lb.insufficient_capacity`
and `lb.restore_capacity` (engine/faults.py; spec §2.9 [proposed], §3.2, §3.5).

Every test runs on a frozen clock; the timelines are golden:
`<seconds after T0> <job> <from>><to> | <reason>`.
"""

from __future__ import annotations

import pytest

import localbatch
from localbatch.engine import faults
from tests.api import test_service_jobs_support as service
from tests.api.test_jobs import compute_environment, describe, job_definition, job_queue, submit
from tests.api.test_service_jobs_support import CPU, GPU, T0_MS, client, fifo_queue, frozen_lb, quota_queue, share


@pytest.fixture
def lb():
    yield from frozen_lb()


@pytest.fixture
def batch(lb):
    return client()


def short(instance_type: str) -> str:
    return (
        "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - Service cannot fulfill the capacity requested for instance "
        f"type [{instance_type}]"
    )


CANCELED = "Canceled by JobStateTimeLimit action due to reason: CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"
TERMINATED = "Terminated by JobStateTimeLimit action due to reason: CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY"
EXITED = "Essential container in task exited"


def time_limit(action: str, seconds: int = 600) -> list[dict]:
    return [{"reason": "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY", "state": "RUNNABLE", "maxTimeSeconds": seconds,
             "action": action}]


def moves(lb, names=None) -> list[str]:
    rows = []
    for row in lb.timeline():
        if names is not None and row["job_name"] not in names:
            continue
        line = f"{(row['time_ms'] - T0_MS) / 1000:g} {row['job_name']} {row['from'] or '-'}>{row['to']}"
        rows.append(line + (f" | {row['reason']}" if row["reason"] else ""))
    return rows


def container_setup(batch, ces=("ce",), **queue):
    for name in ces:
        compute_environment(batch, name=name)
    job_queue(batch, ces=ces, **queue)
    job_definition(batch)


def reason_of(batch, job_id: str) -> str | None:
    return describe(batch, job_id).get("statusReason")


# == container jobs, FIFO queues =======================================================================


def test_head_waits_for_instances_and_starts_when_restored(batch, lb):
    container_setup(batch)
    lb.insufficient_capacity("ce")
    head = submit(batch, name="head")
    lb.advance(0.001)  # created after the head: same-millisecond jobs go by jobId (spec §3.2)
    behind = submit(batch, name="behind")
    lb.advance(29.999)  # to T0 + 30 s
    job = describe(batch, head)
    assert (job["status"], job["statusReason"]) == ("RUNNABLE", short("optimal"))
    assert describe(batch, behind)["status"] == "RUNNABLE" and reason_of(batch, behind) is None  # only the head
    listed = {j["jobName"]: j for j in batch.list_jobs(jobQueue="q", jobStatus="RUNNABLE")["jobSummaryList"]}
    assert listed["head"]["statusReason"] == short("optimal")
    assert "statusReason" not in listed["behind"]

    lb.restore_capacity("ce")  # the waiting jobs start within the call
    assert moves(lb) == [
        "0 head ->SUBMITTED",
        "0 head SUBMITTED>RUNNABLE",
        "0.001 behind ->SUBMITTED",
        "0.001 behind SUBMITTED>RUNNABLE",
        "30 head RUNNABLE>STARTING",  # one pass places both, in queue order
        "30 behind RUNNABLE>STARTING",
        "30 head STARTING>RUNNING",
        "30 behind STARTING>RUNNING",
        f"30 head RUNNING>SUCCEEDED | {EXITED}",
        f"30 behind RUNNING>SUCCEEDED | {EXITED}",
    ]
    assert reason_of(batch, head) == EXITED


def test_blocked_reason_is_cleared_at_dispatch(batch, lb):
    container_setup(batch)
    lb.on_job("*", duration=None)
    lb.insufficient_capacity("ce")
    head = submit(batch, name="head")
    assert reason_of(batch, head) == short("optimal")
    lb.restore_capacity("ce")
    job = describe(batch, head)
    assert job["status"] == "RUNNING" and "statusReason" not in job
    (summary,) = batch.list_jobs(jobQueue="q", jobStatus="RUNNING")["jobSummaryList"]
    assert "statusReason" not in summary


def test_time_limit_action_cancels_the_head_then_times_the_next(batch, lb):
    container_setup(batch, jobStateTimeLimitActions=time_limit("CANCEL"))
    lb.insufficient_capacity("ce")
    head = submit(batch, name="head")
    lb.advance(0.001)  # created after the head: same-millisecond jobs go by jobId (spec §3.2)
    submit(batch, name="next")
    lb.advance(598.999)
    assert describe(batch, head)["status"] == "RUNNABLE"
    lb.advance(1)
    job = describe(batch, head)
    assert (job["status"], job["statusReason"], job["isCancelled"]) == ("FAILED", CANCELED, True)
    assert job["stoppedAt"] == T0_MS + 600_000 and "startedAt" not in job
    lb.advance(600)  # the next head's timer started when it became the head
    assert moves(lb) == [
        "0 head ->SUBMITTED",
        "0 head SUBMITTED>RUNNABLE",
        "0.001 next ->SUBMITTED",
        "0.001 next SUBMITTED>RUNNABLE",
        f"600 head RUNNABLE>FAILED | {CANCELED}",
        f"1200 next RUNNABLE>FAILED | {CANCELED}",
    ]


def test_time_limit_for_another_reason_does_not_fire(batch, lb):
    container_setup(batch, jobStateTimeLimitActions=[{
        "reason": "MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE", "state": "RUNNABLE", "maxTimeSeconds": 600,
        "action": "CANCEL"}])
    lb.insufficient_capacity("ce")
    head = submit(batch, name="head")
    lb.advance(10_000)
    assert (describe(batch, head)["status"], reason_of(batch, head)) == ("RUNNABLE", short("optimal"))


def test_restore_before_the_time_limit_stops_the_timer(batch, lb):
    container_setup(batch, jobStateTimeLimitActions=time_limit("CANCEL"))
    lb.on_job("*", duration=1000)
    lb.insufficient_capacity("ce")
    head = submit(batch, name="head")
    lb.advance(300)
    lb.restore_capacity("ce")
    lb.advance(1000)
    assert moves(lb, {"head"})[2:] == [
        "300 head RUNNABLE>STARTING",
        "300 head STARTING>RUNNING",
        f"1300 head RUNNING>SUCCEEDED | {EXITED}",
    ]
    assert describe(batch, head)["status"] == "SUCCEEDED"


def test_second_compute_environment_takes_the_job(batch, lb):
    container_setup(batch, ces=("first", "second"))
    placed = []
    lb.on_job("*", run=lambda job: placed.append(job.compute_environment.rpartition("/")[2]))
    lb.insufficient_capacity("first")
    job_id = submit(batch, name="job")
    assert describe(batch, job_id)["status"] == "SUCCEEDED"
    lb.restore_capacity("first")
    again = submit(batch, name="again")
    assert describe(batch, again)["status"] == "SUCCEEDED"
    assert placed == ["second", "first"]


def test_shortage_of_another_instance_type_changes_nothing(batch, lb):
    container_setup(batch)
    lb.insufficient_capacity("ce", ["m5.large", "c5"])
    job_id = submit(batch, name="job")
    job = describe(batch, job_id)
    assert (job["status"], job["statusReason"]) == ("SUCCEEDED", EXITED)


def test_a_job_uses_the_first_instance_type_not_short(batch, lb):
    compute_environment(batch, name="ce")
    batch.update_compute_environment(computeEnvironment="ce", computeResources={"instanceTypes": ["m5", "c5"]})
    lb.advance(0)
    job_queue(batch)
    job_definition(batch)
    lb.on_job("*", duration=None)
    lb.insufficient_capacity("ce", "m5")  # one name alone is one type
    first = submit(batch, name="first")
    assert describe(batch, first)["status"] == "RUNNING"  # on c5
    lb.insufficient_capacity("ce", ["c5"])  # adds to the shortage
    second = submit(batch, name="second")
    assert reason_of(batch, second) == short("m5")  # the first type the environment lists


def test_fargate_environment_is_short_of_fargate(batch, lb):
    compute_environment(batch, name="serverless", kind="FARGATE")
    job_queue(batch, ces=("serverless",))
    job_definition(batch, platformCapabilities=["FARGATE"], container={
        "networkConfiguration": {"assignPublicIp": "ENABLED"},
        "executionRoleArn": "arn:aws:iam::123456789012:role/exec",
        "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "2048"}],
    })
    lb.insufficient_capacity("serverless", ["FARGATE"])
    job_id = submit(batch)
    assert reason_of(batch, job_id) == short("FARGATE")


def test_head_waiting_for_vcpus_gets_the_reason_when_room_frees(batch, lb):
    compute_environment(batch, name="ce", max_vcpus=1)
    job_queue(batch, jobStateTimeLimitActions=time_limit("CANCEL"))
    job_definition(batch)
    lb.on_job("running", duration=100)
    running = submit(batch, name="running")
    waiting = submit(batch, name="waiting")
    lb.insufficient_capacity("ce")
    lb.advance(50)
    assert describe(batch, waiting)["status"] == "RUNNABLE" and reason_of(batch, waiting) is None  # no room anyway
    lb.advance(50)
    assert describe(batch, running)["status"] == "SUCCEEDED"
    assert reason_of(batch, waiting) == short("optimal")
    lb.advance(600)
    assert moves(lb, {"waiting"}) == [
        "0 waiting ->SUBMITTED",
        "0 waiting SUBMITTED>RUNNABLE",
        f"700 waiting RUNNABLE>FAILED | {CANCELED}",
    ]


def test_misconfiguration_wins_over_a_shortage(batch, lb):
    container_setup(batch)
    job_definition(batch, name="huge", vcpus="8")
    lb.insufficient_capacity("ce")
    job_id = submit(batch, name="huge", definition="huge")
    assert reason_of(batch, job_id).startswith("MISCONFIGURATION:COMPUTE_ENVIRONMENT_MAX_RESOURCE - ")


def test_explain_names_the_shortage(batch, lb):
    container_setup(batch, jobStateTimeLimitActions=time_limit("CANCEL"))
    lb.insufficient_capacity("ce")
    head = submit(batch, name="head")
    assert lb.explain(head) == (
        f"RUNNABLE: needs 1 vCPU, compute environment ce has the vCPUs but no instances to launch: {short('optimal')} "
        "(injected with lb.insufficient_capacity); the queue's jobStateTimeLimitActions cancel it at "
        "2026-04-01T09:10:00Z"
    )


# == service jobs ========================================================================================


def test_service_fifo_head_waits_and_is_terminated_by_time_limit(batch, lb):
    fifo_queue(batch, lb, jobStateTimeLimitActions=time_limit("TERMINATE"))
    lb.on_job(duration=None)
    lb.insufficient_capacity("fifo-se", [GPU])
    head = service.submit(batch, "head", "fifo")
    lb.advance(0.001)  # created after the head: same-millisecond jobs go by jobId (spec §3.2)
    service.submit(batch, "cpu", "fifo", instance_type=CPU)
    lb.advance(0.999)
    job = service.describe(batch, head)
    assert (job["status"], job["statusReason"]) == ("RUNNABLE", short(GPU))
    listed = batch.list_service_jobs(jobQueue="fifo", jobStatus="RUNNABLE")["jobSummaryList"]
    assert [(j["jobName"], j.get("statusReason")) for j in listed] == [("cpu", None), ("head", short(GPU))]
    assert short(GPU) in lb.explain(head)
    lb.advance(599)
    job = service.describe(batch, head)
    assert (job["status"], job["statusReason"], job["isTerminated"]) == ("FAILED", TERMINATED, True)
    assert service.transitions(lb) == [
        (0, "head", "RUNNABLE", None),
        (0.001, "cpu", "RUNNABLE", None),
        (600, "head", "FAILED", TERMINATED),
        (600, "cpu", "SCHEDULED", None),  # the next head needs an instance type the environment has
    ]


def test_service_fifo_restore_starts_the_head(batch, lb):
    fifo_queue(batch, lb)
    lb.on_job(duration=None)
    lb.insufficient_capacity("fifo-se")
    head = service.submit(batch, "head", "fifo")
    lb.advance(100)
    assert service.describe(batch, head)["statusReason"] == short(GPU)
    lb.restore_capacity("fifo-se")
    job = service.describe(batch, head)
    assert job["status"] == "RUNNING" and "statusReason" not in job
    assert service.transitions(lb) == [(0, "head", "RUNNABLE", None), (100, "head", "SCHEDULED", None)]


def test_quota_share_head_waits_and_restore_starts_it(batch, lb):
    quota_queue(batch, lb, limits={GPU: 2, CPU: 1})
    share(batch, lb, "gpu", "LEND_AND_BORROW", 1, borrow=100)
    share(batch, lb, "cpu", "RESERVE", 1, unit=CPU)
    lb.on_job(duration=None)
    lb.insufficient_capacity("gpus", [GPU])
    ids = {"gpu-1": service.submit(batch, "gpu-1", quotaShareName="gpu")}
    lb.advance(0.001)  # gpu-2 is created after gpu-1: same-millisecond jobs go by jobId (spec §3.5)
    ids["gpu-2"] = service.submit(batch, "gpu-2", quotaShareName="gpu")
    ids["cpu-1"] = service.submit(batch, "cpu-1", quotaShareName="cpu", instance_type=CPU)
    lb.advance(9.999)  # to T0 + 10 s
    assert service.statuses(batch, ids) == {"gpu-1": "RUNNABLE", "gpu-2": "RUNNABLE", "cpu-1": "RUNNING"}
    assert service.describe(batch, ids["gpu-1"])["statusReason"] == short(GPU)
    assert "statusReason" not in service.describe(batch, ids["gpu-2"])  # behind the head of its share
    assert "blocked at the head of its quota share: " + short(GPU) in lb.explain(ids["gpu-1"])
    lb.restore_capacity("gpus")
    assert service.statuses(batch, ids) == {"gpu-1": "RUNNING", "gpu-2": "RUNNING", "cpu-1": "RUNNING"}
    assert service.transitions(lb, kinds={"SCHEDULED"}) == [
        (0.001, "cpu-1", "SCHEDULED", None),
        (10, "gpu-1", "SCHEDULED", None),
        (10, "gpu-2", "SCHEDULED", None),  # borrowed, once the environment had instances again
    ]


def test_quota_share_time_limit_terminates_the_head(batch, lb):
    quota_queue(batch, lb, jobStateTimeLimitActions=time_limit("TERMINATE", 900))
    share(batch, lb, "qs", "RESERVE", 1)
    lb.insufficient_capacity("gpus")
    ids = {"a": service.submit(batch, "a", quotaShareName="qs")}
    lb.advance(0.001)  # b is created after a: same-millisecond jobs go by jobId (spec §3.5)
    ids["b"] = service.submit(batch, "b", quotaShareName="qs")
    lb.advance(899.999)
    assert service.transitions(lb) == [
        (0, "a", "RUNNABLE", None),
        (0.001, "b", "RUNNABLE", None),
        (900, "a", "FAILED", TERMINATED),
    ]
    assert service.describe(batch, ids["b"])["statusReason"] == short(GPU)  # the next head of the share


def test_quota_share_shortage_preempts_nothing(batch, lb):
    quota_queue(batch, lb, limits={GPU: 1})
    share(batch, lb, "lender", "LEND", 1)
    share(batch, lb, "borrower", "LEND_AND_BORROW", 0, borrow=-1)
    lb.on_job(duration=None)
    borrowed = service.submit(batch, "borrowed", quotaShareName="borrower")
    lb.advance(1)
    assert service.describe(batch, borrowed)["status"] == "RUNNING"
    lb.insufficient_capacity("gpus")
    owner = service.submit(batch, "owner", quotaShareName="lender")
    lb.advance(1)
    # Reclaiming would preempt the borrower for a job that still could not start.
    assert service.describe(batch, borrowed)["status"] == "RUNNING"
    assert service.describe(batch, owner)["statusReason"] == short(GPU)
    lb.restore_capacity("gpus")
    assert service.transitions(lb, kinds={"SCHEDULED", "RUNNABLE"}) == [
        (0, "borrowed", "RUNNABLE", None),
        (0, "borrowed", "SCHEDULED", None),
        (1, "owner", "RUNNABLE", None),
        (2, "borrowed", "RUNNABLE", "Preempted to reclaim capacity lent to quota share lender"),
        (2, "owner", "SCHEDULED", None),
    ]


# == the controller API ====================================================================================


def test_unknown_environment_is_refused(batch, lb):
    container_setup(batch)
    with pytest.raises(localbatch.LocalBatchError, match="no compute environment or service environment 'nope'"):
        lb.insufficient_capacity("nope")
    with pytest.raises(localbatch.LocalBatchError, match="restore_capacity: no compute environment"):
        lb.restore_capacity("nope")
    with pytest.raises(localbatch.LocalBatchError, match="in region eu-west-1"):
        lb.insufficient_capacity("ce", region="eu-west-1")  # environments belong to one region
    assert lb.backend().shortages == {}


@pytest.mark.parametrize("types", [[], [1], [""], 5])
def test_instance_types_must_be_names(batch, lb, types):
    container_setup(batch)
    with pytest.raises(localbatch.LocalBatchError, match="instance_types must be instance type names"):
        lb.insufficient_capacity("ce", types)
    assert lb.backend().shortages == {}


def test_environment_by_arn_and_declarations_add_up(batch, lb):
    arn = compute_environment(batch, name="ce")
    lb.insufficient_capacity(arn, ["a"])
    lb.insufficient_capacity("ce", ["b"])
    assert lb.backend().shortages == {arn: frozenset({"a", "b"})}
    lb.insufficient_capacity("ce")
    lb.insufficient_capacity("ce", ["c"])
    assert lb.backend().shortages == {arn: None}  # every type stays every type
    lb.restore_capacity(arn)
    lb.restore_capacity(arn)  # not short: nothing to do
    assert lb.backend().shortages == {}


def test_state_rolls_back_when_the_call_fails(batch, lb, monkeypatch):
    container_setup(batch)
    lb.on_job("*", duration=None)

    def broken(backend):
        raise RuntimeError("boom")

    monkeypatch.setattr(faults, "_reschedule", broken)
    with pytest.raises(RuntimeError, match="boom"):
        lb.insufficient_capacity("ce")
    assert lb.backend().shortages == {}
    monkeypatch.undo()
    lb.insufficient_capacity("ce")
    monkeypatch.setattr(faults, "_reschedule", broken)
    with pytest.raises(RuntimeError, match="boom"):
        lb.restore_capacity("ce")
    monkeypatch.undo()
    job_id = submit(batch, name="job")
    assert reason_of(batch, job_id) == short("optimal")  # still short


# == container jobs, fair-share queues =================================================================


def test_fair_share_head_waits_with_the_reason_and_is_cancelled_on_time(batch, lb):
    """The fair-share scheduler places through the same path: the share's
    candidate waits with the CAPACITY reason, and CANCEL fires on time."""
    from tests.api import test_fair_share as fair

    fair.fair_queue(batch)
    batch.update_job_queue(jobQueue="q", jobStateTimeLimitActions=time_limit("CANCEL"))
    lb.advance(0)
    lb.insufficient_capacity("ce")
    head = fair.submit(batch, "a1")
    lb.advance(30)
    assert (describe(batch, head)["status"], reason_of(batch, head)) == ("RUNNABLE", short("optimal"))
    lb.advance(600)
    job = describe(batch, head)
    assert (job["status"], job["statusReason"]) == ("FAILED", CANCELED)
    lb.restore_capacity("ce")
    after = fair.submit(batch, "b1")
    assert describe(batch, after)["status"] in ("STARTING", "RUNNING", "SUCCEEDED")
