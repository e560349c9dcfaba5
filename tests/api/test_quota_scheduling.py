"""Quota-share scheduling through a real boto3 client (spec §3.5, §2.9, §1.7).

The timelines are golden: (seconds after T0, job, new status, reason), as
`lb.timeline()` records them.
"""

from __future__ import annotations

import pytest
import time_machine

import localbatch
from tests.api.test_service_jobs_support import (
    CPU,
    GPU,
    T0,
    client,
    describe,
    frozen_lb,
    quota_queue,
    share,
    statuses,
    submit,
    transitions,
)


@pytest.fixture
def lb():
    yield from frozen_lb()


@pytest.fixture
def batch(lb):
    return client()

RECLAIM = "Preempted to reclaim capacity lent to quota share {}"


@pytest.fixture
def notebook(batch, lb):
    """AWS's quota-management notebook: SE 3 x ml.g5.xlarge; QS1 = 1 LEND_AND_BORROW
    (borrowLimit 200, in-share preemption); QS2 = 1 LEND; QS3 = 1 RESERVE."""
    quota_queue(batch, lb)
    share(batch, lb, "QS1", "LEND_AND_BORROW", borrow=200, in_share=True)
    share(batch, lb, "QS2", "LEND")
    share(batch, lb, "QS3", "RESERVE")
    lb.on_job(duration=None)  # training runs until the test says otherwise
    return lb


def test_notebook_example_plays_out_exactly(batch, notebook):
    lb = notebook
    ids = {}
    for name, priority in (("high", 3), ("med", 2), ("low", 1)):
        ids[name] = submit(batch, name, quotaShareName="QS1", schedulingPriority=priority)
    lb.advance(1)
    # high runs on QS1's own slot, med borrows QS2's idle slot, low waits (QS3 reserves its slot).
    assert statuses(batch, ids) == {"high": "RUNNING", "med": "RUNNING", "low": "RUNNABLE"}

    lb.advance(60)
    ids["qs2"] = submit(batch, "qs2", quotaShareName="QS2")
    lb.advance(1)
    # QS2 reclaims its slot: med is preempted back to RUNNABLE, the QS2 job runs.
    assert statuses(batch, ids) == {"high": "RUNNING", "med": "RUNNABLE", "low": "RUNNABLE", "qs2": "RUNNING"}
    med = describe(batch, ids["med"])
    assert med["statusReason"] == RECLAIM.format("QS2")
    assert med["preemptionSummary"]["preemptedAttemptCount"] == 1

    lb.advance(60)
    batch.update_service_job(jobId=ids["low"], schedulingPriority=4)
    lb.advance(1)
    # low now outranks high: in-share preemption puts high back to RUNNABLE.
    assert statuses(batch, ids) == {"high": "RUNNABLE", "med": "RUNNABLE", "low": "RUNNING", "qs2": "RUNNING"}
    high = describe(batch, ids["high"])
    assert high["statusReason"] == f"Preempted by higher priority job {ids['low']} in quota share QS1"

    assert transitions(lb, kinds={"SCHEDULED", "RUNNABLE"}) == [
        (0.0, "high", "RUNNABLE", None),
        (0.0, "high", "SCHEDULED", None),  # QS1's own slot
        (0.0, "med", "RUNNABLE", None),
        (0.0, "med", "SCHEDULED", None),  # borrows QS2's idle slot
        (0.0, "low", "RUNNABLE", None),  # QS3 is RESERVE: nothing left to borrow
        (61.0, "qs2", "RUNNABLE", None),
        (61.0, "med", "RUNNABLE", RECLAIM.format("QS2")),
        (61.0, "qs2", "SCHEDULED", None),
        (122.0, "high", "RUNNABLE", f"Preempted by higher priority job {ids['low']} in quota share QS1"),
        (122.0, "low", "SCHEDULED", None),
    ]
    # Nothing else moves however long we wait: high (3) cannot preempt low (4), nobody lends.
    lb.advance(3600)
    assert statuses(batch, ids) == {"high": "RUNNABLE", "med": "RUNNABLE", "low": "RUNNING", "qs2": "RUNNING"}


def test_share_usage_is_on_the_timeline(batch, notebook):
    submit(batch, "a", quotaShareName="QS1")
    submit(batch, "b", quotaShareName="QS1")
    notebook.advance(1)
    rows = [r for r in notebook.timeline() if r["to"] == "SCHEDULED"]
    assert [(r["job_name"], r["quota_share"], r["share_usage"]) for r in rows] == [
        ("a", "QS1", {GPU: 1}),
        ("b", "QS1", {GPU: 2}),
    ]


def test_borrowed_capacity_returns_when_the_lender_needs_it_and_the_victim_borrows_again(batch, lb):
    """Golden: a borrower is reclaimed by its lender and borrows the next idle slot that appears."""
    quota_queue(batch, lb, {GPU: 3})
    share(batch, lb, "A", "LEND_AND_BORROW")
    share(batch, lb, "B", "LEND")
    share(batch, lb, "C", "LEND")
    rule = lb.on_job(duration=None)
    a1 = submit(batch, "a1", quotaShareName="A")
    a2 = submit(batch, "a2", quotaShareName="A")
    a3 = submit(batch, "a3", quotaShareName="A")
    lb.advance(10)
    assert statuses(batch, {"a1": a1, "a2": a2, "a3": a3}) == {"a1": "RUNNING", "a2": "RUNNING", "a3": "RUNNING"}
    lb.on_job("b*", duration=30)
    submit(batch, "b1", quotaShareName="B")
    lb.advance(60)
    assert transitions(lb, kinds={"SCHEDULED", "RUNNABLE", "SUCCEEDED"}) == [
        (0.0, "a1", "RUNNABLE", None),
        (0.0, "a1", "SCHEDULED", None),  # A's own slot
        (0.0, "a2", "RUNNABLE", None),
        (0.0, "a2", "SCHEDULED", None),  # borrowed from B (largest idle, first created)
        (0.0, "a3", "RUNNABLE", None),
        (0.0, "a3", "SCHEDULED", None),  # borrowed from C
        (10.0, "b1", "RUNNABLE", None),
        (10.0, "a2", "RUNNABLE", RECLAIM.format("B")),
        (10.0, "b1", "SCHEDULED", None),
        (40.0, "b1", "SUCCEEDED", "Received status from SageMaker: Training job completed"),
        (40.0, "a2", "SCHEDULED", None),  # B is idle again: a2 borrows it back
    ]
    assert rule.duration is None


def test_reserve_share_never_lends_and_lend_share_never_borrows(batch, lb):
    quota_queue(batch, lb, {GPU: 2})
    share(batch, lb, "R", "RESERVE")
    share(batch, lb, "L", "LEND")
    lb.on_job(duration=None)
    ids = {n: submit(batch, n, quotaShareName="L") for n in ("l1", "l2")}
    lb.advance(1)
    assert statuses(batch, ids) == {"l1": "RUNNING", "l2": "RUNNABLE"}


def test_borrow_limit_caps_borrowing(batch, lb):
    quota_queue(batch, lb, {GPU: 6})
    share(batch, lb, "A", "LEND_AND_BORROW", limit=2, borrow=50)  # may borrow 1
    share(batch, lb, "B", "LEND", limit=4)
    lb.on_job(duration=None)
    ids = {n: submit(batch, n, quotaShareName="A") for n in ("a1", "a2", "a3", "a4")}
    lb.advance(1)
    assert statuses(batch, ids) == {"a1": "RUNNING", "a2": "RUNNING", "a3": "RUNNING", "a4": "RUNNABLE"}


def test_unassigned_environment_capacity_is_borrowed_and_never_reclaimed(batch, lb):
    quota_queue(batch, lb, {GPU: 3})
    share(batch, lb, "A", "LEND_AND_BORROW")
    share(batch, lb, "B", "RESERVE", limit=1)  # one slot of the environment belongs to no share
    lb.on_job(duration=None)
    ids = {n: submit(batch, n, quotaShareName="A") for n in ("a1", "a2", "a3")}
    lb.advance(1)
    assert statuses(batch, ids) == {"a1": "RUNNING", "a2": "RUNNING", "a3": "RUNNABLE"}  # B reserves
    ids.update({n: submit(batch, n, quotaShareName="B") for n in ("b1", "b2")})
    lb.advance(1)
    assert statuses(batch, ids) == {"a1": "RUNNING", "a2": "RUNNING", "a3": "RUNNABLE", "b1": "RUNNING",
                                    "b2": "RUNNABLE"}


def test_victim_order_lowest_priority_then_most_recently_scheduled(batch, lb):
    quota_queue(batch, lb, {GPU: 4})
    share(batch, lb, "A", "LEND_AND_BORROW", limit=1)
    share(batch, lb, "B", "LEND", limit=3)
    lb.on_job(duration=None)
    ids = {}
    ids["own"] = submit(batch, "own", quotaShareName="A", schedulingPriority=9)
    lb.advance(1)
    ids["p5-early"] = submit(batch, "p5-early", quotaShareName="A", schedulingPriority=5)
    lb.advance(1)
    ids["p5-late"] = submit(batch, "p5-late", quotaShareName="A", schedulingPriority=5)
    lb.advance(1)
    ids["p7"] = submit(batch, "p7", quotaShareName="A", schedulingPriority=7)
    lb.advance(1)
    assert set(statuses(batch, ids).values()) == {"RUNNING"}
    ids["b1"] = submit(batch, "b1", quotaShareName="B")
    lb.advance(1)
    assert statuses(batch, ids)["p5-late"] == "RUNNABLE"
    ids["b2"] = submit(batch, "b2", quotaShareName="B")
    lb.advance(1)
    assert statuses(batch, ids) == {
        "own": "RUNNING", "p5-early": "RUNNABLE", "p5-late": "RUNNABLE", "p7": "RUNNING", "b1": "RUNNING",
        "b2": "RUNNING",
    }


def test_in_share_preemption_disabled_waits(batch, lb):
    quota_queue(batch, lb, {GPU: 1})
    share(batch, lb, "A", "RESERVE", in_share=False)
    lb.on_job(duration=None)
    low = submit(batch, "low", quotaShareName="A", schedulingPriority=1)
    lb.advance(1)
    high = submit(batch, "high", quotaShareName="A", schedulingPriority=9)
    lb.advance(1)
    assert statuses(batch, {"low": low, "high": high}) == {"low": "RUNNING", "high": "RUNNABLE"}


def test_in_share_preemption_only_for_strictly_higher_priority(batch, lb):
    quota_queue(batch, lb, {GPU: 1})
    share(batch, lb, "A", "RESERVE", in_share=True)
    lb.on_job(duration=None)
    first = submit(batch, "first", quotaShareName="A", schedulingPriority=5)
    lb.advance(1)
    same = submit(batch, "same", quotaShareName="A", schedulingPriority=5)
    lb.advance(1)
    assert statuses(batch, {"first": first, "same": same}) == {"first": "RUNNING", "same": "RUNNABLE"}
    batch.update_service_job(jobId=same, schedulingPriority=6)
    lb.advance(1)
    assert statuses(batch, {"first": first, "same": same}) == {"first": "RUNNABLE", "same": "RUNNING"}


def test_preemption_retries_before_termination(batch, lb):
    quota_queue(batch, lb, {GPU: 1})
    share(batch, lb, "A", "RESERVE", in_share=True)
    lb.on_job(duration=None)
    victim = submit(batch, "victim", quotaShareName="A", schedulingPriority=1,
                    preemptionConfiguration={"preemptionRetriesBeforeTermination": 1})
    lb.advance(1)
    first = submit(batch, "p2", quotaShareName="A", schedulingPriority=2)
    lb.advance(1)
    assert describe(batch, victim)["status"] == "RUNNABLE"
    batch.terminate_service_job(jobId=first, reason="done")
    lb.advance(1)
    assert describe(batch, victim)["status"] == "RUNNING"
    submit(batch, "p3", quotaShareName="A", schedulingPriority=3)
    lb.advance(1)
    out = describe(batch, victim)
    assert out["status"] == "FAILED"
    assert out["statusReason"] == "Terminated after exceeding preemptionRetriesBeforeTermination"
    summary = out["preemptionSummary"]
    assert summary["preemptedAttemptCount"] == 2
    assert [a["serviceResourceId"]["value"] for a in summary["recentPreemptedAttempts"]] == [
        a["serviceResourceId"]["value"] for a in reversed(out["attempts"])
    ]
    assert out["isTerminated"] is False


def test_zero_preemption_retries_fails_on_first_preemption(batch, lb):
    quota_queue(batch, lb, {GPU: 1})
    share(batch, lb, "A", "RESERVE", in_share=True)
    lb.on_job(duration=None)
    victim = submit(batch, "victim", quotaShareName="A", preemptionConfiguration={
        "preemptionRetriesBeforeTermination": 0})
    lb.advance(1)
    submit(batch, "boss", quotaShareName="A", schedulingPriority=1)
    lb.advance(1)
    assert describe(batch, victim)["status"] == "FAILED"


def test_recent_preempted_attempts_keeps_the_five_newest(batch, lb):
    quota_queue(batch, lb, {GPU: 1})
    share(batch, lb, "A", "RESERVE", in_share=True)
    lb.on_job(duration=None)
    victim = submit(batch, "victim", quotaShareName="A", schedulingPriority=0)
    lb.advance(1)
    for i in range(6):
        boss = submit(batch, f"boss{i}", quotaShareName="A", schedulingPriority=1)
        lb.advance(1)
        batch.terminate_service_job(jobId=boss, reason="make room")
        lb.advance(1)
    out = describe(batch, victim)
    assert out["preemptionSummary"]["preemptedAttemptCount"] == 6
    recent = out["preemptionSummary"]["recentPreemptedAttempts"]
    assert len(recent) == 5 and len(out["attempts"]) == 7
    assert recent[0]["serviceResourceId"] == out["attempts"][5]["serviceResourceId"]
    assert out["status"] == "RUNNING" and out["latestAttempt"] == {"serviceResourceId": out["attempts"][6]["serviceResourceId"]}


def test_lowering_a_limit_makes_the_excess_reclaimable(batch, lb):
    quota_queue(batch, lb, {GPU: 2})
    a = share(batch, lb, "A", "RESERVE", limit=2)
    share(batch, lb, "B", "RESERVE", limit=0)
    lb.on_job(duration=None)
    ids = {n: submit(batch, n, quotaShareName="A", schedulingPriority=p) for n, p in (("a1", 2), ("a2", 1))}
    lb.advance(1)
    assert set(statuses(batch, ids).values()) == {"RUNNING"}
    batch.update_quota_share(quotaShareArn=a, capacityLimits=[{"maxCapacity": 1, "capacityUnit": GPU}])
    batch.update_quota_share(quotaShareArn=lb.backend().quota_shares.by_name.get("B", None) or
                             "arn:aws:batch:us-east-1:123456789012:job-queue/training/quota-share/B",
                             capacityLimits=[{"maxCapacity": 1, "capacityUnit": GPU}])
    lb.advance(1)
    assert statuses(batch, ids) == {"a1": "RUNNING", "a2": "RUNNING"}  # not proactively killed
    ids["b1"] = submit(batch, "b1", quotaShareName="B")
    lb.advance(1)
    assert statuses(batch, ids) == {"a1": "RUNNING", "a2": "RUNNABLE", "b1": "RUNNING"}
    assert describe(batch, ids["a2"])["statusReason"] == RECLAIM.format("B")


@pytest.mark.parametrize(
    "strategy, borrow, count, reason",
    [
        ("RESERVE", None, 2, "Job requirements exceed quota share capacity limits."),
        ("LEND", None, 2, "Job requirements exceed quota share capacity limits."),
        ("LEND_AND_BORROW", 100, 3, "Job requirements exceed quota share capacity limits and borrow limits."),
        ("LEND_AND_BORROW", -1, 4, "Job requires borrowing that exceeds all configured borrowable capacity."),
    ],
)
def test_never_fits_reasons_block_the_share(batch, lb, strategy, borrow, count, reason):
    quota_queue(batch, lb, {GPU: 4})
    share(batch, lb, "A", strategy, limit=1, borrow=borrow)
    share(batch, lb, "B", "LEND", limit=2)
    share(batch, lb, "C", "RESERVE", limit=1)
    lb.on_job(duration=None)
    big = submit(batch, "big", quotaShareName="A", count=count, schedulingPriority=9)
    small = submit(batch, "small", quotaShareName="A")
    lb.advance(1)
    assert describe(batch, big)["statusReason"] == "MISCONFIGURATION:QUOTA_MANAGEMENT_LIMIT_EXCEEDED - " + reason
    assert describe(batch, small)["status"] == "RUNNABLE"  # blocked behind its share's head


def test_unit_missing_from_the_environment_is_a_service_environment_misconfiguration(batch, lb):
    quota_queue(batch, lb, {GPU: 2, CPU: 2})
    share(batch, lb, "A", "RESERVE", limit=2)
    job = submit(batch, "huge", quotaShareName="A", count=3)
    lb.advance(1)
    assert describe(batch, job)["statusReason"].startswith("MISCONFIGURATION:SERVICE_ENVIRONMENT_MAX_RESOURCE - ")


def test_time_limit_action_terminates_a_blocked_head(batch, lb):
    quota_queue(batch, lb, jobStateTimeLimitActions=[{
        "reason": "MISCONFIGURATION:QUOTA_MANAGEMENT_LIMIT_EXCEEDED", "state": "RUNNABLE", "maxTimeSeconds": 600,
        "action": "TERMINATE"}])
    share(batch, lb, "A", "RESERVE", limit=1)
    lb.on_job(duration=None)
    big = submit(batch, "big", quotaShareName="A", count=2)
    small = submit(batch, "small", quotaShareName="A")
    lb.advance(599)
    assert describe(batch, big)["status"] == "RUNNABLE"
    lb.advance(1)
    out = describe(batch, big)
    assert out["status"] == "FAILED" and out["isTerminated"] is True
    assert out["statusReason"] == (
        "Terminated by JobStateTimeLimit action due to reason: MISCONFIGURATION:QUOTA_MANAGEMENT_LIMIT_EXCEEDED"
    )
    assert describe(batch, small)["status"] == "RUNNING"  # the next job advanced to the head


def test_jobs_arriving_behind_a_blocked_head_leave_its_time_limit_alone(batch, lb):
    quota_queue(batch, lb, jobStateTimeLimitActions=[{
        "reason": "MISCONFIGURATION:QUOTA_MANAGEMENT_LIMIT_EXCEEDED", "state": "RUNNABLE", "maxTimeSeconds": 600,
        "action": "TERMINATE"}])
    share(batch, lb, "A", "RESERVE", limit=1)
    lb.on_job(duration=None)
    big = submit(batch, "big", quotaShareName="A", count=2, schedulingPriority=9)
    lb.advance(300)
    late = [submit(batch, f"late{i}", quotaShareName="A", schedulingPriority=i) for i in range(3)]
    lb.advance(299)
    assert statuses(batch, {"big": big, "late2": late[2]}) == {"big": "RUNNABLE", "late2": "RUNNABLE"}
    lb.advance(1)
    assert transitions(lb, kinds={"SCHEDULED", "FAILED"}) == [
        (600.0, "big", "FAILED",
         "Terminated by JobStateTimeLimit action due to reason: MISCONFIGURATION:QUOTA_MANAGEMENT_LIMIT_EXCEEDED"),
        (600.0, "late2", "SCHEDULED", None),  # the highest priority of those behind it
    ]


def test_a_limit_raised_while_the_share_is_updating_applies_at_the_next_arrival():
    """An update takes effect in the share's data at once (status UPDATING);
    the next pass reads it, and a job arriving behind the head brings one."""
    with time_machine.travel(T0, tick=False), localbatch.patch(resource_latency=10) as lb:
        batch = client()
        batch.create_service_environment(serviceEnvironmentName="gpus", serviceEnvironmentType="SAGEMAKER_TRAINING",
                                         capacityLimits=[{"maxCapacity": 2, "capacityUnit": GPU}])
        lb.advance(10)
        policy = batch.create_scheduling_policy(name="quota", quotaSharePolicy={
            "idleResourceAssignmentStrategy": "FIFO"})
        batch.create_job_queue(jobQueueName="training", priority=1, jobQueueType="SAGEMAKER_TRAINING",
                               schedulingPolicyArn=policy["arn"],
                               serviceEnvironmentOrder=[{"order": 1, "serviceEnvironment": "gpus"}])
        lb.advance(10)
        arn = batch.create_quota_share(quotaShareName="A", jobQueue="training", capacityLimits=[
            {"maxCapacity": 1, "capacityUnit": GPU}], resourceSharingConfiguration={"strategy": "RESERVE"},
            preemptionConfiguration={"inSharePreemption": "DISABLED"})["quotaShareArn"]
        lb.advance(10)
        lb.on_job(duration=None)
        submit(batch, "first", quotaShareName="A")
        second = submit(batch, "second", quotaShareName="A")
        lb.advance(1)
        batch.update_quota_share(quotaShareArn=arn, capacityLimits=[{"maxCapacity": 2, "capacityUnit": GPU}])
        lb.advance(2)
        assert describe(batch, second)["status"] == "RUNNABLE"  # no pass yet: nothing asked for one
        submit(batch, "third", quotaShareName="A")
        lb.advance(0)
        assert describe(batch, second)["status"] == "RUNNING"  # UPDATING ends 7 s later


def test_disabled_share_runs_its_jobs_but_takes_no_new_ones(batch, lb):
    quota_queue(batch, lb, {GPU: 1})
    arn = share(batch, lb, "A", "RESERVE")
    lb.on_job(duration=None)
    first = submit(batch, "first", quotaShareName="A")
    second = submit(batch, "second", quotaShareName="A")
    lb.advance(1)
    batch.update_quota_share(quotaShareArn=arn, state="DISABLED")
    lb.advance(1)
    with pytest.raises(batch.exceptions.ClientException):
        submit(batch, "third", quotaShareName="A")
    batch.terminate_service_job(jobId=first, reason="r")
    lb.advance(1)
    assert describe(batch, second)["status"] == "RUNNING"


def test_deleting_a_share_terminates_its_jobs(batch, lb):
    quota_queue(batch, lb, {GPU: 1})
    arn = share(batch, lb, "A", "RESERVE")
    lb.on_job(duration=None)
    running = submit(batch, "running", quotaShareName="A")
    waiting = submit(batch, "waiting", quotaShareName="A")
    lb.advance(1)
    batch.update_quota_share(quotaShareArn=arn, state="DISABLED")
    lb.advance(0)
    batch.delete_quota_share(quotaShareArn=arn)
    lb.advance(0)
    for job_id in (running, waiting):
        out = describe(batch, job_id)
        assert (out["status"], out["statusReason"]) == ("FAILED", "Quota share deleted")
    assert describe(batch, running)["isTerminated"] is True


def test_disabled_service_environment_places_nothing(batch, lb):
    quota_queue(batch, lb, {GPU: 1})
    share(batch, lb, "A", "RESERVE")
    batch.update_service_environment(serviceEnvironment="gpus", state="DISABLED")
    lb.advance(0)
    job = submit(batch, "job", quotaShareName="A")
    lb.advance(10)
    assert describe(batch, job)["status"] == "RUNNABLE"
    batch.update_service_environment(serviceEnvironment="gpus", state="ENABLED")
    lb.advance(0)
    assert describe(batch, job)["status"] == "SUCCEEDED"


def test_report_shows_each_quota_share_and_the_preemptions(batch, notebook):
    """Issue 4: share usage and preemptions are in the HTML report too: each
    job carries its quota share's chip, the queue gets a chart of the
    instances each share held, and a preempted attempt is marked on its row."""
    from localbatch.report import render

    lb = notebook
    submit(batch, "own", quotaShareName="QS1")  # QS1's own slot
    borrower = submit(batch, "borrower", quotaShareName="QS1")  # borrows QS2's idle slot
    lb.advance(60)
    submit(batch, "qs2", quotaShareName="QS2")  # reclaims it: the borrower is preempted at 60 s
    lb.advance(60)
    assert describe(batch, borrower)["preemptionSummary"]["preemptedAttemptCount"] == 1
    page = render(lb)
    assert "<h2>Job queue training: instances held by each share</h2>" in page
    for name in ("QS1", "QS2"):
        assert f'data-share="{name}"' in page
    assert page.count('class="preempted"') == 1
    assert f"borrower preempted at 60.000 s: {RECLAIM.format('QS2')}" in page
