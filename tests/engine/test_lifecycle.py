"""The job state machine, its indexes and undo, without boto3 (spec §2.1, §2.6)."""

from __future__ import annotations

import itertools
import random

import pytest

from localbatch.config import EngineConfig
from localbatch.engine.backend import Backend
from localbatch.engine.executors import retry_pattern
from localbatch.engine.jobs import (
    FAILED,
    PENDING,
    RUNNABLE,
    RUNNING,
    STARTING,
    STATUSES,
    SUBMITTED,
    SUCCEEDED,
    Job,
    JobSpec,
    SortedInts,
)
from localbatch.engine.lifecycle import TRANSITIONS, create, transition
from localbatch.errors import LocalBatchError

QUEUE = "arn:aws:batch:us-east-1:123456789012:job-queue/q"


def job_id(seq: int) -> str:
    """A UUID-shaped id that sorts with seq: jobs made at the same engine time go
    in the order made (spec §3.2 breaks createdAt ties by jobId)."""
    return f"00000000-0000-4000-8000-{seq:012x}"


def new_job(backend: Backend, name: str = "j") -> Job:
    seq = backend.next_seq()
    spec = JobSpec(job_definition={"jobDefinitionArn": "jd", "jobDefinitionName": "jd"}, vcpus=1.0)
    return Job(seq, job_id(seq), f"arn:job/{job_id(seq)}", name, QUEUE, spec, backend.now_ms)


@pytest.fixture
def backend() -> Backend:
    return Backend("123456789012", "us-east-1", EngineConfig())


# -- the table -----------------------------------------------------------------------------


def test_final_statuses_have_no_way_out():
    assert TRANSITIONS[SUCCEEDED] == TRANSITIONS[FAILED] == frozenset()


def test_every_status_is_reachable_from_creation():
    seen, todo = set(), [None]
    while todo:
        for to in TRANSITIONS[todo.pop()]:
            if to not in seen:
                seen.add(to)
                todo.append(to)
    assert seen == set(STATUSES)


def test_the_happy_path_is_in_the_table():
    path = [None, SUBMITTED, RUNNABLE, STARTING, RUNNING, SUCCEEDED]
    assert all(b in TRANSITIONS[a] for a, b in itertools.pairwise(path))


def test_illegal_move_is_refused(backend):
    job = new_job(backend)
    create(backend, job, SUBMITTED)
    with pytest.raises(LocalBatchError, match="cannot move from SUBMITTED to RUNNING"):
        transition(backend, job, RUNNING)


# -- timestamps, indexes, timeline -------------------------------------------------------------


def test_transition_stamps_engine_time_and_indexes(backend):
    job = new_job(backend)
    backend.now_ms = 1000
    create(backend, job, SUBMITTED)
    transition(backend, job, RUNNABLE)
    queue = backend.jobs.queues[QUEUE]
    assert queue.runnable.min() == job.key and queue.runnable_jobs[job.key] is job
    backend.now_ms = 2000
    transition(backend, job, STARTING)
    assert job.scheduled_at == 2000 and not queue.runnable
    backend.now_ms = 3000
    transition(backend, job, RUNNING)
    backend.now_ms = 4000
    transition(backend, job, SUCCEEDED, "done")
    assert (job.started_at, job.stopped_at, job.status_reason) == (3000, 4000, "done")
    assert list(queue.by_status[SUCCEEDED].descending()) == [job.seq]
    assert all(not queue.by_status[s] for s in STATUSES if s != SUCCEEDED)
    assert [row[3:5] for row in backend.jobs.timeline] == [
        (None, SUBMITTED), (SUBMITTED, RUNNABLE), (RUNNABLE, STARTING), (STARTING, RUNNING), (RUNNING, SUCCEEDED)
    ]


def test_rollback_restores_job_indexes_and_timeline(backend):
    job = new_job(backend)
    create(backend, job, SUBMITTED)
    transition(backend, job, RUNNABLE)
    backend.journal.begin()
    transition(backend, job, STARTING)
    transition(backend, job, RUNNING)
    transition(backend, job, FAILED, "boom")
    backend.journal.rollback()
    queue = backend.jobs.queues[QUEUE]
    assert (job.status, job.status_reason, job.started_at, job.stopped_at) == (RUNNABLE, None, None, None)
    assert queue.runnable_jobs == {job.key: job}
    assert list(queue.by_status[RUNNABLE].ascending()) == [job.seq]
    assert not queue.by_status[FAILED]
    assert len(backend.jobs.timeline) == 2


def test_rollback_of_creation_removes_the_job(backend):
    backend.journal.begin()
    job = new_job(backend)
    create(backend, job, SUBMITTED)
    backend.journal.rollback()
    assert backend.jobs.get(job.id) is None
    assert not backend.jobs.queues
    assert backend.jobs.timeline == []


def test_timeline_can_be_switched_off():
    backend = Backend("123456789012", "us-east-1", EngineConfig(record_timeline=False))
    create(backend, new_job(backend), PENDING)
    assert backend.jobs.timeline == []


# -- SortedInts ------------------------------------------------------------------------------------


def test_sorted_ints_against_a_sorted_list():
    rng = random.Random(7)
    ints, model = SortedInts(), set()
    for _ in range(20_000):
        value = rng.randrange(5000)
        if rng.random() < 0.6:
            ints.add(value)
            model.add(value)
        else:
            ints.discard(value)
            model.discard(value)
    ordered = sorted(model)
    assert len(ints) == len(ordered)
    assert list(ints.ascending()) == ordered
    assert list(ints.descending()) == ordered[::-1]
    assert ints.min() == ordered[0]
    pivot = ordered[len(ordered) // 2]
    assert list(ints.ascending(pivot)) == [v for v in ordered if v > pivot]
    assert list(ints.descending(pivot)) == [v for v in ordered if v < pivot][::-1]
    assert list(ints.descending(10**9)) == ordered[::-1]
    assert list(ints.ascending(-1)) == ordered
    assert (pivot in ints) and (-5 not in ints)


def test_sorted_ints_empty():
    ints = SortedInts()
    assert ints.min() is None and list(ints.descending()) == [] and list(ints.ascending(3)) == []
    ints.discard(4)
    assert len(ints) == 0


# -- the retry pattern engine (spec §2.6 [proposed]) -------------------------------------------------


@pytest.mark.parametrize(
    "pattern, value, matches",
    [
        ("Host EC2*", "Host EC2 (instance i-0123456789abcdef0) terminated.", True),
        ("Host EC2*", "host EC2 (instance i-0) terminated.", False),  # case-sensitive
        ("1", "1", True),
        ("1", "10", False),
        ("1*", "137", True),
        ("*", "", True),  # a missing field is the empty string
        ("Out*Memory*", "OutOfMemoryError: Container killed", True),
        ("[x]?", "[x]?", True),  # only * is special
        ("[x]?", "x", False),
    ],
)
def test_retry_pattern(pattern, value, matches):
    assert bool(retry_pattern(pattern).fullmatch(value)) is matches
