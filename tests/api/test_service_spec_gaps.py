"""Rules of spec §3.5, §4, §5 (and §2.9 for service queues, §7 service rows) that
no other test file checked: found by the audit in /work/notes/audit-issue4.md.

Scheduling tests are golden timelines: (seconds after T0, job, new status,
reason) as `lb.timeline()` records them.
"""

from __future__ import annotations

import json

import pytest
import time_machine

import localbatch
from tests.api.test_jobs import eks_compute_environment
from tests.api.test_service_jobs_support import (
    CPU,
    GPU,
    QUEUE_ARN,
    T0,
    T0_MS,
    client,
    describe,
    fargate_queue,
    fifo_queue,
    frozen_lb,
    payload,
    quota_queue,
    share,
    statuses,
    submit,
    transitions,
)
from tests.helpers import client_error


@pytest.fixture
def lb():
    yield from frozen_lb()


@pytest.fixture
def batch(lb):
    return client()


RECLAIM = "Preempted to reclaim capacity lent to quota share {}"
IN_SHARE = "Preempted by higher priority job {} in quota share {}"
SE_MAX = (
    "MISCONFIGURATION:SERVICE_ENVIRONMENT_MAX_RESOURCE - Service environment(s) associated with the job queue "
    "cannot meet the capacity requirement of the job."
)


def moves(lb, names: set[str] | None = None) -> list[tuple]:
    """Dispatches, preemptions and ends: what a golden timeline of a quota queue is about."""
    return [
        row for row in transitions(lb, names, kinds={"SCHEDULED", "RUNNABLE", "SUCCEEDED", "FAILED"})
        if row[2] != "RUNNABLE" or row[3] is not None
    ]


# == §3.5 documented facts ====================================================================


def test_jobs_of_a_share_run_by_priority_then_submission_order(batch, lb):
    quota_queue(batch, lb, {GPU: 1})
    share(batch, lb, "A", "RESERVE")
    lb.on_job(duration=10)
    for name, priority in (("first", 0), ("p0-early", 0), ("p1-early", 1), ("p1-late", 1), ("p0-late", 0)):
        submit(batch, name, quotaShareName="A", schedulingPriority=priority)
        lb.advance(0.001)  # "early" is created before "late": same-millisecond jobs would go by jobId
    lb.advance(60)
    assert [row for row in moves(lb) if row[2] == "SCHEDULED"] == [
        (0.0, "first", "SCHEDULED", None),
        (10.0, "p1-early", "SCHEDULED", None),  # priority first
        (20.0, "p1-late", "SCHEDULED", None),
        (30.0, "p0-early", "SCHEDULED", None),  # then submission order
        (40.0, "p0-late", "SCHEDULED", None),
    ]


def test_lend_and_borrow_share_lends_its_idle_capacity(batch, lb):
    quota_queue(batch, lb, {GPU: 2})
    share(batch, lb, "A", "LEND_AND_BORROW")
    share(batch, lb, "B", "LEND_AND_BORROW")
    lb.on_job(duration=None)
    submit(batch, "b1", quotaShareName="B")
    submit(batch, "b2", quotaShareName="B")  # borrows A's idle slot
    lb.advance(5)
    submit(batch, "a1", quotaShareName="A")  # A takes it back
    lb.advance(1)
    assert moves(lb) == [
        (0.0, "b1", "SCHEDULED", None),
        (0.0, "b2", "SCHEDULED", None),
        (5.0, "b2", "RUNNABLE", RECLAIM.format("A")),
        (5.0, "a1", "SCHEDULED", None),
    ]


def test_a_share_never_uses_free_environment_capacity_on_its_own_quota(batch, lb):
    """RESERVE and LEND shares never borrow, not even capacity no share holds."""
    quota_queue(batch, lb, {GPU: 4})
    share(batch, lb, "R", "RESERVE")
    share(batch, lb, "L", "LEND")
    lb.on_job(duration=None)
    ids = {n: submit(batch, n, quotaShareName=n[0].upper()) for n in ("r1", "r2", "l1", "l2")}
    lb.advance(10)
    assert statuses(batch, ids) == {"r1": "RUNNING", "r2": "RUNNABLE", "l1": "RUNNING", "l2": "RUNNABLE"}


def test_scheduled_and_starting_jobs_hold_capacity_and_can_be_preempted():
    """Capacity is held from SCHEDULED (§3.5 units, §4.3, §5 'dispatched'); AWS
    preempts SCHEDULED and STARTING jobs as well as RUNNING ones (§3.5)."""
    with time_machine.travel(T0, tick=False), localbatch.patch(
        service_scheduled_seconds=5, service_starting_seconds=10
    ) as lb:
        batch = client()
        quota_queue(batch, lb, {GPU: 2})
        share(batch, lb, "A", "LEND_AND_BORROW", in_share=True)
        share(batch, lb, "B", "LEND")
        lb.on_job(duration=None)
        ids = {n: submit(batch, n, quotaShareName="A") for n in ("a1", "a2", "a3")}
        lb.advance(1)
        assert statuses(batch, ids) == {"a1": "SCHEDULED", "a2": "SCHEDULED", "a3": "RUNNABLE"}
        usage = batch.get_job_queue_snapshot(jobQueue="training")["queueUtilization"]["totalCapacityUsage"]
        assert usage == [{"capacityUnit": GPU, "quantity": 2.0}]
        lb.advance(1)
        ids["b1"] = submit(batch, "b1", quotaShareName="B")  # a2 is still SCHEDULED
        lb.advance(4)
        ids["boss"] = submit(batch, "boss", quotaShareName="A", schedulingPriority=9)  # a1 is STARTING
        lb.advance(1)
        rows = [(r["time_ms"] - T0_MS, r["job_name"], r["from"], r["to"], r["reason"]) for r in lb.timeline()
                if r["reason"] and r["reason"].startswith("Preempted")]
        assert rows == [
            (2000, "a2", "SCHEDULED", "RUNNABLE", RECLAIM.format("B")),
            (6000, "a1", "STARTING", "RUNNABLE", IN_SHARE.format(ids["boss"], "A")),
        ]
        assert statuses(batch, ids) == {"a1": "RUNNABLE", "a2": "RUNNABLE", "a3": "RUNNABLE", "b1": "STARTING",
                                        "boss": "SCHEDULED"}
        b1 = describe(batch, ids["b1"])
        assert b1["scheduledAt"] == T0_MS + 2000 and "startedAt" not in b1  # startedAt comes with RUNNING


# == §3.5 [proposed] attribution and victims ======================================================


def test_owned_capacity_goes_to_the_highest_priority_so_the_older_low_priority_job_is_the_borrower(batch, lb):
    quota_queue(batch, lb, {GPU: 2})
    share(batch, lb, "A", "LEND_AND_BORROW")
    share(batch, lb, "B", "LEND")
    lb.on_job(duration=None)
    submit(batch, "a-low", quotaShareName="A", schedulingPriority=1)
    lb.advance(1)
    submit(batch, "a-high", quotaShareName="A", schedulingPriority=5)  # now a-high owns A's slot
    lb.advance(1)
    submit(batch, "b1", quotaShareName="B")
    lb.advance(1)
    assert moves(lb) == [
        (0.0, "a-low", "SCHEDULED", None),
        (1.0, "a-high", "SCHEDULED", None),
        (2.0, "a-low", "RUNNABLE", RECLAIM.format("B")),
        (2.0, "b1", "SCHEDULED", None),
    ]


def test_borrowed_units_are_lent_by_the_share_with_the_most_idle_capacity(batch, lb):
    quota_queue(batch, lb, {GPU: 4})
    share(batch, lb, "A", "LEND_AND_BORROW", limit=1)
    share(batch, lb, "B", "LEND", limit=1)
    share(batch, lb, "C", "LEND", limit=2)
    lb.on_job(duration=None)
    submit(batch, "a-own", quotaShareName="A")
    lb.advance(1)
    submit(batch, "a-borrow", quotaShareName="A")  # C has 2 idle, B 1: C lends
    lb.advance(1)
    submit(batch, "b1", quotaShareName="B")  # B's slot is idle: nobody is preempted
    lb.advance(1)
    submit(batch, "c1", quotaShareName="C")  # C's other slot is idle
    submit(batch, "c2", quotaShareName="C")  # C reclaims what it lent
    lb.advance(1)
    assert moves(lb) == [
        (0.0, "a-own", "SCHEDULED", None),
        (1.0, "a-borrow", "SCHEDULED", None),
        (2.0, "b1", "SCHEDULED", None),
        (3.0, "c1", "SCHEDULED", None),
        (3.0, "a-borrow", "RUNNABLE", RECLAIM.format("C")),
        (3.0, "c2", "SCHEDULED", None),
    ]


def test_victims_tie_on_priority_and_time_then_the_larger_job_goes(batch, lb):
    quota_queue(batch, lb, {GPU: 4})
    share(batch, lb, "A", "LEND_AND_BORROW", limit=1)
    share(batch, lb, "B", "LEND", limit=3)
    lb.on_job(duration=None)
    submit(batch, "a-own", quotaShareName="A")
    lb.advance(1)
    submit(batch, "one", quotaShareName="A", count=1)
    submit(batch, "two", quotaShareName="A", count=2)  # both scheduled at 1 s
    lb.advance(1)
    submit(batch, "b1", quotaShareName="B")
    lb.advance(1)
    assert moves(lb) == [
        (0.0, "a-own", "SCHEDULED", None),
        (1.0, "one", "SCHEDULED", None),
        (1.0, "two", "SCHEDULED", None),
        (2.0, "two", "RUNNABLE", RECLAIM.format("B")),  # larger n first
        (2.0, "b1", "SCHEDULED", None),
    ]


def test_victims_tie_on_everything_then_the_smaller_job_id_goes(batch, lb):
    quota_queue(batch, lb, {GPU: 3})
    share(batch, lb, "A", "LEND_AND_BORROW", limit=1)
    share(batch, lb, "B", "LEND", limit=2)
    lb.on_job(duration=None)
    submit(batch, "a-own", quotaShareName="A")
    lb.advance(1)
    ids = {n: submit(batch, n, quotaShareName="A") for n in ("x", "y")}
    lb.advance(1)
    submit(batch, "b1", quotaShareName="B")
    lb.advance(1)
    victim = min(ids, key=ids.get)
    assert statuses(batch, ids) == {n: "RUNNABLE" if n == victim else "RUNNING" for n in ids}
    assert describe(batch, ids[victim])["statusReason"] == RECLAIM.format("B")


def test_a_lowered_priority_makes_a_running_job_the_likelier_victim(batch, lb):
    quota_queue(batch, lb, {GPU: 3})
    share(batch, lb, "A", "LEND_AND_BORROW", limit=1)
    share(batch, lb, "B", "LEND", limit=2)
    lb.on_job(duration=None)
    ids = {}
    for name in ("a1", "a2", "a3"):
        ids[name] = submit(batch, name, quotaShareName="A", schedulingPriority=5)
        lb.advance(1)
    batch.update_service_job(jobId=ids["a2"], schedulingPriority=1)  # a3 would have gone (most recent)
    lb.advance(1)
    submit(batch, "b1", quotaShareName="B")
    lb.advance(1)
    assert moves(lb) == [
        (0.0, "a1", "SCHEDULED", None),
        (1.0, "a2", "SCHEDULED", None),
        (2.0, "a3", "SCHEDULED", None),
        (4.0, "a2", "RUNNABLE", RECLAIM.format("B")),
        (4.0, "b1", "SCHEDULED", None),
    ]


def test_an_over_subscribed_environment_preempts_a_borrower_for_an_owner(batch, lb):
    """A's 2 + B's 1 > the environment's 2: A's own job needs a unit B borrows
    from A but A's quota alone still has room; the environment is full."""
    quota_queue(batch, lb, {GPU: 2})
    share(batch, lb, "A", "LEND", limit=2)
    share(batch, lb, "B", "LEND_AND_BORROW", limit=1)
    lb.on_job(duration=None)
    submit(batch, "b-own", quotaShareName="B")
    submit(batch, "b-borrow", quotaShareName="B")
    lb.advance(1)
    submit(batch, "a1", quotaShareName="A")
    lb.advance(1)
    assert moves(lb) == [
        (0.0, "b-own", "SCHEDULED", None),
        (0.0, "b-borrow", "SCHEDULED", None),
        (1.0, "b-borrow", "RUNNABLE", RECLAIM.format("A")),
        (1.0, "a1", "SCHEDULED", None),
    ]


def test_a_share_stops_at_its_first_job_that_does_not_fit_its_own_quota(batch, lb):
    quota_queue(batch, lb, {GPU: 3})
    share(batch, lb, "A", "RESERVE", limit=2)
    lb.on_job(duration=None)
    # A millisecond apart, so the share holds them in submission order (same-millisecond jobs go by jobId).
    ids = {"run": submit(batch, "run", quotaShareName="A")}
    lb.advance(0.001)
    ids["big"] = submit(batch, "big", quotaShareName="A", count=2)  # fits A, not now
    lb.advance(0.001)
    ids["small"] = submit(batch, "small", quotaShareName="A")  # would fit now: no back-filling
    lb.advance(10)
    assert statuses(batch, ids) == {"run": "RUNNING", "big": "RUNNABLE", "small": "RUNNABLE"}
    assert "statusReason" not in describe(batch, ids["big"])  # it can fit: no MISCONFIGURATION reason
    lb.complete(ids["run"])
    lb.advance(1)
    assert statuses(batch, ids) == {"run": "SUCCEEDED", "big": "RUNNING", "small": "RUNNABLE"}


def test_in_share_preemption_takes_the_minimal_set_lowest_priority_then_most_recent(batch, lb):
    quota_queue(batch, lb, {GPU: 3})
    share(batch, lb, "A", "RESERVE", limit=3, in_share=True)
    lb.on_job(duration=None)
    ids = {}
    for name, priority in (("old-p1", 1), ("mid-p0", 0), ("new-p1", 1)):
        ids[name] = submit(batch, name, quotaShareName="A", schedulingPriority=priority)
        lb.advance(1)
    ids["boss"] = submit(batch, "boss", quotaShareName="A", schedulingPriority=5)
    lb.advance(1)
    ids["boss2"] = submit(batch, "boss2", quotaShareName="A", schedulingPriority=5)
    lb.advance(1)
    # Needs 2: only old-p1 (1 instance) is below it besides the bosses, so nothing is preempted.
    ids["boss3"] = submit(batch, "boss3", quotaShareName="A", schedulingPriority=5, count=2)
    lb.advance(1)
    assert moves(lb) == [
        (0.0, "old-p1", "SCHEDULED", None),
        (1.0, "mid-p0", "SCHEDULED", None),
        (2.0, "new-p1", "SCHEDULED", None),
        (3.0, "mid-p0", "RUNNABLE", IN_SHARE.format(ids["boss"], "A")),  # lowest priority
        (3.0, "boss", "SCHEDULED", None),
        (4.0, "new-p1", "RUNNABLE", IN_SHARE.format(ids["boss2"], "A")),  # most recently scheduled of p1
        (4.0, "boss2", "SCHEDULED", None),
    ]
    assert describe(batch, ids["old-p1"])["status"] == "RUNNING"


def test_phase_a_serves_shares_in_creation_order(batch, lb):
    """Over-subscribed environment (1 instance, two shares of 1): when both heads
    could take it, the share created first gets it, whoever submitted first."""
    quota_queue(batch, lb, {GPU: 1})
    share(batch, lb, "first", "RESERVE")
    share(batch, lb, "second", "RESERVE")
    batch.update_service_environment(serviceEnvironment="gpus", state="DISABLED")
    lb.advance(0)
    lb.on_job(duration=10)
    submit(batch, "s1", quotaShareName="second")
    submit(batch, "f1", quotaShareName="first")
    lb.advance(1)
    batch.update_service_environment(serviceEnvironment="gpus", state="ENABLED")
    lb.advance(30)
    assert [row for row in moves(lb) if row[2] == "SCHEDULED"] == [
        (1.0, "f1", "SCHEDULED", None),
        (11.0, "s1", "SCHEDULED", None),
    ]


def test_borrowing_goes_first_to_the_head_that_has_been_runnable_longest(batch, lb):
    """Phase B sorts heads by when they became RUNNABLE, not by creation: a job
    preempted at 2 s queues behind a job of another share waiting since 1 s."""
    quota_queue(batch, lb, {GPU: 3})
    share(batch, lb, "A", "LEND_AND_BORROW")
    share(batch, lb, "L", "LEND")
    share(batch, lb, "B", "LEND_AND_BORROW")
    lb.on_job(duration=None)
    submit(batch, "a-own", quotaShareName="A")
    submit(batch, "a-borrow", quotaShareName="A")  # created at 0 s, borrows L's slot (L created before B)
    lb.advance(1)
    submit(batch, "b-own", quotaShareName="B")
    submit(batch, "b-wait", quotaShareName="B")  # RUNNABLE from 1 s: nothing to borrow
    lb.advance(1)
    l1 = submit(batch, "l1", quotaShareName="L")  # L takes its slot back: a-borrow RUNNABLE from 2 s
    lb.advance(1)
    lb.complete(l1)
    lb.advance(1)
    assert moves(lb) == [
        (0.0, "a-own", "SCHEDULED", None),
        (0.0, "a-borrow", "SCHEDULED", None),
        (1.0, "b-own", "SCHEDULED", None),
        (2.0, "a-borrow", "RUNNABLE", RECLAIM.format("L")),
        (2.0, "l1", "SCHEDULED", None),
        (3.0, "l1", "SUCCEEDED", "Received status from SageMaker: Training job completed"),
        (3.0, "b-wait", "SCHEDULED", None),
    ]


def test_a_head_that_can_borrow_borrows_instead_of_preempting_in_its_share(batch, lb):
    """Phase B (borrowing) comes before Phase C (in-share preemption)."""
    quota_queue(batch, lb, {GPU: 2})
    share(batch, lb, "A", "LEND_AND_BORROW", in_share=True)
    share(batch, lb, "L", "LEND")
    lb.on_job(duration=None)
    submit(batch, "a-low", quotaShareName="A", schedulingPriority=1)
    lb.advance(1)
    submit(batch, "a-high", quotaShareName="A", schedulingPriority=9)
    lb.advance(1)
    assert moves(lb) == [
        (0.0, "a-low", "SCHEDULED", None),
        (1.0, "a-high", "SCHEDULED", None),  # borrows L's idle slot; a-low keeps running
    ]


# == §3.5 [proposed] preemption effects ==================================================================


def test_a_preempted_attempt_is_recorded_with_its_times_and_reason(batch, lb):
    quota_queue(batch, lb, {GPU: 1})
    share(batch, lb, "A", "RESERVE", in_share=True)
    lb.on_job(duration=None)
    victim = submit(batch, "victim", quotaShareName="A")
    lb.advance(30)
    boss = submit(batch, "boss", quotaShareName="A", schedulingPriority=1)
    lb.advance(1)
    job = describe(batch, victim)
    reason = IN_SHARE.format(boss, "A")
    (attempt,) = job["attempts"]
    assert attempt == {"serviceResourceId": attempt["serviceResourceId"], "startedAt": T0_MS,
                       "stoppedAt": T0_MS + 30_000, "statusReason": reason}
    assert job["preemptionSummary"] == {"preemptedAttemptCount": 1, "recentPreemptedAttempts": [attempt]}
    assert (job["status"], job["statusReason"]) == ("RUNNABLE", reason)


def test_preemptions_do_not_consume_retry_attempts(batch, lb):
    quota_queue(batch, lb, {GPU: 1})
    share(batch, lb, "A", "RESERVE", in_share=True)
    lb.on_job(duration=None)
    victim = submit(batch, "victim", quotaShareName="A", retryStrategy={"attempts": 2})
    lb.advance(1)
    for i in range(2):
        boss = submit(batch, f"boss{i}", quotaShareName="A", schedulingPriority=1)
        lb.advance(1)
        batch.terminate_service_job(jobId=boss, reason="make room")
        lb.advance(1)
    lb.complete(victim, exit_code=1, reason="AlgorithmError: first failure")
    assert describe(batch, victim)["status"] == "RUNNING"  # its one retry is left
    lb.complete(victim, exit_code=1, reason="AlgorithmError: second failure")
    job = describe(batch, victim)
    assert (job["status"], len(job["attempts"])) == ("FAILED", 4)  # 2 preempted + 2 failed


def test_a_preempted_job_keeps_its_place_in_its_share(batch, lb):
    quota_queue(batch, lb, {GPU: 1})
    share(batch, lb, "A", "RESERVE", in_share=True)
    lb.on_job(duration=None)
    submit(batch, "victim", quotaShareName="A")
    lb.advance(1)
    submit(batch, "waiter", quotaShareName="A")
    lb.advance(1)
    boss = submit(batch, "boss", quotaShareName="A", schedulingPriority=1)
    lb.advance(1)
    batch.terminate_service_job(jobId=boss, reason="done")
    lb.advance(1)
    assert moves(lb, {"victim", "waiter"}) == [
        (0.0, "victim", "SCHEDULED", None),
        (2.0, "victim", "RUNNABLE", IN_SHARE.format(boss, "A")),
        (3.0, "victim", "SCHEDULED", None),  # ahead of waiter, submitted after it
    ]


def test_zero_preemption_retries_fails_with_the_exhaustion_reason(batch, lb):
    quota_queue(batch, lb, {GPU: 1})
    share(batch, lb, "A", "RESERVE", in_share=True)
    lb.on_job(duration=None)
    victim = submit(batch, "victim", quotaShareName="A",
                    preemptionConfiguration={"preemptionRetriesBeforeTermination": 0})
    lb.advance(1)
    submit(batch, "boss", quotaShareName="A", schedulingPriority=1)
    lb.advance(1)
    job = describe(batch, victim)
    assert (job["status"], job["statusReason"]) == (
        "FAILED", "Terminated after exceeding preemptionRetriesBeforeTermination")
    assert job["preemptionSummary"]["preemptedAttemptCount"] == 1


# == §3.5 never fits, FIFO / fair-share service queues ======================================================


def test_unit_not_configured_in_the_environment_is_a_service_environment_misconfiguration(batch, lb):
    quota_queue(batch, lb, {GPU: 2})
    share(batch, lb, "A", "RESERVE", limit=2)
    job = submit(batch, "cpu-job", quotaShareName="A", instance_type=CPU)
    lb.advance(1)
    out = describe(batch, job)
    assert (out["status"], out["statusReason"]) == ("RUNNABLE", SE_MAX)


def test_fair_share_service_queue_orders_by_instance_usage_and_never_preempts(batch, lb):
    policy = batch.create_scheduling_policy(name="fair")["arn"]
    fifo_queue(batch, lb, name="fair", max_instances=2, schedulingPolicyArn=policy)
    batch.update_service_environment(serviceEnvironment="fair-se", state="DISABLED")
    lb.advance(0)
    lb.on_job(duration=None)
    ids = {}
    for n in ("a1", "a2", "a3", "b1", "b2"):
        ids[n] = submit(batch, n, "fair", shareIdentifier=n[0])
        lb.advance(0.001)  # a millisecond apart: same-millisecond jobs would go by jobId (spec §3.3 step 3)
    batch.update_service_environment(serviceEnvironment="fair-se", state="ENABLED")  # at T0 + 5 ms
    lb.advance(10)
    ids["b-urgent"] = submit(batch, "b-urgent", "fair", shareIdentifier="b", schedulingPriority=9)
    lb.advance(1)
    lb.complete(ids["a1"])  # a used 1 instance for 11 s, b as much and still holds one: a goes
    lb.advance(1)
    lb.complete(ids["b1"])  # b's best job is b-urgent
    lb.advance(1)
    assert moves(lb) == [
        (0.005, "a1", "SCHEDULED", None),
        (0.005, "b1", "SCHEDULED", None),  # not a2: share b has used nothing
        (11.005, "a1", "SUCCEEDED", "Received status from SageMaker: Training job completed"),
        (11.005, "a2", "SCHEDULED", None),
        (12.005, "b1", "SUCCEEDED", "Received status from SageMaker: Training job completed"),
        (12.005, "b-urgent", "SCHEDULED", None),
    ]


def test_fifo_service_queue_never_preempts(batch, lb):
    fifo_queue(batch, lb, max_instances=1)
    lb.on_job(duration=None)
    ids = {"low": submit(batch, "low", "fifo", schedulingPriority=0)}
    lb.advance(1)
    ids["high"] = submit(batch, "high", "fifo", schedulingPriority=9999)
    lb.advance(3600)
    assert statuses(batch, ids) == {"low": "RUNNING", "high": "RUNNABLE"}


def test_a_retried_service_job_keeps_its_place_in_a_fifo_queue(batch, lb):
    """§3.5: FIFO service queues order as §3.2, where a job back in RUNNABLE keeps its position."""
    fifo_queue(batch, lb, max_instances=1)
    lb.on_job(duration=None)
    first = submit(batch, "first", "fifo", retryStrategy={"attempts": 2})
    lb.advance(1)
    submit(batch, "second", "fifo")
    lb.advance(1)
    lb.complete(first, exit_code=1, reason="AlgorithmError: flaky")
    lb.advance(1)
    assert moves(lb) == [
        (0.0, "first", "SCHEDULED", None),
        (2.0, "first", "SCHEDULED", None),  # retried ahead of second
    ]


def test_a_job_of_several_instance_types_needs_each_of_them_in_its_share(batch, lb):
    """§4.2 InstanceGroups: one unit per type; §3.5: a job needs n of every unit it uses."""
    quota_queue(batch, lb, {GPU: 2, CPU: 2})
    batch.create_quota_share(quotaShareName="A", jobQueue="training", capacityLimits=[
        {"maxCapacity": 1, "capacityUnit": GPU}, {"maxCapacity": 2, "capacityUnit": CPU}],
        resourceSharingConfiguration={"strategy": "RESERVE"}, preemptionConfiguration={"inSharePreemption": "DISABLED"})
    lb.advance(0)
    lb.on_job(duration=None)
    body = json.loads(payload("mixed"))
    body["ResourceConfig"] = {"InstanceGroups": [
        {"InstanceGroupName": "gpu", "InstanceType": GPU, "InstanceCount": 1},
        {"InstanceGroupName": "cpu", "InstanceType": CPU, "InstanceCount": 1}], "VolumeSizeInGB": 30}
    ids = {}
    for n in ("m1", "m2"):  # a millisecond apart: the share holds them in submission order (ties go by jobId)
        ids[n] = submit(batch, n, quotaShareName="A", serviceRequestPayload=json.dumps(body))
        lb.advance(0.001)
    ids["cpu"] = submit(batch, "cpu", quotaShareName="A", instance_type=CPU)
    lb.advance(1)
    # m2 has the CPU instance it needs but not the GPU one; it heads the share, so cpu waits too.
    assert statuses(batch, ids) == {"m1": "RUNNING", "m2": "RUNNABLE", "cpu": "RUNNABLE"}
    usage = batch.get_job_queue_snapshot(jobQueue=QUEUE_ARN)["queueUtilization"]["totalCapacityUsage"]
    assert usage == [{"capacityUnit": GPU, "quantity": 1.0}, {"capacityUnit": CPU, "quantity": 1.0}]
    lb.complete(ids["m1"])
    lb.advance(1)
    assert statuses(batch, ids) == {"m1": "SUCCEEDED", "m2": "RUNNING", "cpu": "RUNNING"}


# == §3.2, §3.3 step 3, §3.5 [proposed]: jobs created in the same millisecond go by jobId ======================


def held_behind(batch, lb, environment: str) -> None:
    """Disable `environment`: jobs submitted from now wait RUNNABLE together (see `let_go`)."""
    batch.update_service_environment(serviceEnvironment=environment, state="DISABLED")
    lb.advance(0)


def let_go(batch, lb, environment: str) -> None:
    """Enable `environment` again: the first pass sees every job submitted since `held_behind`."""
    lb.advance(0)
    batch.update_service_environment(serviceEnvironment=environment, state="ENABLED")
    lb.advance(0)


def scheduled_ids(lb) -> list[str]:
    """Job ids in the order they were SCHEDULED (dispatched)."""
    return [row["job_id"] for row in lb.timeline() if row["to"] == "SCHEDULED"]


def front_ids(snapshot: dict) -> list[str]:
    return [entry["jobArn"].rpartition("/")[2] for entry in snapshot["frontOfQueue"]["jobs"]]


def test_fifo_service_queue_ties_go_by_job_id(batch, lb):
    fifo_queue(batch, lb, max_instances=1)
    lb.on_job(duration=10)
    held_behind(batch, lb, "fifo-se")
    ids = [submit(batch, f"j{i}", "fifo") for i in range(6)]  # all created at T0 (frozen clock)
    assert front_ids(batch.get_job_queue_snapshot(jobQueue="fifo")) == sorted(ids)  # the order they will start
    let_go(batch, lb, "fifo-se")
    lb.advance(60)
    assert scheduled_ids(lb) == sorted(ids)


def test_quota_share_ties_go_by_job_id_after_priority(batch, lb):
    quota_queue(batch, lb, {GPU: 1})
    share(batch, lb, "A", "RESERVE")
    lb.on_job(duration=10)
    held_behind(batch, lb, "gpus")
    same = [submit(batch, f"p0-{i}", quotaShareName="A") for i in range(4)]
    urgent = submit(batch, "p1", quotaShareName="A", schedulingPriority=1)
    snapshot = batch.get_job_queue_snapshot(jobQueue="training")
    assert front_ids(snapshot) == [urgent, *sorted(same)]
    assert [e["jobArn"].rpartition("/")[2] for e in snapshot["frontOfQuotaShares"]["quotaShares"]["A"]] == [urgent]
    let_go(batch, lb, "gpus")
    lb.advance(60)
    # Spec §3.5 Phase A: priority desc, createdAt asc (all at T0 here), then jobId.
    assert scheduled_ids(lb) == [urgent, *sorted(same)]


def test_fair_share_service_queue_ties_within_a_share_go_by_job_id(batch, lb):
    policy = batch.create_scheduling_policy(name="fair")["arn"]
    fifo_queue(batch, lb, name="fair", max_instances=1, schedulingPolicyArn=policy)
    lb.on_job(duration=10)
    held_behind(batch, lb, "fair-se")
    same = [submit(batch, f"a{i}", "fair", shareIdentifier="a") for i in range(4)]
    urgent = submit(batch, "a-urgent", "fair", shareIdentifier="a", schedulingPriority=3)
    assert front_ids(batch.get_job_queue_snapshot(jobQueue="fair")) == [urgent, *sorted(same)]
    let_go(batch, lb, "fair-se")
    lb.advance(60)
    # Spec §3.3 step 3: schedulingPriority desc, createdAt asc (all at T0 here), then jobId.
    assert scheduled_ids(lb) == [urgent, *sorted(same)]


# == §2.9 for service queues ==================================================================================


def test_time_limit_timer_restarts_when_the_job_is_head_again(batch, lb):
    quota_queue(batch, lb, jobStateTimeLimitActions=[{
        "reason": "MISCONFIGURATION:QUOTA_MANAGEMENT_LIMIT_EXCEEDED", "state": "RUNNABLE", "maxTimeSeconds": 600,
        "action": "TERMINATE"}])
    share(batch, lb, "A", "RESERVE", limit=1)
    big = submit(batch, "big", quotaShareName="A", count=2)
    lb.advance(100)
    bigger = submit(batch, "bigger", quotaShareName="A", count=2, schedulingPriority=9)  # the new head
    lb.advance(100)
    batch.terminate_service_job(jobId=bigger, reason="not this one")  # big is head again at 200 s
    lb.advance(599)
    assert describe(batch, big)["status"] == "RUNNABLE"
    lb.advance(1)
    assert moves(lb, {"big"}) == [
        (800.0, "big", "FAILED",
         "Terminated by JobStateTimeLimit action due to reason: MISCONFIGURATION:QUOTA_MANAGEMENT_LIMIT_EXCEEDED"),
    ]


def test_time_limit_timer_restarts_when_the_blocked_reason_changes(batch, lb):
    actions = [{"reason": reason, "state": "RUNNABLE", "maxTimeSeconds": 600, "action": "TERMINATE"} for reason in (
        "MISCONFIGURATION:QUOTA_MANAGEMENT_LIMIT_EXCEEDED", "MISCONFIGURATION:SERVICE_ENVIRONMENT_MAX_RESOURCE")]
    quota_queue(batch, lb, {GPU: 3}, jobStateTimeLimitActions=actions)
    share(batch, lb, "A", "RESERVE", limit=1)
    big = submit(batch, "big", quotaShareName="A", count=2)
    lb.advance(300)
    assert describe(batch, big)["statusReason"].startswith("MISCONFIGURATION:QUOTA_MANAGEMENT_LIMIT_EXCEEDED - ")
    batch.update_service_environment(serviceEnvironment="gpus", capacityLimits=[{"maxCapacity": 1,
                                                                                 "capacityUnit": GPU}])
    lb.advance(1)
    assert describe(batch, big)["statusReason"] == SE_MAX  # new reason at 300 s: a new timer
    lb.advance(598)
    assert describe(batch, big)["status"] == "RUNNABLE"
    lb.advance(1)
    assert moves(lb, {"big"}) == [
        (900.0, "big", "FAILED",
         "Terminated by JobStateTimeLimit action due to reason: MISCONFIGURATION:SERVICE_ENVIRONMENT_MAX_RESOURCE"),
    ]


def test_a_head_merely_waiting_for_capacity_is_not_timed(batch, lb):
    actions = [{"reason": reason, "state": "RUNNABLE", "maxTimeSeconds": 600, "action": "TERMINATE"} for reason in (
        "MISCONFIGURATION:QUOTA_MANAGEMENT_LIMIT_EXCEEDED", "MISCONFIGURATION:SERVICE_ENVIRONMENT_MAX_RESOURCE")]
    quota_queue(batch, lb, {GPU: 1}, jobStateTimeLimitActions=actions)
    share(batch, lb, "A", "RESERVE")
    lb.on_job(duration=None)
    ids = {n: submit(batch, n, quotaShareName="A") for n in ("running", "waiting")}
    lb.advance(3600)
    assert statuses(batch, ids) == {"running": "RUNNING", "waiting": "RUNNABLE"}
    assert "statusReason" not in describe(batch, ids["waiting"])


def test_blocked_reason_is_cleared_when_the_job_is_dispatched(batch, lb):
    fifo_queue(batch, lb, max_instances=2)
    lb.on_job(duration=None)
    job = submit(batch, "huge", "fifo", count=3)
    lb.advance(1)
    assert describe(batch, job)["statusReason"] == SE_MAX
    batch.update_service_environment(serviceEnvironment="fifo-se", capacityLimits=[
        {"maxCapacity": 4, "capacityUnit": "NUM_INSTANCES"}])
    lb.advance(1)
    out = describe(batch, job)
    assert out["status"] == "RUNNING" and "statusReason" not in out


# == §4.1 / §4.2 / §4.4 ==========================================================================================


def test_submit_to_a_container_queue_is_refused(batch, lb):
    fargate_queue(batch, lb)
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, "train", "q")
    assert client_error(e)
    assert batch.list_service_jobs(jobQueue="q", filters=[{"name": "JOB_NAME", "values": ["*"]}])[
        "jobSummaryList"] == []


@pytest.mark.parametrize(
    "overrides, message",
    [
        ({"serviceJobType": "ECS"}, "serviceJobType ECS must be one of SAGEMAKER_TRAINING"),
        ({"retryStrategy": {"attempts": 2, "evaluateOnExit": [{"action": "STOP", "onStatusReason": "*"}]}},
         "action STOP must be one of RETRY | EXIT"),
    ],
)
def test_submit_enums_are_checked_server_side(batch, lb, overrides, message):
    fifo = fifo_queue(batch, lb)
    params = {"jobName": "train", "jobQueue": fifo, "serviceJobType": "SAGEMAKER_TRAINING",
              "serviceRequestPayload": "{}", **overrides}
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.submit_service_job(**params)
    assert client_error(e) == message


def test_submit_takes_at_most_50_tags(batch, lb):
    fifo = fifo_queue(batch, lb)
    fifty = {f"k{i}": "v" for i in range(50)}
    assert describe(batch, submit(batch, "ok", fifo, tags=fifty))["tags"] == fifty
    with pytest.raises(batch.exceptions.ClientException):
        submit(batch, "too-many", fifo, tags={**fifty, "k50": "v"})


@pytest.mark.parametrize(
    "tags, fragment",
    [
        ({"aws:team": "a"}, "reserved"),
        ({"k" * 129: "v"}, "at most 128 characters"),
        ({"k": "v" * 257}, "at most 256 characters"),
    ],
)
@pytest.mark.parametrize("operation", ["submit_service_job", "create_quota_share", "create_service_environment"])
def test_tag_rules_on_service_resources(batch, lb, operation, tags, fragment):
    fifo_queue(batch, lb)
    quota_queue(batch, lb)
    params = {
        "submit_service_job": {"jobName": "train", "jobQueue": "fifo", "serviceJobType": "SAGEMAKER_TRAINING",
                               "serviceRequestPayload": "{}"},
        "create_quota_share": {"quotaShareName": "A", "jobQueue": "training", "capacityLimits": [
            {"maxCapacity": 1, "capacityUnit": GPU}], "resourceSharingConfiguration": {"strategy": "RESERVE"},
            "preemptionConfiguration": {"inSharePreemption": "DISABLED"}},
        "create_service_environment": {"serviceEnvironmentName": "more", "serviceEnvironmentType": "SAGEMAKER_TRAINING",
                                       "capacityLimits": [{"maxCapacity": 1, "capacityUnit": "NUM_INSTANCES"}]},
    }[operation]
    with pytest.raises(batch.exceptions.ClientException) as e:
        getattr(batch, operation)(**params, tags=tags)
    assert fragment in client_error(e)
    ok = {"k" * 128: "v" * 256}
    getattr(batch, operation)(**params, tags=ok)  # the longest key and value are fine


def test_priority_below_zero_is_refused_on_submit_and_update(batch, lb):
    fifo = fifo_queue(batch, lb)
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, "train", fifo, schedulingPriority=-1)
    assert client_error(e) == "schedulingPriority must be between 0 and 9999"
    job_id = submit(batch, "train", fifo, schedulingPriority=0)
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.update_service_job(jobId=job_id, schedulingPriority=-1)
    assert client_error(e) == "schedulingPriority must be between 0 and 9999"


def test_list_service_jobs_needs_a_job_queue(batch, lb):
    fifo_queue(batch, lb)
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.list_service_jobs()
    assert "jobQueue" in client_error(e)
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.list_service_jobs(jobQueue="nope")
    assert client_error(e) == "JobQueue nope not found."


def test_payload_tags_are_not_batch_tags(batch, lb):
    fifo = fifo_queue(batch, lb)
    body = payload("train", Tags=[{"Key": "from", "Value": "payload"}])
    job = describe(batch, submit(batch, "train", fifo, serviceRequestPayload=body, tags={"from": "batch"}))
    assert job["tags"] == {"from": "batch"}
    assert json.loads(job["serviceRequestPayload"])["Tags"] == [{"Key": "from", "Value": "payload"}]


def test_quota_share_name_on_a_fifo_queue_has_the_spec_wording(batch, lb):
    fifo = fifo_queue(batch, lb)
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, "train", fifo, quotaShareName="A")
    assert client_error(e) == "quotaShareName can only be specified for job queues with a quota share scheduling policy"


def test_duplicate_quota_share_is_object_already_exists(batch, lb):
    quota_queue(batch, lb)
    share(batch, lb, "A", "RESERVE")
    with pytest.raises(batch.exceptions.ClientException) as e:
        share(batch, lb, "A", "LEND")
    assert client_error(e) == "Object already exists"


def test_terminating_a_job_with_retries_left_does_not_retry_it(batch, lb):
    fifo = fifo_queue(batch, lb)
    lb.on_job(duration=None)
    job_id = submit(batch, "train", fifo, retryStrategy={"attempts": 3})
    lb.advance(1)
    batch.terminate_service_job(jobId=job_id, reason="stop")
    lb.advance(60)
    job = describe(batch, job_id)
    assert (job["status"], job["statusReason"], job["isTerminated"], len(job["attempts"])) == (
        "FAILED", "stop", True, 1)


def test_terminating_a_running_job_gives_its_capacity_back(batch, lb):
    fifo_queue(batch, lb, max_instances=1)
    lb.on_job(duration=None)
    first = submit(batch, "first", "fifo")
    submit(batch, "second", "fifo")
    lb.advance(5)
    batch.terminate_service_job(jobId=first, reason="stop")
    lb.advance(1)
    assert moves(lb, {"second"}) == [(5.0, "second", "SCHEDULED", None)]


def test_terminating_a_submitted_job_fails_it_at_once():
    with time_machine.travel(T0, tick=False), localbatch.patch(submitted_seconds=5) as lb:
        batch = client()
        fifo = fifo_queue(batch, lb)
        job_id = submit(batch, "train", fifo)
        assert describe(batch, job_id)["status"] == "SUBMITTED"
        batch.terminate_service_job(jobId=job_id, reason="never mind")
        job = describe(batch, job_id)
        assert (job["status"], job["statusReason"], job["isTerminated"], job["attempts"]) == (
            "FAILED", "never mind", True, [])
        lb.advance(10)
        assert [(r["from"], r["to"]) for r in lb.timeline()] == [(None, "SUBMITTED"), ("SUBMITTED", "FAILED")]


def test_terminating_a_scheduled_job_stops_its_training_job():
    with time_machine.travel(T0, tick=False), localbatch.patch(service_scheduled_seconds=5) as lb:
        batch = client()
        fifo = fifo_queue(batch, lb, max_instances=1)
        lb.on_job(duration=None)
        job_id = submit(batch, "train", fifo)
        waiting = submit(batch, "next", fifo)
        lb.advance(2)
        assert describe(batch, job_id)["status"] == "SCHEDULED"
        batch.terminate_service_job(jobId=job_id, reason="stop")
        job = describe(batch, job_id)
        assert (job["status"], job["statusReason"], job["isTerminated"]) == ("FAILED", "stop", True)
        assert job["attempts"][0]["stoppedAt"] == T0_MS + 2000
        assert describe(batch, waiting)["status"] == "SCHEDULED"  # the instance was given back


def test_created_at_filters_ignore_job_status(batch, lb):
    fifo = fifo_queue(batch, lb)
    lb.on_job(duration=None)
    first = submit(batch, "first", fifo)
    lb.advance(1)
    second = submit(batch, "second", fifo)
    lb.advance(1)
    batch.terminate_service_job(jobId=second, reason="stop")

    def listed(name, value):
        return [j["jobId"] for j in batch.list_service_jobs(jobQueue=fifo, jobStatus="SUCCEEDED", filters=[
            {"name": name, "values": [value]}])["jobSummaryList"]]

    assert listed("AFTER_CREATED_AT", str(T0_MS)) == [second]  # FAILED, listed whatever jobStatus says
    assert listed("BEFORE_CREATED_AT", str(T0_MS + 1000)) == [first]  # RUNNING


# == §5 GetJobQueueSnapshot =========================================================================================


def test_quota_snapshot_utilization_sorted_one_entry_per_type_and_times(batch, lb):
    quota_queue(batch, lb, {GPU: 4, CPU: 4})
    share(batch, lb, "zeta", "RESERVE", limit=2)
    share(batch, lb, "alpha", "RESERVE", limit=1)
    share(batch, lb, "beta", "RESERVE", limit=1, unit=CPU)
    share(batch, lb, "idle", "RESERVE", limit=1)
    lb.on_job(duration=None)
    submit(batch, "z1", quotaShareName="zeta")
    submit(batch, "z2", quotaShareName="zeta")
    submit(batch, "b1", quotaShareName="beta", instance_type=CPU)
    lb.advance(1)
    submit(batch, "a1", quotaShareName="alpha")
    waiting = submit(batch, "a2", quotaShareName="alpha")
    lb.advance(6)
    snap = batch.get_job_queue_snapshot(jobQueue="training")
    now = T0_MS + 7000
    utilization = snap["queueUtilization"]
    assert sorted(utilization["totalCapacityUsage"], key=lambda u: u["capacityUnit"]) == [  # g5 < m5
        {"capacityUnit": GPU, "quantity": 3.0}, {"capacityUnit": CPU, "quantity": 1.0}]
    assert [(u["quotaShareName"], u["capacityUsage"]) for u in utilization["quotaShareUtilization"][
        "topCapacityUtilization"]] == [
        ("zeta", [{"capacityUnit": GPU, "quantity": 2.0}]),
        ("alpha", [{"capacityUnit": GPU, "quantity": 1.0}]),  # ties by name
        ("beta", [{"capacityUnit": CPU, "quantity": 1.0}]),
    ]
    assert "fairshareUtilization" not in utilization
    assert utilization["lastUpdatedAt"] == now
    assert snap["frontOfQuotaShares"]["lastUpdatedAt"] == now
    assert snap["frontOfQuotaShares"]["quotaShares"] == {
        "alpha": [{"jobArn": describe(batch, waiting)["jobArn"], "earliestTimeAtPosition": T0_MS + 1000}]}


def test_eks_queue_snapshot_counts_cpu(batch, lb):
    eks_compute_environment(batch)
    lb.advance(0)
    batch.create_job_queue(jobQueueName="q", priority=1, computeEnvironmentOrder=[
        {"order": 1, "computeEnvironment": "eks"}])
    batch.register_job_definition(jobDefinitionName="pod", type="container", eksProperties={"podProperties": {
        "containers": [{"name": "c", "image": "busybox", "resources": {"requests": {"cpu": "500m"}}}]}})
    lb.advance(0)
    lb.on_job(duration=None)
    for i in range(3):
        batch.submit_job(jobName=f"p{i}", jobQueue="q", jobDefinition="pod")
    lb.advance(1)
    usage = batch.get_job_queue_snapshot(jobQueue="q")["queueUtilization"]["totalCapacityUsage"]
    assert usage == [{"capacityUnit": "cpu", "quantity": 1.5}]


def test_starting_container_jobs_count_as_dispatched():
    with time_machine.travel(T0, tick=False), localbatch.patch(starting_seconds=10) as lb:
        batch = client()
        fargate_queue(batch, lb, max_vcpus=4)
        lb.on_job(duration=None)
        job_id = batch.submit_job(jobName="c", jobQueue="q", jobDefinition="jd")["jobId"]
        lb.advance(1)
        assert batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"] == "STARTING"
        usage = batch.get_job_queue_snapshot(jobQueue="q")["queueUtilization"]["totalCapacityUsage"]
        assert usage == [{"capacityUnit": "VCPU", "quantity": 1.0}]


# -- §4.1, §4.3: capacity-type SageMaker failures use no attempt --------------------------------

CAPACITY_ERROR = ("CapacityError: Unable to provision requested ML compute capacity. "
                  "Please retry using a different ML instance type.")


def test_a_capacity_failure_from_sagemaker_is_requeued_without_using_an_attempt(batch, lb):
    """§4.1: insufficient-capacity failures are retried automatically without
    consuming attempts; §4.3: back to RUNNABLE, attempt recorded."""
    fifo = fifo_queue(batch, lb)
    lb.on_job(duration=None)
    job_id = submit(batch, "train", fifo, retryStrategy={"attempts": 1, "evaluateOnExit": [
        {"action": "EXIT", "onStatusReason": "*"}]})  # never consulted for a capacity failure
    lb.advance(5)
    lb.complete(job_id, exit_code=1, reason=CAPACITY_ERROR)
    job = describe(batch, job_id)
    assert job["status"] == "RUNNING"  # placed again at once: the environment is free
    first, second = job["attempts"]
    assert first["statusReason"] == "Received status from SageMaker: " + CAPACITY_ERROR
    assert first["stoppedAt"] == T0_MS + 5000 and "stoppedAt" not in second
    assert first["serviceResourceId"]["value"] != second["serviceResourceId"]["value"]
    lb.complete(job_id, exit_code=1, reason="AlgorithmError: boom")  # the one real attempt
    job = describe(batch, job_id)
    assert job["status"] == "FAILED"
    assert job["statusReason"] == "Received status from SageMaker: AlgorithmError: boom"


def test_a_requeued_job_keeps_its_place_in_the_queue(batch, lb):
    """It waits again in its original position: ahead of jobs submitted after it."""
    fifo = fifo_queue(batch, lb, max_instances=1)
    lb.on_job(duration=None)
    first = submit(batch, "first", fifo)
    lb.advance(1)
    later = submit(batch, "later", fifo)
    lb.advance(1)
    lb.complete(first, exit_code=1, reason="InsufficientCapacityError: no ml.g5.xlarge")
    assert describe(batch, first)["status"] == "RUNNING"
    assert describe(batch, later)["status"] == "RUNNABLE"
