"""Retries and timeouts give the same golden timeline however time moves
(spec §2.6, §2.7, §3.1): `lb.advance`, `lb.run_until_idle`, autojump's
`time.sleep`, freezegun's `freeze_time(...).tick()` (frozen and with
`tick=True`) and time-machine's `shift()` (frozen and ticking).

Engine time is the wall clock plus an offset, and every event runs at its
own due time, however late the call that runs it. So each job's timeline,
measured from its own creation, is exact even while the wall clock ticks;
with a frozen clock every job is created at T0 and the absolute times are
exact too.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import timedelta

import boto3
import pytest
import time_machine
from freezegun import freeze_time

import localbatch
from tests.api.test_jobs import T0, compute_environment, job_definition, job_queue

OPTIONS = {"submitted_seconds": 2, "starting_seconds": 1}
EXITED = "Essential container in task exited"

# Seconds after each job's creation. "retry" fails twice and succeeds on its
# third attempt; "slow" outlives its 60 s timeout (never retried); "exit"
# fails with an exit code evaluateOnExit says not to retry; "restart" fails
# at 50 s twice: its 60 s timeout restarts with each attempt, so it never fires.
GOLDEN = {
    "retry": [
        "0 ->SUBMITTED", "2 SUBMITTED>RUNNABLE", "2 RUNNABLE>STARTING", "3 STARTING>RUNNING",
        "33 RUNNING>RUNNABLE", "33 RUNNABLE>STARTING", "34 STARTING>RUNNING",
        "64 RUNNING>RUNNABLE", "64 RUNNABLE>STARTING", "65 STARTING>RUNNING",
        f"95 RUNNING>SUCCEEDED | {EXITED}",
    ],
    "slow": [
        "0 ->SUBMITTED", "2 SUBMITTED>RUNNABLE", "2 RUNNABLE>STARTING", "3 STARTING>RUNNING",
        "63 RUNNING>FAILED | Job attempt duration exceeded timeout",
    ],
    "exit": [
        "0 ->SUBMITTED", "2 SUBMITTED>RUNNABLE", "2 RUNNABLE>STARTING", "3 STARTING>RUNNING",
        f"48 RUNNING>FAILED | {EXITED}",
    ],
    "restart": [
        "0 ->SUBMITTED", "2 SUBMITTED>RUNNABLE", "2 RUNNABLE>STARTING", "3 STARTING>RUNNING",
        "53 RUNNING>RUNNABLE", "53 RUNNABLE>STARTING", "54 STARTING>RUNNING",
        f"104 RUNNING>FAILED | {EXITED}",
    ],
}
END_SECONDS = 104

Move = Callable[[float], None]


# -- ways to move time: each yields (lb, move(seconds) or None for run_until_idle, frozen?) ----------


@contextmanager
def _advance_time_machine() -> Iterator[tuple]:
    with time_machine.travel(T0 / 1000, tick=False), localbatch.patch(**OPTIONS) as lb:
        yield lb, lb.advance, True


@contextmanager
def _advance_freezegun() -> Iterator[tuple]:
    with freeze_time("2026-01-01"), localbatch.patch(**OPTIONS) as lb:
        yield lb, lb.advance, True


@contextmanager
def _advance_live_clock() -> Iterator[tuple]:
    with localbatch.patch(**OPTIONS) as lb:
        yield lb, lb.advance, False


@contextmanager
def _run_until_idle() -> Iterator[tuple]:
    with time_machine.travel(T0 / 1000, tick=False), localbatch.patch(**OPTIONS) as lb:
        yield lb, None, True


@contextmanager
def _autojump_sleep() -> Iterator[tuple]:
    with time_machine.travel(T0 / 1000, tick=False), localbatch.patch(autojump=True, **OPTIONS) as lb:
        yield lb, lambda seconds: time.sleep(seconds), True


@contextmanager
def _freezegun_tick() -> Iterator[tuple]:
    with freeze_time("2026-01-01") as frozen, localbatch.patch(**OPTIONS) as lb:
        yield lb, lambda seconds: frozen.tick(timedelta(seconds=seconds)), True


@contextmanager
def _freezegun_ticking() -> Iterator[tuple]:
    with freeze_time("2026-01-01", tick=True) as frozen, localbatch.patch(**OPTIONS) as lb:
        yield lb, lambda seconds: frozen.tick(timedelta(seconds=seconds)), False


@contextmanager
def _time_machine_shift() -> Iterator[tuple]:
    with time_machine.travel(T0 / 1000, tick=False) as traveller, localbatch.patch(**OPTIONS) as lb:
        yield lb, traveller.shift, True


@contextmanager
def _time_machine_ticking() -> Iterator[tuple]:
    with time_machine.travel(T0 / 1000, tick=True) as traveller, localbatch.patch(**OPTIONS) as lb:
        yield lb, traveller.shift, False


CLOCKS = {
    "lb.advance, time-machine frozen": _advance_time_machine,
    "lb.advance, freezegun frozen": _advance_freezegun,
    "lb.advance, wall clock running": _advance_live_clock,
    "lb.run_until_idle": _run_until_idle,
    "autojump time.sleep": _autojump_sleep,
    "freezegun tick()": _freezegun_tick,
    "freezegun tick=True, tick()": _freezegun_ticking,
    "time-machine shift()": _time_machine_shift,
    "time-machine tick=True, shift()": _time_machine_ticking,
}


def _scenario(lb) -> tuple[object, dict[str, str]]:
    batch = boto3.client("batch", region_name="us-east-1")
    compute_environment(batch, max_vcpus=8)
    job_queue(batch)
    job_definition(batch)
    lb.on_job("retry", duration=30, run=lambda job: 0 if job.attempt == 3 else 1)
    lb.on_job("slow", duration=120)
    lb.on_job("exit", duration=45, exit_code=2)
    lb.on_job("restart", duration=50, exit_code=1)
    submits = {
        "retry": {"retryStrategy": {"attempts": 3}},
        "slow": {"timeout": {"attemptDurationSeconds": 60}, "retryStrategy": {"attempts": 2}},
        "exit": {"retryStrategy": {"attempts": 3, "evaluateOnExit": [{"action": "EXIT", "onExitCode": "2"}]}},
        "restart": {"timeout": {"attemptDurationSeconds": 60}, "retryStrategy": {"attempts": 2}},
    }
    ids = {
        name: batch.submit_job(jobName=name, jobQueue="q", jobDefinition="jd", **kwargs)["jobId"]
        for name, kwargs in submits.items()
    }
    return batch, ids


def _relative_timeline(lb) -> dict[str, list[str]]:
    rows = defaultdict(list)
    for row in lb.timeline():
        rows[row["job_name"]].append(row)
    out = {}
    for name, moves in rows.items():
        start = moves[0]["time_ms"]
        out[name] = [
            f"{(m['time_ms'] - start) / 1000:g} {m['from'] or '-'}>{m['to']}" + (f" | {m['reason']}" if m["reason"]
                                                                                   else "")
            for m in moves
        ]
    return out


@pytest.mark.parametrize("clock", list(CLOCKS), ids=list(CLOCKS))
def test_same_golden_timeline_however_time_moves(clock):
    with CLOCKS[clock]() as (lb, move, frozen):
        batch, ids = _scenario(lb)
        if move is None:
            lb.run_until_idle()
        else:
            for _ in range(11):  # 110 s in steps, each followed by a poll that runs what fell due
                move(10)
                batch.describe_jobs(jobs=list(ids.values()))
        assert _relative_timeline(lb) == GOLDEN
        jobs = {job["jobName"]: job for job in batch.describe_jobs(jobs=list(ids.values()))["jobs"]}
        assert [a["container"]["exitCode"] for a in jobs["retry"]["attempts"]] == [1, 1, 0]
        assert [a["container"]["exitCode"] for a in jobs["slow"]["attempts"]] == [137]
        assert [a["container"]["exitCode"] for a in jobs["exit"]["attempts"]] == [2]
        assert [a["container"]["exitCode"] for a in jobs["restart"]["attempts"]] == [1, 1]
        for name, job in jobs.items():
            stopped = int(GOLDEN[name][-1].split()[0]) * 1000
            assert job["stoppedAt"] - job["createdAt"] == stopped
            if frozen:
                assert job["createdAt"] == T0
                assert job["stoppedAt"] == T0 + stopped
        if frozen:
            assert lb.now_ms == T0 + (END_SECONDS if move is None else 110) * 1000


@pytest.mark.parametrize("clock", ["freezegun tick()", "time-machine shift()", "lb.advance, time-machine frozen"])
def test_one_jump_runs_every_event_at_its_own_time(clock):
    with CLOCKS[clock]() as (lb, move, _):
        batch, ids = _scenario(lb)
        move(1000)
        assert {job["status"] for job in batch.describe_jobs(jobs=list(ids.values()))["jobs"]} == {
            "SUCCEEDED", "FAILED"
        }
        assert _relative_timeline(lb) == GOLDEN


def test_timeout_boundary_is_exact_to_the_millisecond():
    with freeze_time("2026-01-01") as frozen, localbatch.patch(**OPTIONS) as lb:
        batch, ids = _scenario(lb)

        def status(name):
            (job,) = batch.describe_jobs(jobs=[ids[name]])["jobs"]
            return job["status"]

        frozen.tick(timedelta(seconds=62.999))
        assert status("slow") == "RUNNING"
        frozen.tick(timedelta(milliseconds=1))
        assert status("slow") == "FAILED"
        lb.advance(31.999)
        assert status("retry") == "RUNNING"
        # All but retry's success (95 s) and restart's last failure (104 s) happened.
        assert len(lb.timeline()) == sum(map(len, GOLDEN.values())) - 2
        lb.advance(0.001)
        assert status("retry") == "SUCCEEDED"


def test_a_clock_that_goes_back_never_moves_jobs_back():
    with time_machine.travel(T0 / 1000, tick=False) as traveller, localbatch.patch(**OPTIONS) as lb:
        batch, ids = _scenario(lb)
        traveller.shift(40)
        batch.describe_jobs(jobs=list(ids.values()))
        traveller.shift(-3600)  # the wall clock jumps back an hour: engine time holds
        assert lb.now_ms == T0 + 40_000
        lb.advance(70)
        assert _relative_timeline(lb)["retry"] == GOLDEN["retry"]
