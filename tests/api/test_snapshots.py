"""GetJobQueueSnapshot through a real boto3 client (spec §5)."""

from __future__ import annotations

import pytest

from tests.api.test_service_jobs_support import (
    GPU,
    T0_MS,
    client,
    describe,
    fargate_queue,
    fifo_queue,
    frozen_lb,
    quota_queue,
    share,
    submit,
)
from tests.helpers import client_error


@pytest.fixture
def lb():
    yield from frozen_lb()


@pytest.fixture
def batch(lb):
    return client()


def front(snapshot):
    return [(j["jobArn"].rpartition("/")[2], j["earliestTimeAtPosition"]) for j in snapshot["frontOfQueue"]["jobs"]]


def test_unknown_queue(batch):
    with pytest.raises(batch.exceptions.ClientException) as e:
        batch.get_job_queue_snapshot(jobQueue="nope")
    assert client_error(e) == "JobQueue nope not found."


def test_fifo_service_queue(batch, lb):
    fifo_queue(batch, lb, max_instances=2)
    lb.on_job(duration=None)
    ids = []
    for i in range(4):
        ids.append(submit(batch, f"j{i}", "fifo"))
        lb.advance(0.001)  # a millisecond apart: same-millisecond jobs would go by jobId (spec §3.2)
    lb.advance(9.996)  # to T0 + 10 s
    snap = batch.get_job_queue_snapshot(jobQueue="fifo")
    assert front(snap) == [(ids[2], T0_MS + 2), (ids[3], T0_MS + 3)]  # each took its index when created
    assert snap["frontOfQueue"]["lastUpdatedAt"] == T0_MS + 10_000
    assert snap["queueUtilization"]["totalCapacityUsage"] == [{"capacityUnit": GPU, "quantity": 2.0}]
    assert "frontOfQuotaShares" not in snap and "quotaShareUtilization" not in snap["queueUtilization"]
    lb.complete(ids[0])
    lb.advance(5)
    # j3 moved to index 0 when j2 started; its position time says so.
    assert front(batch.get_job_queue_snapshot(jobQueue="fifo")) == [(ids[3], T0_MS + 10_000)]


def test_quota_queue_front_shares_and_utilization(batch, lb):
    quota_queue(batch, lb, {GPU: 3})
    share(batch, lb, "QS1", "LEND_AND_BORROW", borrow=200)
    share(batch, lb, "QS2", "LEND")
    share(batch, lb, "QS3", "RESERVE")
    lb.on_job(duration=None)
    ids = {n: submit(batch, n, quotaShareName="QS1", schedulingPriority=p) for n, p in (("high", 3), ("med", 2),
                                                                                       ("low", 1))}
    lb.advance(1)
    ids["late"] = submit(batch, "late", quotaShareName="QS1", schedulingPriority=9)
    lb.advance(1)
    snap = batch.get_job_queue_snapshot(jobQueue="training")
    # late (priority 9) is ahead of low in QS1; both wait to borrow.
    assert front(snap) == [(ids["late"], T0_MS + 1000), (ids["low"], T0_MS + 1000)]
    assert snap["frontOfQuotaShares"]["quotaShares"] == {
        "QS1": [{"jobArn": describe(batch, ids["late"])["jobArn"], "earliestTimeAtPosition": T0_MS + 1000}]
    }
    utilization = snap["queueUtilization"]
    assert utilization["totalCapacityUsage"] == [{"capacityUnit": GPU, "quantity": 2.0}]
    assert utilization["quotaShareUtilization"]["topCapacityUtilization"] == [
        {"quotaShareName": "QS1", "capacityUsage": [{"capacityUnit": GPU, "quantity": 2.0}]}
    ]


def test_snapshot_agrees_with_what_the_scheduler_then_does(batch, lb):
    """Capacity that frees up in the unassigned pool goes to the jobs in exactly
    the order frontOfQueue announced (priority inside a share, FIFO across)."""
    quota_queue(batch, lb, {GPU: 4})
    share(batch, lb, "A", "LEND_AND_BORROW", limit=1)
    share(batch, lb, "B", "LEND_AND_BORROW", limit=1)  # 2 instances belong to no share
    lb.on_job(duration=None)
    owners = [submit(batch, "a-own", quotaShareName="A"), submit(batch, "b-own", quotaShareName="B")]
    lb.advance(1)
    borrowers = [submit(batch, "a-borrow", quotaShareName="A"), submit(batch, "b-borrow", quotaShareName="B")]
    lb.advance(1)
    waiting = []
    for i, (name, priority) in enumerate([("A", 1), ("B", 5), ("A", 7), ("B", 0), ("A", 3)]):
        waiting.append(submit(batch, f"w{i}", quotaShareName=name, schedulingPriority=priority))
        lb.advance(1)
    predicted = [job_id for job_id, _ in front(batch.get_job_queue_snapshot(jobQueue="training"))]
    assert predicted == [waiting[1], waiting[2], waiting[3], waiting[4], waiting[0]]
    started: list[str] = []
    while len(started) < len(waiting):
        lb.complete(borrowers.pop(0))  # one unassigned instance frees up
        lb.advance(1)
        now_running = [j for j in waiting if j not in started and describe(batch, j)["status"] == "RUNNING"]
        assert len(now_running) == 1
        started += now_running
        borrowers.append(now_running[0])
    assert started == predicted
    assert all(describe(batch, j)["status"] == "RUNNING" for j in owners)


def test_container_fifo_queue(batch, lb):
    fargate_queue(batch, lb)
    lb.on_job(duration=None)
    ids = []
    for i in range(4):
        ids.append(batch.submit_job(jobName=f"c{i}", jobQueue="q", jobDefinition="jd")["jobId"])
        lb.advance(0.001)  # a millisecond apart: same-millisecond jobs would go by jobId (spec §3.2)
    lb.advance(2.996)  # to T0 + 3 s
    snap = batch.get_job_queue_snapshot(jobQueue="q")
    assert front(snap) == [(ids[2], T0_MS + 3000), (ids[3], T0_MS + 3000)]
    assert snap["queueUtilization"]["totalCapacityUsage"] == [{"capacityUnit": "VCPU", "quantity": 2.0}]
    lb.complete(ids[0])
    lb.advance(2)
    assert front(batch.get_job_queue_snapshot(jobQueue="q")) == [(ids[3], T0_MS + 3000)]


def test_jobs_submitted_behind_a_full_front_leave_it_as_it_was(batch, lb):
    """A FIFO front holds the 100 oldest RUNNABLE jobs: later ones change
    nothing in it; a job leaving its head moves every index."""
    fifo_queue(batch, lb, max_instances=1)
    lb.on_job(duration=None)
    ids = [submit(batch, f"j{i}", "fifo") for i in range(103)]  # one runs, 102 wait
    lb.advance(1)
    (running,) = [j["jobId"] for j in batch.list_service_jobs(jobQueue="fifo", jobStatus="RUNNING")["jobSummaryList"]]
    # All created in the same millisecond: they wait in jobId order (spec §3.2).
    waiting = sorted(set(ids) - {running})
    before = front(batch.get_job_queue_snapshot(jobQueue="fifo"))
    assert before == [(job_id, T0_MS) for job_id in waiting[:100]]
    lb.advance(5)
    ids += [submit(batch, f"late{i}", "fifo") for i in range(3)]
    lb.advance(1)
    assert front(batch.get_job_queue_snapshot(jobQueue="fifo")) == before
    lb.complete(running)  # the first waiting job starts at T0+7s: every job moves up one
    lb.advance(1)
    assert front(batch.get_job_queue_snapshot(jobQueue="fifo")) == [
        (job_id, T0_MS + 7000) for job_id in waiting[1:101]]


def test_a_job_entering_the_front_moves_only_the_jobs_at_and_behind_its_place(batch, lb):
    """Spec §5: earliestTimeAtPosition changes only with a job's index. Shares
    A and B are full, so their waiting jobs merge by when they became RUNNABLE
    (Phase B's FIFO order of each share's head): head, a1, b1, a2, b2, ... A
    job of A that sorts right behind A's head but is the newest of all holds
    A back: every B job comes first, then A's."""
    quota_queue(batch, lb, {GPU: 2})
    share(batch, lb, "A", "RESERVE")
    share(batch, lb, "B", "RESERVE")
    lb.on_job(duration=None)
    submit(batch, "a-run", quotaShareName="A")
    submit(batch, "b-run", quotaShareName="B")
    lb.advance(1)
    head = submit(batch, "head", quotaShareName="A", schedulingPriority=9)
    a_jobs, b_jobs = [], []
    for i in range(60):
        lb.advance(0.001)
        a_jobs.append(submit(batch, f"a{i}", quotaShareName="A"))
        lb.advance(0.001)
        b_jobs.append(submit(batch, f"b{i}", quotaShareName="B"))
    lb.advance(1)
    order = [job_id for pair in zip(a_jobs, b_jobs) for job_id in pair]
    first = front(batch.get_job_queue_snapshot(jobQueue="training"))
    assert [job_id for job_id, _ in first] == [head, *order[:99]]
    head_since = first[0][1]
    lb.advance(10)
    entered_ms = lb.now_ms
    newcomer = submit(batch, "newcomer", quotaShareName="A", schedulingPriority=5)  # right behind A's head
    lb.advance(1)
    after = front(batch.get_job_queue_snapshot(jobQueue="training"))
    assert [job_id for job_id, _ in after] == [head, *b_jobs, newcomer, *a_jobs[:38]]
    assert after[0] == (head, head_since)  # its index did not change
    assert {since for _, since in after[1:]} == {entered_ms}
    lb.advance(10)
    submit(batch, "last", quotaShareName="B")  # behind every job of B: nothing moves
    lb.advance(1)
    assert front(batch.get_job_queue_snapshot(jobQueue="training")) == after
