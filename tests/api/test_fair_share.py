"""Fair-share queues through a real boto3 client, as golden timelines
(spec §1.5, §2.2 step 5, §3.3, §7 rows 5, 15-17, 26).

Each timeline line is `<seconds after T0> <job> <from>><to>`; most tests
keep only the RUNNABLE>STARTING lines, i.e. the dispatch order. The clock is
frozen at T0. Jobs are 1 vCPU unless said otherwise; job names start with
their share identifier. To make every job RUNNABLE before the first pass
(as when a queue backs up on AWS), the compute environment is disabled
while they are submitted.

Scores by hand: score = weight × (decayed usage / D + vCPUs in use), the
lowest goes first; ties go to the share whose next job was created first,
then to the identifier that sorts first. Jobs created in the same
millisecond go by jobId (spec §3.2, §3.3 step 3), so where a test needs a
share's jobs in submission order it submits them a millisecond apart
(`next_ms`): each round of submissions one millisecond after the last.
"""

from __future__ import annotations

from contextlib import contextmanager
from datetime import timedelta
from typing import Iterator

import boto3
import pytest
import time_machine
from freezegun import freeze_time

import localbatch
from localbatch.engine.schedulers import fair_share
from tests.api.test_jobs import ARN, T0, compute_environment, describe, frozen, job_definition, job_queue, status
from tests.api.test_jobs_scheduling import timeline
from tests.helpers import client_error

__all__ = ["frozen"]  # the fixture, imported for this module

pytestmark = pytest.mark.usefixtures("frozen")

WEIGHTS = [
    {"shareIdentifier": "a", "weightFactor": 1.0},
    {"shareIdentifier": "b", "weightFactor": 0.5},
    {"shareIdentifier": "research*", "weightFactor": 0.25},
]


def fair_queue(batch, max_vcpus=4, shares=WEIGHTS, name="q", **policy) -> str:
    """A compute environment, a fair-share policy, a queue using it, and JD `jd` (1 vCPU)."""
    compute_environment(batch, max_vcpus=max_vcpus)
    arn = batch.create_scheduling_policy(
        name="fair", fairsharePolicy={"shareDistribution": shares, **policy}
    )["arn"]
    job_queue(batch, name=name, schedulingPolicyArn=arn)
    job_definition(batch)
    return arn


def submit(batch, name, share=None, queue="q", definition="jd", **kwargs) -> str:
    share = share or name.rstrip("0123456789-").split("-")[0]
    return batch.submit_job(
        jobName=name, jobQueue=queue, jobDefinition=definition, shareIdentifier=share, **kwargs
    )["jobId"]


@contextmanager
def held(batch, ce="ce") -> Iterator[None]:
    """Submissions inside wait RUNNABLE together; the first pass sees them all."""
    batch.update_compute_environment(computeEnvironment=ce, state="DISABLED")
    yield
    batch.describe_jobs(jobs=[])  # lets SUBMITTED jobs become RUNNABLE behind the disabled CE
    batch.update_compute_environment(computeEnvironment=ce, state="ENABLED")


def next_ms(lb) -> None:
    """Move the clock one millisecond: what is submitted next is created after
    what came before (same-millisecond jobs go by jobId, spec §3.2)."""
    lb.advance(0.001)


def starts(lb) -> list[str]:
    return timeline(lb, moves={"STARTING"})


def shares_running(batch) -> dict[str, int]:
    out: dict[str, int] = {}
    for status_ in ("STARTING", "RUNNING"):
        for job in batch.list_jobs(jobQueue="q", jobStatus=status_)["jobSummaryList"]:
            out[job["shareIdentifier"]] = out.get(job["shareIdentifier"], 0) + 1
    return out


# == weights (spec §1.5, §3.3) ======================================================================


def test_weights_one_and_a_half_split_capacity_one_to_two(batch, lb):
    fair_queue(batch, max_vcpus=6)
    lb.on_job("*", duration=10)
    with held(batch):
        for i in range(6):
            next_ms(lb)
            submit(batch, f"a{i}")
            submit(batch, f"b{i}")
    lb.run_until_idle()
    # The queue opens 6 ms after T0 (six rounds a millisecond apart).
    # t=0: a 0|b 0 (tie, same round: a sorts first) a0 -> a 1|b 0 b0 -> b .5 b1 -> a 1|b 1 (tie: a1 was
    # created before b2) a1 -> b2 -> b3: 2 vs 4.
    # t=10: both used 2 : 4 vCPU for 10 s, weights 1 : 0.5 -> equal scores again, so the same again.
    assert starts(lb) == [
        "0.006 a0 RUNNABLE>STARTING", "0.006 b0 RUNNABLE>STARTING", "0.006 b1 RUNNABLE>STARTING",
        "0.006 a1 RUNNABLE>STARTING", "0.006 b2 RUNNABLE>STARTING", "0.006 b3 RUNNABLE>STARTING",
        "10.006 a2 RUNNABLE>STARTING", "10.006 b4 RUNNABLE>STARTING", "10.006 b5 RUNNABLE>STARTING",
        "10.006 a3 RUNNABLE>STARTING", "10.006 a4 RUNNABLE>STARTING", "10.006 a5 RUNNABLE>STARTING",
    ]


def test_held_capacity_splits_one_to_two_while_both_shares_wait(batch, lb):
    fair_queue(batch, max_vcpus=6)
    lb.on_job("*", duration=None)
    with held(batch):
        for i in range(10):
            submit(batch, f"a{i}")
            submit(batch, f"b{i}")
    assert shares_running(batch) == {"a": 2, "b": 4}


def test_prefix_weight_applies_to_every_matching_identifier(batch, lb):
    fair_queue(batch, max_vcpus=10)
    lb.on_job("*", duration=None)
    with held(batch):
        for i in range(6):
            next_ms(lb)
            for share in ("research1", "research2", "c", "d"):  # c and d are not listed: weight 1.0
                submit(batch, f"{share}-{i}", share=share)
    # research1 and research2 each weigh 0.25 (the research* entry): 4 vCPU each for c's and d's 1.
    assert shares_running(batch) == {"research1": 4, "research2": 4, "c": 1, "d": 1}
    for name in ("research1-4", "research2-5"):
        (waiting,) = batch.list_jobs(jobQueue="q", filters=[{"name": "JOB_NAME", "values": [name]}])["jobSummaryList"]
        assert waiting["status"] == "RUNNABLE"
        assert "weight 0.25 (shareDistribution entry research*)" in lb.explain(waiting["jobId"])


def test_policy_without_distribution_treats_shares_alike(batch, lb):
    fair_queue(batch, max_vcpus=4, shares=[])
    lb.on_job("*", duration=None)
    with held(batch):
        for i in range(4):
            submit(batch, f"x{i}")
        for i in range(4):
            submit(batch, f"y{i}")
    assert shares_running(batch) == {"x": 2, "y": 2}


# == decay (spec §3.3 steps 1-2) ======================================================================


def _burst_then_both(batch, lb, gap: float) -> list[str]:
    """Share a uses all 4 vCPU for 600 s; `gap` seconds later a and b each submit 4 jobs."""
    fair_queue(batch, max_vcpus=4, shares=[], shareDecaySeconds=600)
    lb.on_job("early*", duration=600)
    lb.on_job("a*", duration=None)
    lb.on_job("b*", duration=None)
    for i in range(4):
        submit(batch, f"early{i}", share="a")
    lb.advance(600 + gap - 0.004)  # the four rounds below take 4 ms: the queue opens at 600 + gap
    with held(batch):
        for i in range(4):
            next_ms(lb)
            submit(batch, f"a{i}")
            submit(batch, f"b{i}")
    return starts(lb)[4:]


def test_recent_usage_sends_the_other_share_first(batch, lb):
    # 60 s after a's burst its decayed usage is 4·(600−60)²/(1200·600) = 1.62 vCPU: b takes two jobs before
    # a's score is the lowest again, then b's 2 < a's 2.62.
    assert _burst_then_both(batch, lb, gap=60) == [
        "660 b0 RUNNABLE>STARTING", "660 b1 RUNNABLE>STARTING", "660 a0 RUNNABLE>STARTING",
        "660 b2 RUNNABLE>STARTING",
    ]


def test_burst_just_ended_weighs_half_a_window(batch, lb):
    # Right after the burst: 4 vCPU × D/2 of decayed usage = 2 vCPU on average: b, b, then a tie at 2 (a sorts first).
    assert _burst_then_both(batch, lb, gap=0) == [
        "600 b0 RUNNABLE>STARTING", "600 b1 RUNNABLE>STARTING", "600 a0 RUNNABLE>STARTING",
        "600 b2 RUNNABLE>STARTING",
    ]


def test_share_idle_longer_than_the_window_is_treated_as_new(batch, lb):
    # 600 s after the burst ended nothing of it is left: a and b alternate, a first, as two new shares.
    assert _burst_then_both(batch, lb, gap=600) == [
        "1200 a0 RUNNABLE>STARTING", "1200 b0 RUNNABLE>STARTING", "1200 a1 RUNNABLE>STARTING",
        "1200 b1 RUNNABLE>STARTING",
    ]
    backend = lb.backend()
    queue = backend.job_queues.get("q")
    assert "decayed usage 0 vCPU-seconds" in fair_share.share_text(backend, queue, "a")


def test_a_longer_window_remembers_longer(batch, lb):
    # With a one-hour window the same burst, 600 s after it ended, still weighs 4 vCPU × 450 s / 3600 s =
    # 0.5 vCPU: b goes first.
    fair_queue(batch, max_vcpus=4, shares=[], shareDecaySeconds=3600)
    lb.on_job("*", duration=None)
    lb.on_job("early*", duration=600)
    for i in range(4):
        submit(batch, f"early{i}", share="a")
    lb.advance(1200)
    with held(batch):
        submit(batch, "a0")
        submit(batch, "b0")
    assert starts(lb)[4:] == ["1200 b0 RUNNABLE>STARTING", "1200 a0 RUNNABLE>STARTING"]


# -- the same timeline whichever way time moves ---------------------------------------------------------

DECAY_GOLDEN = [
    "0 a0 RUNNABLE>STARTING", "0 a1 RUNNABLE>STARTING", "0 a2 RUNNABLE>STARTING", "0 a3 RUNNABLE>STARTING",
    # t=300: a's four jobs end; b arrived just after 100; a's decayed usage is 4·(300−300²/1200)/600 = 1.5 vCPU.
    "300 b0 RUNNABLE>STARTING", "300 b1 RUNNABLE>STARTING", "300 a4 RUNNABLE>STARTING", "300 b2 RUNNABLE>STARTING",
    # t=600: a4, b0-b2 end. a: 4 vCPU over [0, 300] and 1 over [300, 600], decayed: (300 + 225)/600 = 0.875;
    # b: 3 vCPU over [300, 600]: 675/600 = 1.125. a's burst has decayed below b's usage: a goes first.
    "600 a5 RUNNABLE>STARTING", "600 b3 RUNNABLE>STARTING", "600 a6 RUNNABLE>STARTING", "600 b4 RUNNABLE>STARTING",
    # t=900: the window is [300, 900]: a 525/600 = 0.875, b 675/600 = 1.125 again.
    "900 a7 RUNNABLE>STARTING", "900 b5 RUNNABLE>STARTING",
]


def _decay_scenario(lb, move) -> list[str]:
    batch = boto3.client("batch", region_name="us-east-1")
    fair_queue(batch, max_vcpus=4, shares=[], shareDecaySeconds=600)
    lb.on_job("*", duration=300)
    # The jobs that wait are created apart, so each share's wait in submission order (same-millisecond
    # jobs go by jobId); 2 ms apart, as freezegun's float clock can round a 1 ms step away.
    for i in range(8):
        if i >= 4:
            move(0.002)
        submit(batch, f"a{i}")
    move(100)
    for i in range(6):
        move(0.002)
        submit(batch, f"b{i}")
    for _ in range(12):  # 100 s steps, each followed by a call that runs what fell due
        move(100)
        batch.list_jobs(jobQueue="q")
    return timeline(lb, moves={"STARTING"})


@contextmanager
def _lb_advance() -> Iterator[tuple]:
    with time_machine.travel(T0 / 1000, tick=False), localbatch.patch() as lb:
        yield lb, lb.advance


@contextmanager
def _freezegun_tick() -> Iterator[tuple]:
    with freeze_time("2026-01-01") as clock, localbatch.patch() as lb:
        yield lb, lambda seconds: clock.tick(timedelta(seconds=seconds))


@contextmanager
def _time_machine_travel() -> Iterator[tuple]:
    with time_machine.travel(T0 / 1000, tick=False) as traveller, localbatch.patch() as lb:
        yield lb, traveller.shift


@pytest.mark.parametrize("clock", [_lb_advance, _freezegun_tick, _time_machine_travel],
                         ids=["lb.advance", "freezegun tick", "time_machine travel"])
def test_decay_timeline_is_the_same_whichever_way_time_moves(clock):
    with clock() as (lb, move):
        assert _decay_scenario(lb, move) == DECAY_GOLDEN


# == compute reservation (spec §1.5, §3.3 step 4) ======================================================


def test_reservation_keeps_capacity_for_shares_not_yet_running(batch, lb):
    fair_queue(batch, max_vcpus=4, shares=[], computeReservation=50)
    lb.on_job("*", duration=None)
    for i in range(4):
        submit(batch, f"a{i}")
    # a0 may use the reserve (a was not running); then R = 50 % of 4 = 2: a may only grow to 2 vCPU.
    assert shares_running(batch) == {"a": 2}
    lb.advance(10)
    submit(batch, "b0")
    submit(batch, "b1")
    # b0 starts in the reserve; with 2 shares running R = 25 % of 4 = 1, kept free for a third share.
    assert shares_running(batch) == {"a": 2, "b": 1}
    lb.advance(10)
    submit(batch, "c0")
    assert shares_running(batch) == {"a": 2, "b": 1, "c": 1}
    assert starts(lb) == [
        "0 a0 RUNNABLE>STARTING", "0 a1 RUNNABLE>STARTING", "10 b0 RUNNABLE>STARTING", "20 c0 RUNNABLE>STARTING",
    ]
    a2 = batch.list_jobs(jobQueue="q", jobStatus="RUNNABLE", filters=[
        {"name": "JOB_NAME", "values": ["a2"]}])["jobSummaryList"][0]["jobId"]
    assert status(batch, a2) == "RUNNABLE"


def test_reserve_explained(batch, lb):
    fair_queue(batch, max_vcpus=4, shares=[], computeReservation=50)
    lb.on_job("*", duration=None)
    ids = [submit(batch, f"a{i}") for i in range(3)]
    text = lb.explain(ids[2])
    assert text.startswith("RUNNABLE: share a: weight 1 (no shareDistribution entry, default)")
    assert "the compute reservation keeps 2 of 4 vCPU for shares not yet running" in text


def test_share_without_reservation_fills_the_queue(batch, lb):
    fair_queue(batch, max_vcpus=4, shares=[])
    lb.on_job("*", duration=None)
    for i in range(5):
        submit(batch, f"a{i}")
    assert shares_running(batch) == {"a": 4}


# == priority inside a share (spec §2.2, §3.3 step 3) ===================================================


def test_priority_orders_jobs_within_a_share_and_not_across(batch, lb):
    fair_queue(batch, max_vcpus=2, shares=[])
    job_definition(batch, name="jd-p5", schedulingPriority=5)
    lb.on_job("*", duration=10)
    with held(batch):
        submit(batch, "a-low", schedulingPriorityOverride=1)
        submit(batch, "a-high", schedulingPriorityOverride=9)
        submit(batch, "b-low", schedulingPriorityOverride=1)
        submit(batch, "a-mid", definition="jd-p5")  # the JD's priority: 5
        submit(batch, "b-zero")  # no override, no JD priority: 0
    lb.run_until_idle()
    # Inside a: 9, 5, 1. Across shares priority means nothing: b's 1 and 0 run as early as a's 9 and 5.
    assert starts(lb) == [
        "0 a-high RUNNABLE>STARTING", "0 b-low RUNNABLE>STARTING",
        "10 a-mid RUNNABLE>STARTING", "10 b-zero RUNNABLE>STARTING",
        "20 a-low RUNNABLE>STARTING",
    ]


def test_effective_priority_is_override_then_definition_then_zero(batch, lb):
    fair_queue(batch, shares=[])
    job_definition(batch, name="jd-p5", schedulingPriority=5)
    with held(batch):
        jobs = {
            "override": submit(batch, "a1", definition="jd-p5", schedulingPriorityOverride=7),
            "definition": submit(batch, "a2", definition="jd-p5"),
            "none": submit(batch, "a3"),
        }
        assert {k: describe(batch, v)["schedulingPriority"] for k, v in jobs.items()} == {
            "override": 7, "definition": 5, "none": 0,
        }


# == the 500 active share identifiers (spec §3.3, §7 row 17) ===========================================


def test_at_most_500_active_share_identifiers(batch, lb):
    fair_queue(batch, shares=[])
    batch.update_compute_environment(computeEnvironment="ce", state="DISABLED")
    for i in range(500):
        submit(batch, f"s{i}", share=f"s{i}")
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, "new", share="s500")
    assert client_error(e) == "Exceeded the limit of 500 active share identifiers for job queue q"
    submit(batch, "again", share="s7")  # a share that is already active takes more jobs
    batch.update_compute_environment(computeEnvironment="ce", state="ENABLED")
    lb.run_until_idle()  # every job ran (0 s) and ended at T0
    # Shares stay active for one decay window (600 s) after their last job ended.
    lb.advance(599.999)
    with pytest.raises(batch.exceptions.ClientException):
        submit(batch, "new", share="s500")
    lb.advance(0.001)
    submit(batch, "new", share="s500")


def test_limit_is_per_queue(batch, lb):
    arn = fair_queue(batch, shares=[])
    job_queue(batch, name="q2", schedulingPolicyArn=arn)
    batch.update_compute_environment(computeEnvironment="ce", state="DISABLED")
    for i in range(500):
        submit(batch, f"s{i}", share=f"s{i}")
    submit(batch, "other", share="s500", queue="q2")


# == live policy changes (spec §1.5) ===================================================================


def test_policy_update_takes_effect_at_the_next_pass(batch, lb):
    arn = fair_queue(batch, max_vcpus=4, shares=[], computeReservation=50)
    lb.on_job("*", duration=None)
    for i in range(4):
        submit(batch, f"a{i}")
        next_ms(lb)
    assert shares_running(batch) == {"a": 2}
    batch.update_scheduling_policy(arn=arn, fairsharePolicy={"computeReservation": 0})
    assert shares_running(batch) == {"a": 4}
    assert starts(lb)[2:] == ["0.004 a2 RUNNABLE>STARTING", "0.004 a3 RUNNABLE>STARTING"]


def test_new_weights_apply_to_the_next_pass(batch, lb):
    arn = fair_queue(batch, max_vcpus=9, shares=[])
    lb.on_job("*", duration=10)
    with held(batch):
        for i in range(20):
            submit(batch, f"a{i}")
            submit(batch, f"b{i}")
    assert shares_running(batch) == {"a": 5, "b": 4}  # equal weights: turn about, a first
    lb.advance(5)
    batch.update_scheduling_policy(arn=arn, fairsharePolicy={
        "shareDistribution": [{"shareIdentifier": "a", "weightFactor": 0.125}]})
    assert shares_running(batch) == {"a": 5, "b": 4}  # a pass ran, but nothing was free
    lb.advance(5)
    # a now weighs 1/8 of b: of the 9 vCPU freed at t=10 a takes 8.
    assert shares_running(batch) == {"a": 8, "b": 1}


# == array jobs, retries, cancels: the share keeps count ===================================================


def test_array_children_are_scheduled_in_their_share(batch, lb):
    fair_queue(batch, max_vcpus=4, shares=[])
    lb.on_job("*", duration=None)
    with held(batch):
        batch.submit_job(jobName="a-array", jobQueue="q", jobDefinition="jd", shareIdentifier="a",
                         arrayProperties={"size": 6})
        for i in range(6):
            submit(batch, f"b{i}")
    assert shares_running(batch) == {"b": 2}  # the array parent is listed PENDING; its children run under a
    backend = lb.backend()
    util = fair_share.fair_share_utilization(backend, backend.job_queues.get("q"))
    assert util == {
        "activeShareCount": 2,
        "topCapacityUtilization": [
            {"shareIdentifier": "a", "capacityUsage": [{"capacityUnit": "VCPU", "quantity": 2.0}]},
            {"shareIdentifier": "b", "capacityUsage": [{"capacityUnit": "VCPU", "quantity": 2.0}]},
        ],
    }


def test_retried_job_stops_counting_and_waits_in_its_share(batch, lb):
    fair_queue(batch, max_vcpus=2, shares=[])
    lb.on_job("*", duration=10)
    lb.on_job("a-flaky", duration=10, run=lambda job: 1 if job.attempt == 1 else 0)
    with held(batch):
        for names in (("a-flaky", "b0"), ("a-next", "b1")):  # two rounds a millisecond apart
            next_ms(lb)
            for name in names:
                submit(batch, name, **({"retryStrategy": {"attempts": 2}} if name == "a-flaky" else {}))
    lb.run_until_idle()
    # At 10 both shares used 1 vCPU for 10 s: a's retried job competes with a-next by its own place (first),
    # and a goes before b (a-flaky was created before b1).
    assert timeline(lb, moves={"STARTING", "RUNNABLE"}, names={"a-flaky", "a-next", "b0", "b1"})[-6:] == [
        "0.002 a-flaky RUNNABLE>STARTING", "0.002 b0 RUNNABLE>STARTING",
        "10.002 a-flaky RUNNING>RUNNABLE", "10.002 a-flaky RUNNABLE>STARTING", "10.002 b1 RUNNABLE>STARTING",
        "20.002 a-next RUNNABLE>STARTING",
    ]


def test_multi_node_job_counts_all_its_nodes_once(batch, lb):
    from tests.api.test_jobs_scheduling import _multinode

    fair_queue(batch, max_vcpus=8, shares=[])
    _multinode(batch)  # 3 nodes of 2 vCPU
    lb.on_job("*", duration=None)
    mpi = submit(batch, "a-mpi", definition="mnp")
    submit(batch, "b0")
    submit(batch, "a1")
    assert status(batch, mpi) == "RUNNING"
    backend = lb.backend()
    util = fair_share.fair_share_utilization(backend, backend.job_queues.get("q"))
    assert [(s["shareIdentifier"], s["capacityUsage"][0]["quantity"]) for s in util["topCapacityUtilization"]] == [
        ("a", 7.0), ("b", 1.0),  # 3 nodes × 2 vCPU and a1
    ]
    lb.complete(f"{mpi}#0")
    assert status(batch, mpi) == "SUCCEEDED"
    assert shares_running(batch) == {"a": 1, "b": 1}
    assert fair_share.fair_share_utilization(backend, backend.job_queues.get("q"))["activeShareCount"] == 2


def test_cancelled_jobs_leave_their_share(batch, lb):
    fair_queue(batch, max_vcpus=1, shares=[])
    lb.on_job("*", duration=None)
    with held(batch):
        ids = []
        for i in range(3):
            next_ms(lb)
            ids.append(submit(batch, f"a{i}"))
        submit(batch, "b0")
    for job_id in ids[1:]:
        batch.cancel_job(jobId=job_id, reason="no longer needed")
    backend = lb.backend()
    queue = backend.job_queues.get("q")
    assert [j.name for j in fair_share.fair_share_front(backend, queue)] == ["b0"]


# == GetJobQueueSnapshot helpers (spec §5) ================================================================


def test_front_of_queue_is_the_dispatch_order(batch, lb):
    fair_queue(batch, max_vcpus=7)
    lb.on_job("*", duration=None)
    batch.update_compute_environment(computeEnvironment="ce", state="DISABLED")
    for i in range(5):
        next_ms(lb)
        for share in ("a", "b", "research1"):
            submit(batch, f"{share}-{i}", share=share)
    batch.describe_jobs(jobs=[])
    backend = lb.backend()
    queue = backend.job_queues.get("q")
    front = [j.name for j in fair_share.fair_share_front(backend, queue)]
    assert len(front) == 15
    assert fair_share.fair_share_front(backend, queue, limit=3) == fair_share.fair_share_front(backend, queue)[:3]
    batch.update_compute_environment(computeEnvironment="ce", state="ENABLED")
    dispatched = [line.split()[1] for line in starts(lb)]
    assert dispatched == front[:7]
    # All scores 0 at first, ties (candidates of one round) by identifier: a, b, research1; research1 then
    # catches up at 0.25 a job (b-1 before research1-2 at 0.5: created a round earlier).
    assert dispatched == ["a-0", "b-0", "research1-0", "research1-1", "b-1", "research1-2", "research1-3"]
    util = fair_share.fair_share_utilization(backend, queue)
    assert util["activeShareCount"] == 3
    assert [(s["shareIdentifier"], s["capacityUsage"][0]["quantity"]) for s in util["topCapacityUtilization"]] == [
        ("research1", 4.0), ("b", 2.0), ("a", 1.0),
    ]


def test_get_job_queue_snapshot_of_a_fair_share_queue(batch, lb):
    fair_queue(batch, max_vcpus=3)
    lb.on_job("*", duration=None)
    ids = {}
    with held(batch):
        for i in range(4):
            next_ms(lb)
            ids.update({f"{share}{i}": submit(batch, f"{share}{i}") for share in ("a", "b")})
    opened = T0 + 4  # four rounds a millisecond apart
    snapshot = batch.get_job_queue_snapshot(jobQueue="q")
    # Running: a0, b0, b1 (a 1 vCPU, b 2 at weight 0.5: both score 1). Next: a1 (tie, a1 was created before
    # b2), then b2 (b 1 < a 2), b3 (b 1.5 < a 2), a2 (a 2 = b 2, a2 was created before b4: none), a3.
    front = [job["jobArn"].rpartition("/")[2] for job in snapshot["frontOfQueue"]["jobs"]]
    assert front == [ids[name] for name in ("a1", "b2", "b3", "a2", "a3")]
    assert all(job["earliestTimeAtPosition"] == opened for job in snapshot["frontOfQueue"]["jobs"])
    utilization = snapshot["queueUtilization"]
    assert utilization["totalCapacityUsage"] == [{"capacityUnit": "VCPU", "quantity": 3.0}]
    assert utilization["fairshareUtilization"] == {
        "activeShareCount": 2,
        "topCapacityUtilization": [
            {"shareIdentifier": "b", "capacityUsage": [{"capacityUnit": "VCPU", "quantity": 2.0}]},
            {"shareIdentifier": "a", "capacityUsage": [{"capacityUnit": "VCPU", "quantity": 1.0}]},
        ],
    }
    lb.advance(5)
    # b drops to 1 vCPU: b2 takes the free vCPU. a (1 vCPU × 5 s) and b (2 vCPU × 5 s at weight 0.5) tie again.
    lb.complete(ids["b0"])
    front = batch.get_job_queue_snapshot(jobQueue="q")["frontOfQueue"]["jobs"]
    assert [job["jobArn"].rpartition("/")[2] for job in front][:2] == [ids["a1"], ids["b3"]]
    # a1 kept index 0 since the queue opened; b3 moved up from index 2 5 s later.
    assert [job["earliestTimeAtPosition"] for job in front][:2] == [opened, opened + 5000]
    assert status(batch, ids["b2"]) == "RUNNING"


def test_utilization_lists_the_top_20_shares(batch, lb):
    fair_queue(batch, max_vcpus=64, shares=[])
    lb.on_job("*", duration=None)
    for i in range(25):
        for j in range(1 + i % 3):
            submit(batch, f"s{i:02d}-{j}", share=f"s{i:02d}")
    batch.describe_jobs(jobs=[])  # runs what fell due: the last job's dispatch
    backend = lb.backend()
    util = fair_share.fair_share_utilization(backend, backend.job_queues.get("q"))
    assert util["activeShareCount"] == 25
    top = [(s["shareIdentifier"], s["capacityUsage"][0]["quantity"]) for s in util["topCapacityUtilization"]]
    assert len(top) == 20
    assert top[:3] == [("s02", 3.0), ("s05", 3.0), ("s08", 3.0)]  # most first, ties by identifier
    assert top[-1] == ("s09", 1.0)


# == explain (spec §3.3) ===================================================================================


def test_explain_names_share_weight_usage_and_who_goes_first(batch, lb):
    fair_queue(batch, max_vcpus=3)
    lb.on_job("*", duration=None)
    with held(batch):
        # Rounds a millisecond apart: a0 b0 b1 | a1 b2 | a2. b0 and b1 both run whichever goes first; a1 and
        # b2 are created together, so when their shares tie the identifier decides.
        for names in (("a0", "b0", "b1"), ("a1", "b2"), ("a2",)):
            next_ms(lb)
            for name in names:
                submit(batch, name)
    submit(batch, "c0", share="c")
    waiting = {j["jobName"]: j["jobId"] for j in batch.list_jobs(jobQueue="q", jobStatus="RUNNABLE")["jobSummaryList"]}
    assert sorted(waiting) == ["a1", "a2", "b2", "c0"]
    # a holds 1 vCPU (score 1), b 2 at weight 0.5 (score 1), c nothing (score 0).
    assert lb.explain(waiting["c0"]) == (
        "RUNNABLE: share c: weight 1 (no shareDistribution entry, default), decayed usage 0 vCPU-seconds over the "
        "last 600 s (an average of 0 vCPU), 0 vCPU in use now, score 0; it is the next job the queue dispatches; "
        "needs 1 vCPU, compute environment ce has 0 of 3 free"
    )
    assert lb.explain(waiting["a1"]) == (
        "RUNNABLE: share a: weight 1 (shareDistribution entry a), decayed usage 0 vCPU-seconds over the last 600 s "
        "(an average of 0 vCPU), 1 vCPU in use now, score 1; share c goes first with score 0 (weight 1 × usage 0 "
        "vCPU) against 1 (weight 1 × usage 1 vCPU): less recent usage"
    )
    assert "; 1 job of share a goes first" in lb.explain(waiting["a2"])
    assert lb.explain(waiting["b2"]).endswith(
        "share c goes first with score 0 (weight 1 × usage 0 vCPU) against 1 (weight 0.5 × usage 2 vCPU): "
        "its lower usage outweighs its higher weight"
    )
    backend = lb.backend()
    assert fair_share.explain_fair_share(backend, backend.jobs.get(waiting["c0"])).endswith(
        "it is the next job the queue dispatches"
    )
    running = batch.list_jobs(jobQueue="q")["jobSummaryList"][0]["jobId"]
    assert fair_share.explain_fair_share(backend, backend.jobs.get(running)).endswith("the job is RUNNING")
    # Once c runs, a and b tie at 1: a's identifier sorts first.
    batch.update_compute_environment(computeEnvironment="ce", computeResources={"maxvCpus": 4})
    assert status(batch, waiting["c0"]) == "RUNNING"
    assert lb.explain(waiting["b2"]).endswith(
        "share a goes first: the same score (1), and its identifier sorts before b"
    )


def test_fifo_queue_is_not_explained_as_fair_share(batch, lb):
    compute_environment(batch)
    job_queue(batch)
    job_definition(batch)
    job_id = batch.submit_job(jobName="x", jobQueue="q", jobDefinition="jd")["jobId"]
    backend = lb.backend()
    text = fair_share.explain_fair_share(backend, backend.jobs.get(job_id))
    assert text == f"job {job_id} is not in a fair-share queue"
    assert describe(batch, job_id)["jobQueue"] == ARN + "job-queue/q"


def test_decay_alone_lets_another_share_go_first_at_the_next_tick(batch, lb, frozen):
    """Spec §3.1: every call and advance dispatches. b's history decays while a
    runs, so with no event at all b's small job comes first 150 s after the
    setup and takes the free vCPUs that a's 4-vCPU head cannot use.

    At 600 s: score(b) = 4 vCPU x 300 s / 600 = 2, score(a) = its 1 running vCPU
    = 1, so a goes first and stops the queue on a-big. At 720 s: score(b) =
    4 x 480^2/2 / 600 / 600 = 1.28 > score(a) = 1 + (120 - 12) / 600 = 1.18.
    At 750 s: score(b) = 4 x 450^2/2 / 600 / 600 = 1.125 < score(a) = 1.22."""
    fair_queue(batch, max_vcpus=4, shares=[{"shareIdentifier": "a", "weightFactor": 1.0},
                                          {"shareIdentifier": "b", "weightFactor": 1.0}])
    big = {"resourceRequirements": [{"type": "VCPU", "value": "4"}]}
    lb.on_job("b-old", duration=600)
    lb.on_job("a-run", duration=None)
    lb.on_job("a-big", duration=None)
    lb.on_job("b-small", duration=None)
    submit(batch, "b-old", containerOverrides=big)
    lb.advance(600)
    submit(batch, "a-run")
    a_big = submit(batch, "a-big", containerOverrides=big)
    b_small = submit(batch, "b-small")
    lb.advance(0)
    assert (status(batch, a_big), status(batch, b_small)) == ("RUNNABLE", "RUNNABLE")  # a first; a-big waits
    lb.advance(120)
    assert status(batch, b_small) == "RUNNABLE"  # at 720 s b still scores above a
    lb.advance(30)  # no event falls due: only time moved
    assert (status(batch, a_big), status(batch, b_small)) == ("RUNNABLE", "RUNNING")
    assert describe(batch, b_small)["startedAt"] == T0 + 750_000
