"""The container arrival shortcut changes nothing a caller can see.

A plain job submitted while the engine stands at a fixed point, behind a
head its FIFO queue cannot place, gets no dispatch pass
(schedulers.pass_in_call): the pass would find everything as it was. These
tests play the same seeded mix of submissions (some of them jobs that can
never fit), completions, cancellations, capacity and queue changes and
clock moves twice, once with the shortcut and once with every arrival
running its pass, and require the same timeline, job states and reasons
after every step; and once more with no step taken inside a SubmitJob
call at all.
"""

from __future__ import annotations

import random

import boto3
import pytest
import time_machine

import localbatch
from localbatch.engine import schedulers
from localbatch.engine.backend import Backend
from localbatch.engine.schedulers import fifo
from tests.api.test_jobs import T0, compute_environment, job_definition, job_queue, submit

QUEUES = ("high", "low")


def _setup(batch) -> None:
    compute_environment(batch, max_vcpus=4)
    job_queue(batch, "high", priority=2, jobStateTimeLimitActions=[
        {"reason": "MISCONFIGURATION:JOB_RESOURCE_REQUIREMENT", "state": "RUNNABLE", "maxTimeSeconds": 600,
         "action": "CANCEL"}])
    job_queue(batch, "low", priority=1)
    for vcpus in ("1", "2", "3", "8"):  # 8 never fits a 4-vCPU environment
        job_definition(batch, name=f"jd{vcpus}", vcpus=vcpus)


def _view(batch, lb) -> list:
    jobs = []
    for queue in QUEUES:
        for status in ("RUNNABLE", "RUNNING", "FAILED"):
            pages = batch.get_paginator("list_jobs").paginate(jobQueue=queue, jobStatus=status)
            jobs += [(queue, j["jobName"], j["status"], j.get("statusReason")) for page in pages
                     for j in page["jobSummaryList"]]
    return [jobs, [(r["time_ms"], r["job_name"], r["from"], r["to"], r["reason"]) for r in lb.timeline()]]


def _play(seed: int, steps: int) -> list:
    rng = random.Random(seed)
    seen = []
    with time_machine.travel(T0 / 1000, tick=False), localbatch.patch() as lb:
        batch = boto3.client("batch", region_name="us-east-1")
        _setup(batch)
        lb.on_job(duration=None)
        lb.advance(0)
        ids: list[str] = []
        for step in range(steps):
            roll = rng.random()
            if roll < 0.55:
                vcpus = rng.choice(("1", "1", "2", "3", "8") if rng.random() < 0.1 else ("1", "1", "2", "3"))
                ids.append(submit(batch, name=f"j{step}", queue=rng.choice(QUEUES), definition=f"jd{vcpus}"))
            elif roll < 0.75 and ids:
                running = [j for j in batch.list_jobs(jobQueue=rng.choice(QUEUES))["jobSummaryList"]]
                if running:
                    lb.complete(rng.choice(running)["jobId"], exit_code=rng.choice((0, 0, 1)))
            elif roll < 0.82 and ids:
                batch.cancel_job(jobId=rng.choice(ids), reason="changed my mind")
            elif roll < 0.86:
                batch.update_compute_environment(computeEnvironment="ce",
                                                 computeResources={"maxvCpus": rng.choice((2, 4, 6))})
            elif roll < 0.88:
                batch.update_job_queue(jobQueue=rng.choice(QUEUES), priority=rng.choice((1, 2, 3)))
            else:
                lb.advance(rng.choice((0, 0.001, 1, 700)))
            seen.append(_view(batch, lb))
    return seen


@pytest.mark.parametrize("seed", [1, 2, 3, 4])
def test_arrivals_behind_a_blocked_head_look_the_same_as_a_full_pass(seed, monkeypatch):
    shortcut = _play(seed, 150)
    monkeypatch.setattr(schedulers, "_changes_nothing", lambda *args: False)
    full = _play(seed, 150)
    assert len(shortcut) == len(full)
    for step, (fast, slow) in enumerate(zip(shortcut, full)):
        assert fast == slow, f"step {step} differs"
    waiting = [job for job in shortcut[-1][0] if job[2] == "RUNNABLE"]
    assert waiting  # the queues were busy: arrivals did wait behind heads


@pytest.mark.parametrize("seed", [5, 6, 7, 8])
def test_arrivals_stepped_in_their_calls_look_the_same_as_events(seed, monkeypatch):
    """With no step taken in a SubmitJob call at all (evaluation, pass and
    start each an event for the next tick), every step looks the same."""
    in_call = _play(seed, 150)
    monkeypatch.setattr(Backend, "next_step_is_now", lambda backend: False)
    as_events = _play(seed, 150)
    assert len(in_call) == len(as_events)
    for step, (fast, slow) in enumerate(zip(in_call, as_events)):
        assert fast == slow, f"step {step} differs"


def test_an_arrival_behind_a_waiting_head_runs_no_pass(batch, lb, monkeypatch):
    with time_machine.travel(T0 / 1000, tick=False):
        _setup(batch)
        lb.on_job(duration=None)
        lb.advance(0)
        for i in range(4):
            submit(batch, name=f"full{i}", queue="low", definition="jd1")
        submit(batch, name="head", queue="low", definition="jd1")  # waits: the environment is full
        visits = []
        real = fifo.dispatch
        monkeypatch.setattr(fifo, "dispatch", lambda backend, queue, *rest: visits.append(queue.name) or real(
            backend, queue, *rest))
        for i in range(3):
            lb.advance(0.001)  # created later than the head (in one millisecond, jobId would decide)
            submit(batch, name=f"behind{i}", queue="low", definition="jd1")
        assert visits == []
        # A new head elsewhere: a pass, which need visit its queue only (schedulers._only_visit).
        submit(batch, name="other-head", queue="high", definition="jd1")
        assert visits == ["high"]
        lb.complete(batch.list_jobs(jobQueue="low")["jobSummaryList"][0]["jobId"])
        assert [j["jobName"] for j in batch.list_jobs(jobQueue="high")["jobSummaryList"]] == ["other-head"]
