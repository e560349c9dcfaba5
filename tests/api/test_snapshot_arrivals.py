"""The arrival shortcut changes nothing a caller can see.

A service job that becomes RUNNABLE behind its share's (or queue's) head
asks for no scheduling pass, and frontOfQueue is patched in place instead of
computed again (engine/service_lifecycle.arrived); on a fair-share queue only
at the engine time of the last pass, and frontOfQueue is left as it is when
the job is provably behind it (schedulers/service_fair_share.front_arrival). These tests play the same
seeded mix of submissions, priority changes, completions and clock moves
twice, once with that shortcut and once with every arrival asking for a full
pass, and require the same timeline and the same snapshots after every step.
"""

from __future__ import annotations

import random

import pytest

from localbatch.engine import service_lifecycle
from localbatch.engine.fair_share_usage import Usage
from tests.api.test_service_jobs_support import (
    GPU,
    QUEUE_ARN,
    client,
    fifo_queue,
    frozen_lb,
    quota_queue,
    share,
    submit,
)


def _quota_setup(batch, lb) -> tuple[str | None, list[str]]:
    quota_queue(batch, lb, {"ml.g5.xlarge": 5})
    share(batch, lb, "A", "RESERVE", 1)
    share(batch, lb, "B", "LEND", 1)
    share(batch, lb, "C", "LEND_AND_BORROW", 2, borrow=100, in_share=True)
    return "quotaShareName", ["A", "B", "C"]


def _fifo_setup(batch, lb) -> tuple[str | None, list[str]]:
    fifo_queue(batch, lb, "training", max_instances=3)
    return None, []


def _fair_share_setup(batch, lb) -> tuple[str | None, list[str]]:
    policy = batch.create_scheduling_policy(name="fair", fairsharePolicy={
        "shareDecaySeconds": 600,
        "computeReservation": 20,
        "shareDistribution": [{"shareIdentifier": "a", "weightFactor": 0.5}, {"shareIdentifier": "c*", "weightFactor": 2}],
    })["arn"]
    fifo_queue(batch, lb, "training", max_instances=5, schedulingPolicyArn=policy)
    return "shareIdentifier", ["a", "b", "c1", "c2"]


def _fair_share_backlog_setup(batch, lb) -> tuple[str | None, list[str]]:
    """More waiting jobs than frontOfQueue shows: arrivals behind it leave it as it is."""
    field, shares = _fair_share_setup(batch, lb)
    lb.on_job(duration=None)
    for i in range(120):
        submit(batch, f"backlog{i}", shareIdentifier=shares[i % len(shares)], schedulingPriority=i % 3)
    return field, shares


def _play(setup, seed: int, steps: int) -> list:
    """What a caller sees after each step of a seeded random run."""
    rng = random.Random(seed)
    seen = []
    for lb in frozen_lb():
        batch = client()
        field, shares = setup(batch, lb)
        lb.on_job(duration=None)
        running: list[str] = []
        waiting: list[str] = []
        for step in range(steps):
            roll = rng.random()
            if roll < 0.6:
                extra = {field: rng.choice(shares)} if field else {}
                if shares and rng.random() < 0.5:
                    extra["schedulingPriority"] = rng.randrange(4)
                waiting.append(submit(batch, f"j{step}", count=rng.choice((1, 1, 2)), **extra))
            elif roll < 0.7 and waiting:
                batch.update_service_job(jobId=rng.choice(waiting), schedulingPriority=rng.randrange(4))
            elif roll < 0.75:
                # A change of what the scheduler reads, then an arrival straight after it.
                _reconfigure(batch, field, rng)
                extra = {field: rng.choice(shares)} if field else {}
                waiting.append(submit(batch, f"j{step}", **extra))
            elif roll < 0.85 and running:
                lb.complete(running.pop(rng.randrange(len(running))))
            else:
                lb.advance(rng.choice((0, 0.5, 3)))
            running, started = _observe(lb, batch, seen)
            waiting = [job_id for job_id in waiting if job_id not in started]
        seen.append(lb.timeline())
    return seen


def _observe(lb, batch, seen: list) -> tuple[list[str], set[str]]:
    """After a step: record the snapshot in `seen`; (the jobs running now,
    every job that ever started)."""
    lb.advance(0)
    snapshot = batch.get_job_queue_snapshot(jobQueue="training")
    snapshot.pop("ResponseMetadata")
    seen.append(snapshot)
    now_running = {j["jobId"] for j in batch.list_service_jobs(jobQueue="training")["jobSummaryList"]}
    started = [row["job_id"] for row in lb.timeline() if row["to"] == "RUNNING"]
    return [job_id for job_id in dict.fromkeys(started) if job_id in now_running], set(started)


def _reconfigure(batch, field: str | None, rng: random.Random) -> None:
    if field == "quotaShareName":
        batch.update_quota_share(quotaShareArn=f"{QUEUE_ARN}/quota-share/C",
                                 capacityLimits=[{"maxCapacity": rng.choice((1, 2, 3)), "capacityUnit": GPU}])
    else:
        batch.update_service_environment(serviceEnvironment="training-se", capacityLimits=[
            {"maxCapacity": rng.choice((2, 3, 5)), "capacityUnit": "NUM_INSTANCES"}])


def _every_arrival_asks_for_a_pass(backend, job) -> None:
    service_lifecycle.request_dispatch(backend)


@pytest.mark.parametrize("setup", [_quota_setup, _fifo_setup, _fair_share_setup, _fair_share_backlog_setup],
                         ids=["quota-share", "fifo", "fair-share", "fair-share-backlog"])
@pytest.mark.parametrize("seed", [1, 2, 3])
def test_arrivals_between_passes_look_the_same_as_a_full_pass(setup, seed, monkeypatch):
    shortcut = _play(setup, seed, 120)
    monkeypatch.setattr(service_lifecycle, "arrived", _every_arrival_asks_for_a_pass)
    full = _play(setup, seed, 120)
    assert len(shortcut) == len(full)
    for step, (fast, slow) in enumerate(zip(shortcut, full)):
        assert fast == slow, f"step {step} differs"
    assert any(snapshot["frontOfQueue"]["jobs"] for snapshot in shortcut[:-1])  # the fronts were not empty


# -- decayed usage kept between passes (engine/fair_share_usage.Usage.segment) -------------------


def _play_decay(seed: int, steps: int) -> list:
    """A seeded fair-share run whose clock moves far enough for usage to enter
    and leave the 600 s window; what a caller sees after each step."""
    rng = random.Random(seed)
    seen = []
    for lb in frozen_lb():
        batch = client()
        _fair_share_setup(batch, lb)
        lb.on_job(duration=None)
        running: list[str] = []
        for step in range(steps):
            roll = rng.random()
            if roll < 0.5:
                extra = {"schedulingPriority": rng.randrange(3)} if rng.random() < 0.3 else {}
                submit(batch, f"j{step}", count=rng.choice((1, 1, 2)), shareIdentifier=rng.choice(["a", "b", "c1", "c2"]),
                       **extra)
            elif roll < 0.75 and running:
                lb.complete(running.pop(rng.randrange(len(running))))
            else:
                lb.advance(rng.choice((1, 90, 250, 599, 610)))
            running, _ = _observe(lb, batch, seen)
        seen.append(lb.timeline())
    return seen


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_kept_decayed_usage_orders_as_one_computed_afresh(seed, monkeypatch):
    # Each share keeps the quadratic its decayed usage follows until a
    # breakpoint enters or leaves the window; every pass and frontOfQueue reads
    # it. The same run with nothing kept must dispatch and show the same.
    kept = _play_decay(seed, 150)
    fresh_segment = Usage.segment

    def never_kept(usage, n, window_ms):
        found = fresh_segment(usage, n, window_ms)
        usage._segment = None
        return found

    monkeypatch.setattr(Usage, "segment", never_kept)
    fresh = _play_decay(seed, 150)
    assert len(kept) == len(fresh)
    for step, (a, b) in enumerate(zip(kept, fresh)):
        assert a == b, f"step {step} differs"
    assert any(len(s["frontOfQueue"]["jobs"]) > 1 for s in kept[:-1])
