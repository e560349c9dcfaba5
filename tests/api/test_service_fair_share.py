"""Fair-share SAGEMAKER_TRAINING queues through a real boto3 client, as golden
timelines (spec §1.5, §3.3, §3.5 last paragraph, §4.4, §5, §7 rows 16-17).

Each timeline line is `(seconds after T0, job, status, reason)`; most tests
keep only the moves to SCHEDULED, i.e. the dispatch order (service capacity
is held from SCHEDULED). The clock is frozen at T0. Jobs need 1 instance
unless said otherwise; job names start with their share identifier. To make
every job RUNNABLE before the first pass (as when a queue backs up on AWS),
the service environment is disabled while they are submitted (`held`).

Scores by hand: score = weight × (decayed usage / D + instances in use), the
lowest goes first; ties go to the share whose next job was created first,
then to the identifier that sorts first. Jobs created in the same
millisecond go by jobId (spec §3.2, §3.3 step 3), so where a test needs a
share's jobs in submission order it submits them a millisecond apart
(`next_ms`): each round of submissions one millisecond after the last.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from typing import Any

import pytest
import time_machine
from freezegun import freeze_time

import localbatch
from localbatch.engine.schedulers import service_fair_share
from tests.api.test_service_jobs_support import (
    CPU,
    GPU,
    T0,
    T0_MS,
    client,
    describe,
    fifo_queue,
    frozen_lb,
    submit,
    transitions,
)
from tests.helpers import client_error

WEIGHTS = [
    {"shareIdentifier": "a", "weightFactor": 1.0},
    {"shareIdentifier": "b", "weightFactor": 0.5},
    {"shareIdentifier": "research*", "weightFactor": 0.25},
]
SE = "training-se"


@pytest.fixture
def lb():
    yield from frozen_lb()


@pytest.fixture
def batch(lb):
    return client()


def fair_queue(batch, lb, max_instances: int = 4, shares: list[dict[str, Any]] = WEIGHTS, **policy: Any) -> str:
    """A service environment of `max_instances` instances, a fair-share policy and queue `training` using them."""
    arn = batch.create_scheduling_policy(
        name="fair", fairsharePolicy={"shareDistribution": shares, **policy}
    )["arn"]
    fifo_queue(batch, lb, "training", max_instances=max_instances, schedulingPolicyArn=arn)
    return arn


def job(batch, name: str, share: str | None = None, **extra: Any) -> str:
    share = share or name.rstrip("0123456789-").split("-")[0]
    return submit(batch, name, shareIdentifier=share, **extra)


@contextmanager
def held(batch, lb) -> Iterator[None]:
    """Submissions inside wait RUNNABLE together; the first pass sees them all."""
    batch.update_service_environment(serviceEnvironment=SE, state="DISABLED")
    lb.advance(0)
    yield
    lb.advance(0)
    batch.update_service_environment(serviceEnvironment=SE, state="ENABLED")
    lb.advance(0)


def next_ms(lb) -> None:
    """Move the clock one millisecond: what is submitted next is created after
    what came before (same-millisecond jobs go by jobId, spec §3.2)."""
    lb.advance(0.001)


def scheduled(lb) -> list[tuple]:
    """(seconds, job) of every dispatch, in order."""
    return [(t, name) for t, name, _, _ in transitions(lb, kinds={"SCHEDULED"})]


def holding(batch) -> dict[str, int]:
    """Instances held per share (SCHEDULED, STARTING, RUNNING jobs)."""
    out: dict[str, int] = {}
    for status in ("SCHEDULED", "STARTING", "RUNNING"):
        for summary in batch.list_service_jobs(jobQueue="training", jobStatus=status)["jobSummaryList"]:
            n = int(sum(u["quantity"] for u in summary["capacityUsage"]))
            out[summary["shareIdentifier"]] = out.get(summary["shareIdentifier"], 0) + n
    return out


def names_of(batch, snapshot: dict[str, Any]) -> list[str]:
    return [describe(batch, entry["jobArn"])["jobName"] for entry in snapshot["frontOfQueue"]["jobs"]]


# == weights (spec §1.5, §3.3) ======================================================================


def test_weights_one_and_a_half_split_instances_one_to_two(batch, lb):
    fair_queue(batch, lb, max_instances=6)
    lb.on_job(duration=10)
    with held(batch, lb):
        for i in range(6):
            next_ms(lb)
            job(batch, f"a{i}")
            job(batch, f"b{i}")
    lb.advance(30)
    # The queue opens 6 ms after T0 (six rounds a millisecond apart).
    # t=0: a 0|b 0 (tie, same round: a sorts first) a0 -> a 1|b 0: b0 -> b .5: b1 -> a 1|b 1 (tie: a1 was
    # created before b2): a1 -> b2 -> b3: 2 vs 4.
    # t=10: both held 2 : 4 instances for 10 s, weights 1 : 0.5 -> equal scores again, so the same again
    # until b runs out of jobs.
    assert scheduled(lb) == [
        (0.006, "a0"), (0.006, "b0"), (0.006, "b1"), (0.006, "a1"), (0.006, "b2"), (0.006, "b3"),
        (10.006, "a2"), (10.006, "b4"), (10.006, "b5"), (10.006, "a3"), (10.006, "a4"), (10.006, "a5"),
    ]


def test_held_instances_split_one_to_two_while_both_shares_wait(batch, lb):
    fair_queue(batch, lb, max_instances=6)
    lb.on_job(duration=None)
    with held(batch, lb):
        for i in range(10):
            job(batch, f"a{i}")
            job(batch, f"b{i}")
    assert holding(batch) == {"a": 2, "b": 4}


def test_instances_not_jobs_are_what_a_share_uses(batch, lb):
    fair_queue(batch, lb, max_instances=6, shares=[])
    lb.on_job(duration=None)
    with held(batch, lb):
        for i in range(6):  # rounds a millisecond apart: big0 small0 | big1 small1 | big2 small2 | small3 ...
            next_ms(lb)
            if i < 3:
                job(batch, f"big{i}", count=3)  # 3 instances each
            job(batch, f"small{i}")
    # big0 (tie, same round: "big" sorts first) gives big 3 instances: small takes three 1-instance jobs
    # before the tie at 3 goes to big again (big1 was created before small3), whose next job does not fit:
    # the queue stops (head-of-line).
    assert scheduled(lb) == [(0.006, "big0"), (0.006, "small0"), (0.006, "small1"), (0.006, "small2")]
    assert holding(batch) == {"big": 3, "small": 3}


def test_prefix_weight_applies_to_every_matching_identifier(batch, lb):
    fair_queue(batch, lb, max_instances=10)
    lb.on_job(duration=None)
    with held(batch, lb):
        for i in range(6):
            next_ms(lb)
            for share in ("research1", "research2", "c", "d"):  # c and d are not listed: weight 1.0
                job(batch, f"{share}-{i}", share=share)
    # research1 and research2 each weigh 0.25 (the research* entry): 4 instances each for c's and d's 1.
    assert holding(batch) == {"research1": 4, "research2": 4, "c": 1, "d": 1}
    for name in ("research1-4", "research2-5"):
        (waiting,) = batch.list_service_jobs(
            jobQueue="training", filters=[{"name": "JOB_NAME", "values": [name]}])["jobSummaryList"]
        assert waiting["status"] == "RUNNABLE"
        assert "weight 0.25 (shareDistribution entry research*)" in lb.explain(waiting["jobId"])


# == decay (spec §3.3 steps 1-2) ======================================================================


def _burst_then_both(batch, lb, gap: float) -> list[tuple]:
    """Share a holds all 4 instances for 600 s; `gap` seconds later a and b each submit 4 jobs."""
    fair_queue(batch, lb, max_instances=4, shares=[], shareDecaySeconds=600)
    lb.on_job("early*", duration=600)
    lb.on_job("a*", duration=None)
    lb.on_job("b*", duration=None)
    for i in range(4):
        job(batch, f"early{i}", share="a")
    lb.advance(600 + gap - 0.004)  # the four rounds below take 4 ms: the queue opens at 600 + gap
    with held(batch, lb):
        for i in range(4):
            next_ms(lb)
            job(batch, f"a{i}")
            job(batch, f"b{i}")
    return scheduled(lb)[4:]


def test_recent_usage_sends_the_other_share_first(batch, lb):
    # 60 s after a's burst its decayed usage is 4·(600−60)²/(1200·600) = 1.62 instances: b takes two jobs
    # before a's score is the lowest again, then b's 2 < a's 2.62.
    assert _burst_then_both(batch, lb, gap=60) == [(660, "b0"), (660, "b1"), (660, "a0"), (660, "b2")]


def test_burst_just_ended_weighs_half_a_window(batch, lb):
    # Right after the burst: 4 instances × D/2 of decayed usage = 2 on average: b, b, then a tie at 2 (a first).
    assert _burst_then_both(batch, lb, gap=0) == [(600, "b0"), (600, "b1"), (600, "a0"), (600, "b2")]


def test_share_idle_longer_than_the_window_is_treated_as_new(batch, lb):
    # 600 s after the burst ended nothing of it is left: a and b alternate, a first, as two new shares.
    assert _burst_then_both(batch, lb, gap=600) == [(1200, "a0"), (1200, "b0"), (1200, "a1"), (1200, "b1")]
    backend = lb.backend()
    text = service_fair_share.share_text(backend, backend.job_queues.get("training"), "a")
    assert "decayed usage 0 instance-seconds" in text


DECAY_GOLDEN = [
    (0, "a0"), (0, "a1"), (0, "a2"), (0, "a3"),
    # t=300: a's four jobs end; b arrived just after 100; a's decayed usage is 4·(300−300²/1200)/600 = 1.5 instances.
    (300, "b0"), (300, "b1"), (300, "a4"), (300, "b2"),
    # t=600: a4, b0-b2 end. a: 4 instances over [0, 300] and 1 over [300, 600], decayed: (300 + 225)/600 =
    # 0.875; b: 3 over [300, 600]: 675/600 = 1.125. a's burst has decayed below b's usage: a goes first.
    (600, "a5"), (600, "b3"), (600, "a6"), (600, "b4"),
    # t=900: the window is [300, 900]: a 525/600 = 0.875, b 675/600 = 1.125 again.
    (900, "a7"), (900, "b5"),
]


def _decay_scenario(lb, move) -> list[tuple]:
    batch = client()
    fair_queue(batch, lb, max_instances=4, shares=[], shareDecaySeconds=600)
    lb.on_job(duration=300)
    # The jobs that wait are created apart, so each share's wait in submission order (same-millisecond
    # jobs go by jobId); 2 ms apart, as freezegun's float clock can round a 1 ms step away.
    for i in range(8):
        if i >= 4:
            move(0.002)
        job(batch, f"a{i}")
    move(100)
    for i in range(6):
        move(0.002)
        job(batch, f"b{i}")
    for _ in range(12):  # 100 s steps, each followed by a call that runs what fell due
        move(100)
        batch.list_service_jobs(jobQueue="training")
    start = min(row["time_ms"] for row in lb.timeline())
    return [((row["time_ms"] - start) / 1000, row["job_name"]) for row in lb.timeline() if row["to"] == "SCHEDULED"]


@contextmanager
def _lb_advance() -> Iterator[tuple]:
    with time_machine.travel(T0, tick=False), localbatch.patch() as lb:
        yield lb, lb.advance


@contextmanager
def _freezegun_tick() -> Iterator[tuple]:
    with freeze_time("2026-01-01") as clock, localbatch.patch() as lb:
        yield lb, lambda seconds: clock.tick(timedelta(seconds=seconds))


@contextmanager
def _time_machine_travel() -> Iterator[tuple]:
    with time_machine.travel(T0, tick=False) as traveller, localbatch.patch() as lb:
        yield lb, traveller.shift


@pytest.mark.parametrize("clock", [_lb_advance, _freezegun_tick, _time_machine_travel],
                         ids=["lb.advance", "freezegun tick", "time_machine travel"])
def test_decay_timeline_is_the_same_whichever_way_time_moves(clock):
    with clock() as (lb, move):
        assert _decay_scenario(lb, move) == DECAY_GOLDEN


# == compute reservation (spec §1.5, §3.3 step 4) ======================================================


def test_reservation_keeps_instances_for_shares_not_yet_running(batch, lb):
    fair_queue(batch, lb, max_instances=4, shares=[], computeReservation=50)
    lb.on_job(duration=None)
    for i in range(4):  # a millisecond apart: a2 waits before a3
        job(batch, f"a{i}")
        next_ms(lb)
    # a0 may use the reserve (a held nothing); then R = 50 % of 4 = 2: a may only grow to 2 instances.
    assert holding(batch) == {"a": 2}
    backend = lb.backend()
    queue = backend.job_queues.get("training")
    jobs = backend.service_jobs.queues[queue.arn]
    # The pass ended with share a sitting out: the frontOfQueue recorded from where it stopped still shows a.
    assert [j.name for j in jobs.front_jobs] == ["a2", "a3"]
    assert jobs.front_jobs == service_fair_share.front_order(backend, queue, jobs)
    lb.advance(9.996)  # to T0 + 10 s
    job(batch, "b0")
    next_ms(lb)
    job(batch, "b1")
    # b0 starts in the reserve; with 2 shares holding instances R = 25 % of 4 = 1, kept free for a third.
    assert holding(batch) == {"a": 2, "b": 1}
    lb.advance(9.999)  # to T0 + 20 s
    job(batch, "c0")
    assert holding(batch) == {"a": 2, "b": 1, "c": 1}
    assert scheduled(lb) == [(0, "a0"), (0.001, "a1"), (10, "b0"), (20, "c0")]
    (a2,) = batch.list_service_jobs(jobQueue="training", filters=[
        {"name": "JOB_NAME", "values": ["a2"]}])["jobSummaryList"]
    assert a2["status"] == "RUNNABLE"
    assert "statusReason" not in a2  # the reserve is no blocked reason
    # b (1 instance since 10 s, score 1.008) before a (2 since T0, score 2.066).
    assert [j.name for j in jobs.front_jobs] == ["b1", "a2", "a3"]
    assert jobs.front_jobs == service_fair_share.front_order(backend, queue, jobs)


def test_reserve_explained(batch, lb):
    fair_queue(batch, lb, max_instances=4, shares=[], computeReservation=50)
    lb.on_job(duration=None)
    ids = [job(batch, f"a{i}") for i in range(3)]
    text = lb.explain(ids[2])
    assert "share a: weight 1 (no shareDistribution entry, default)" in text
    assert text.endswith(
        "its share is served first, but it already holds 2 instances and the compute reservation keeps "
        "2 instances of 4 for shares not yet running (2 in use, the job needs 1)."
    )


def test_share_without_reservation_fills_the_queue(batch, lb):
    fair_queue(batch, lb, max_instances=4, shares=[])
    lb.on_job(duration=None)
    for i in range(5):
        job(batch, f"a{i}")
    assert holding(batch) == {"a": 4}


# == priority inside a share (spec §3.3 step 3, §4.4) ===================================================


def test_priority_orders_jobs_within_a_share_and_not_across(batch, lb):
    fair_queue(batch, lb, max_instances=2, shares=[])
    lb.on_job(duration=10)
    with held(batch, lb):
        job(batch, "a-low", schedulingPriority=1)
        job(batch, "a-high", schedulingPriority=9)
        job(batch, "b-low", schedulingPriority=1)
        job(batch, "a-mid", schedulingPriority=5)
        job(batch, "b-zero")  # no priority: 0
    lb.advance(30)
    # Inside a: 9, 5, 1. Across shares priority means nothing: b's 1 and 0 run as early as a's 9 and 5.
    assert scheduled(lb) == [
        (0, "a-high"), (0, "b-low"), (10, "a-mid"), (10, "b-zero"), (20, "a-low"),
    ]


def test_update_service_job_priority_is_used_from_the_next_pass(batch, lb):
    fair_queue(batch, lb, max_instances=1, shares=[])
    lb.on_job(duration=None)
    running = job(batch, "a-run")
    ids = {}
    for name in ("a1", "a2", "a3"):
        next_ms(lb)
        ids[name] = job(batch, name)
    assert names_of(batch, batch.get_job_queue_snapshot(jobQueue="training")) == ["a1", "a2", "a3"]
    lb.advance(4.997)  # to T0 + 5 s
    batch.update_service_job(jobId=ids["a3"], schedulingPriority=9)
    # The pass the update asked for saw nothing free, but frontOfQueue already shows the new order.
    snapshot = batch.get_job_queue_snapshot(jobQueue="training")
    assert names_of(batch, snapshot) == ["a3", "a1", "a2"]
    assert [e["earliestTimeAtPosition"] for e in snapshot["frontOfQueue"]["jobs"]] == [T0_MS + 5000] * 3
    lb.advance(5)
    lb.complete(running)
    assert scheduled(lb) == [(0, "a-run"), (10, "a3")]
    assert describe(batch, ids["a3"])["schedulingPriority"] == 9


# == live policy changes (spec §1.5) ===================================================================


def test_policy_update_takes_effect_at_the_next_pass(batch, lb):
    arn = fair_queue(batch, lb, max_instances=4, shares=[], computeReservation=50)
    lb.on_job(duration=None)
    for i in range(4):
        job(batch, f"a{i}")
        next_ms(lb)
    assert holding(batch) == {"a": 2}
    lb.advance(2.996)  # to T0 + 3 s
    batch.update_scheduling_policy(arn=arn, fairsharePolicy={"computeReservation": 0})
    assert holding(batch) == {"a": 4}
    assert scheduled(lb) == [(0, "a0"), (0.001, "a1"), (3, "a2"), (3, "a3")]


def test_new_weights_apply_to_the_next_pass(batch, lb):
    arn = fair_queue(batch, lb, max_instances=9, shares=[])
    lb.on_job(duration=10)
    with held(batch, lb):
        for i in range(20):
            job(batch, f"a{i}")
            job(batch, f"b{i}")
    assert holding(batch) == {"a": 5, "b": 4}  # equal weights: turn about, a first
    lb.advance(5)
    batch.update_scheduling_policy(arn=arn, fairsharePolicy={
        "shareDistribution": [{"shareIdentifier": "a", "weightFactor": 0.125}]})
    assert holding(batch) == {"a": 5, "b": 4}  # a pass ran, but nothing was free
    lb.advance(5)
    # a now weighs 1/8 of b: of the 9 instances freed at t=10 a takes 8.
    assert holding(batch) == {"a": 8, "b": 1}


# == the 500 active share identifiers (spec §3.3, §7 row 17) ===========================================


def test_at_most_500_active_share_identifiers(batch, lb):
    fair_queue(batch, lb, shares=[])
    lb.on_job(duration=0)
    batch.update_service_environment(serviceEnvironment=SE, state="DISABLED")
    lb.advance(0)
    for i in range(500):
        job(batch, f"s{i}", share=f"s{i}")
    with pytest.raises(batch.exceptions.ClientException) as e:
        job(batch, "new", share="s500")
    assert client_error(e) == "Exceeded the limit of 500 active share identifiers for job queue training"
    job(batch, "again", share="s7")  # a share that is already active takes more jobs
    batch.update_service_environment(serviceEnvironment=SE, state="ENABLED")
    lb.advance(0)
    assert len(batch.list_service_jobs(jobQueue="training", jobStatus="SUCCEEDED")["jobSummaryList"]) == 100
    lb.advance(1)  # 4 instances, 0 s jobs: every job has run by now, and ended at T0
    # Shares stay active for one decay window (600 s) after their last job ended.
    lb.advance(598.999)
    with pytest.raises(batch.exceptions.ClientException):
        job(batch, "new", share="s500")
    lb.advance(0.001)
    job(batch, "new", share="s500")


# == GetJobQueueSnapshot (spec §5) ========================================================================


def test_front_of_queue_is_the_order_jobs_then_start(batch, lb):
    fair_queue(batch, lb, max_instances=7)
    lb.on_job(duration=None)
    with held(batch, lb):
        for i in range(5):
            next_ms(lb)
            for share in ("a", "b", "research1"):
                job(batch, f"{share}-{i}", share=share)
        front = names_of(batch, batch.get_job_queue_snapshot(jobQueue="training"))
        assert len(front) == 15
    dispatched = [name for _, name in scheduled(lb)]
    assert dispatched == front[:7]
    # All scores 0 at first, ties (candidates of one round) by identifier: a, b, research1; research1 then
    # catches up at 0.25 a job (b-1 before research1-2 at 0.5: created a round earlier).
    assert dispatched == ["a-0", "b-0", "research1-0", "research1-1", "b-1", "research1-2", "research1-3"]


def test_snapshot_of_a_fair_share_queue(batch, lb):
    fair_queue(batch, lb, max_instances=3)
    lb.on_job(duration=None)
    ids = {}
    with held(batch, lb):
        for i in range(4):
            next_ms(lb)
            ids.update({f"{share}{i}": job(batch, f"{share}{i}") for share in ("a", "b")})
    opened = T0_MS + 4  # four rounds a millisecond apart
    snapshot = batch.get_job_queue_snapshot(jobQueue="training")
    # Holding: a0, b0, b1 (a 1 instance, b 2 at weight 0.5: both score 1). Next: a1 (tie, a1 was created
    # before b2), then b2 (b 1 < a 2), b3 (b 1.5 < a 2), a2 (a 2 = b 2, b has no job left), a3.
    assert names_of(batch, snapshot) == ["a1", "b2", "b3", "a2", "a3"]
    assert all(entry["earliestTimeAtPosition"] == opened for entry in snapshot["frontOfQueue"]["jobs"])
    utilization = snapshot["queueUtilization"]
    assert utilization["totalCapacityUsage"] == [{"capacityUnit": GPU, "quantity": 3.0}]
    assert utilization["fairshareUtilization"] == {
        "activeShareCount": 2,
        "topCapacityUtilization": [
            {"shareIdentifier": "b", "capacityUsage": [{"capacityUnit": GPU, "quantity": 2.0}]},
            {"shareIdentifier": "a", "capacityUsage": [{"capacityUnit": GPU, "quantity": 1.0}]},
        ],
    }
    assert "frontOfQuotaShares" not in snapshot and "quotaShareUtilization" not in utilization
    lb.advance(5)
    # b drops to 1 instance: b2 takes it. a (1 × 5 s) and b (2 × 5 s at weight 0.5) tie again.
    lb.complete(ids["b0"])
    front = batch.get_job_queue_snapshot(jobQueue="training")["frontOfQueue"]["jobs"]
    assert names_of(batch, {"frontOfQueue": {"jobs": front}})[:2] == ["a1", "b3"]
    # a1 kept index 0 since the queue opened; b3 moved up from index 2 5 s later.
    assert [entry["earliestTimeAtPosition"] for entry in front][:2] == [opened, opened + 5000]
    assert describe(batch, ids["b2"])["status"] == "RUNNING"


def test_utilization_per_instance_type_and_top_20_shares(batch, lb):
    fair_queue(batch, lb, max_instances=64, shares=[])
    lb.on_job(duration=None)
    for i in range(25):
        for j in range(1 + i % 3):
            job(batch, f"s{i:02d}-{j}", share=f"s{i:02d}")
    job(batch, "s00-cpu", share="s00", instance_type=CPU, count=2)
    snapshot = batch.get_job_queue_snapshot(jobQueue="training")
    util = snapshot["queueUtilization"]["fairshareUtilization"]
    assert util["activeShareCount"] == 25
    top = util["topCapacityUtilization"]
    assert len(top) == 20
    # s00 holds 1 GPU instance and 2 CPU ones: 3 in all, like s02, s05...; most first, ties by identifier.
    assert top[:3] == [
        {"shareIdentifier": "s00", "capacityUsage": [
            {"capacityUnit": GPU, "quantity": 1.0}, {"capacityUnit": CPU, "quantity": 2.0}]},
        {"shareIdentifier": "s02", "capacityUsage": [{"capacityUnit": GPU, "quantity": 3.0}]},
        {"shareIdentifier": "s05", "capacityUsage": [{"capacityUnit": GPU, "quantity": 3.0}]},
    ]
    # 9 shares hold 3, 8 hold 2, and 8 hold 1: the 20th is the third of those, s09.
    assert top[-1] == {"shareIdentifier": "s09", "capacityUsage": [{"capacityUnit": GPU, "quantity": 1.0}]}
    assert snapshot["queueUtilization"]["totalCapacityUsage"] == [
        {"capacityUnit": GPU, "quantity": 49.0}, {"capacityUnit": CPU, "quantity": 2.0},
    ]


def test_empty_fair_share_queue_snapshot(batch, lb):
    fair_queue(batch, lb)
    snapshot = batch.get_job_queue_snapshot(jobQueue="training")
    assert snapshot["frontOfQueue"]["jobs"] == []
    assert snapshot["queueUtilization"]["fairshareUtilization"] == {"activeShareCount": 0, "topCapacityUtilization": []}


# == blocked heads (spec §2.9) ==============================================================================


def test_a_head_larger_than_the_environment_blocks_the_queue(batch, lb):
    fair_queue(batch, lb, max_instances=2, shares=[])
    lb.on_job(duration=None)
    with held(batch, lb):
        huge = job(batch, "a-huge", count=3)
        job(batch, "b0")
    # a and b tie at 0 and a sorts first: its head can never fit, and nothing passes it.
    assert describe(batch, huge)["statusReason"].startswith("MISCONFIGURATION:SERVICE_ENVIRONMENT_MAX_RESOURCE")
    assert scheduled(lb) == []
    assert "It is blocked at the head of its queue: MISCONFIGURATION" in lb.explain(huge)
    batch.terminate_service_job(jobId=huge, reason="too big")
    lb.advance(0)
    assert scheduled(lb) == [(0, "b0")]


def test_a_head_whose_instances_are_short_waits_with_the_capacity_reason(batch, lb):
    fair_queue(batch, lb, max_instances=4, shares=[])
    lb.on_job(duration=None)
    lb.insufficient_capacity(SE, [CPU])
    with held(batch, lb):
        cpu = job(batch, "a-cpu", instance_type=CPU)
        job(batch, "b-gpu")
    assert describe(batch, cpu)["statusReason"] == (
        "CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - Service cannot fulfill the capacity requested for instance "
        f"type [{CPU}]"
    )
    assert scheduled(lb) == []  # a's head goes first and waits: the queue stops
    lb.advance(7)
    lb.restore_capacity(SE)
    assert scheduled(lb) == [(7, "a-cpu"), (7, "b-gpu")]
    assert "statusReason" not in describe(batch, cpu)


# == lb.explain ==============================================================================================


def test_explain_names_share_weight_usage_and_who_goes_first(batch, lb):
    fair_queue(batch, lb, max_instances=3)
    lb.on_job(duration=None)
    with held(batch, lb):
        for i in range(3):
            next_ms(lb)
            job(batch, f"a{i}")
            job(batch, f"b{i}")
    c0 = job(batch, "c0", share="c")
    waiting = {j["jobName"]: j["jobId"]
               for j in batch.list_service_jobs(jobQueue="training", jobStatus="RUNNABLE")["jobSummaryList"]}
    assert sorted(waiting) == ["a1", "a2", "b2", "c0"]
    # a holds 1 instance (score 1), b 2 at weight 0.5 (score 1), c nothing (score 0).
    assert lb.explain(c0) == (
        f"Service job {c0} (c0) in share c of job queue training is RUNNABLE; it needs 1 x {GPU}. It is at "
        "position 0 of frontOfQueue; share c: weight 1 (no shareDistribution entry, default), decayed usage 0 "
        "instance-seconds over the last 600 s (an average of 0 instances), 0 instances in use now, score 0; it "
        "is the next job the queue dispatches; service environment training-se has 3 of 3 instances in use and "
        "the job needs 1."
    )
    assert lb.explain(waiting["a1"]).endswith(
        "share a: weight 1 (shareDistribution entry a), decayed usage 0 instance-seconds over the last 600 s "
        "(an average of 0 instances), 1 instance in use now, score 1; share c goes first with score 0 (weight 1 "
        "× usage 0 instances) against 1 (weight 1 × usage 1 instance): less recent usage."
    )
    assert "; 1 job of share a goes first" in lb.explain(waiting["a2"])
    assert lb.explain(waiting["b2"]).endswith(
        "share c goes first with score 0 (weight 1 × usage 0 instances) against 1 (weight 0.5 × usage "
        "2 instances): its lower usage outweighs its higher weight."
    )
    running = batch.list_service_jobs(jobQueue="training")["jobSummaryList"][0]["jobId"]
    assert "is RUNNING" in lb.explain(running) and "; share " in lb.explain(running)
    lb.advance(300)
    # 300 s on, a's one instance adds up to 300 − 300²/1200 = 225 instance-seconds of decayed usage,
    # 0.375 instances on average: score 1.375, and c (score 0) still goes first.
    assert lb.explain(waiting["a1"]).endswith(
        "decayed usage 225 instance-seconds over the last 600 s (an average of 0.375 instances), 1 instance in "
        "use now, score 1.375; share c goes first with score 0 (weight 1 × usage 0 instances) against 1.375 "
        "(weight 1 × usage 1.375 instances): less recent usage."
    )


def test_explain_of_a_fifo_service_job_names_no_share(batch, lb):
    fifo_queue(batch, lb, "training", max_instances=1)
    lb.on_job(duration=None)
    submit(batch, "x")
    waiting = submit(batch, "y")
    assert "share" not in lb.explain(waiting)


# == the report colours service jobs by share ===============================================================


def test_report_colours_service_jobs_by_share(batch, lb, tmp_path):
    fair_queue(batch, lb, max_instances=2)
    lb.on_job(duration=10)
    with held(batch, lb):
        for i in range(2):
            job(batch, f"a{i}")
            job(batch, f"b{i}")
    lb.advance(30)
    path = tmp_path / "report.html"
    lb.report(str(path))
    page = path.read_text()
    assert page.count('class="share-chip" data-share="a"') == 2
    assert page.count('class="share-chip" data-share="b"') == 2
    assert "Job queue training: instances held by each share" in page


def test_decay_alone_lets_another_share_go_first_at_the_next_tick(batch, lb):
    """Spec §3.1, as for container queues (tests/api/test_fair_share.py), in
    instances: b's history decays while a holds one instance, so 150 s after
    the setup b's 1-instance job comes first, with no event at all, and takes
    an instance a's 4-instance head cannot use."""
    fair_queue(batch, lb, max_instances=4, shares=[{"shareIdentifier": "a", "weightFactor": 1.0},
                                                  {"shareIdentifier": "b", "weightFactor": 1.0}])
    lb.on_job("b-old", duration=600)
    lb.on_job("a-*", duration=None)
    lb.on_job("b-small", duration=None)
    job(batch, "b-old", count=4)
    lb.advance(600)
    job(batch, "a-run")
    a_big = job(batch, "a-big", count=4)
    b_small = job(batch, "b-small")
    lb.advance(0)
    assert (describe(batch, a_big)["status"], describe(batch, b_small)["status"]) == ("RUNNABLE", "RUNNABLE")
    lb.advance(120)
    assert describe(batch, b_small)["status"] == "RUNNABLE"  # at 720 s b still scores above a
    lb.advance(30)  # no event falls due: only time moved
    assert (describe(batch, a_big)["status"], describe(batch, b_small)["status"]) == ("RUNNABLE", "RUNNING")
    assert describe(batch, b_small)["scheduledAt"] == T0_MS + 750_000
