"""The FIFO scheduler and the dispatch-pass trigger, on a bare Backend
(spec §3.1, §3.2): resources are stored in their AWS describe shapes, jobs
go in through the engine, no boto3 in between."""

from __future__ import annotations

import pytest

from localbatch.config import EngineConfig
from localbatch.engine import flow
from localbatch.engine.backend import Backend
from localbatch.engine.jobs import RUNNABLE, RUNNING, STARTING, Job, JobSpec
from localbatch.engine.schedulers import fifo
from localbatch.engine.tables import Resource

CE = "arn:aws:batch:us-east-1:123456789012:compute-environment/ce"
QUEUE = "arn:aws:batch:us-east-1:123456789012:job-queue/q"


def job_id(seq: int) -> str:
    """A UUID-shaped id that sorts with seq: jobs made at the same engine time go
    in the order made (spec §3.2 breaks createdAt ties by jobId)."""
    return f"00000000-0000-4000-8000-{seq:012x}"


def make_backend(max_vcpus: int = 2, **config) -> Backend:
    backend = Backend("123456789012", "us-east-1", EngineConfig(**config))
    ce = {
        "computeEnvironmentName": "ce", "computeEnvironmentArn": CE, "type": "MANAGED", "state": "ENABLED",
        "status": "VALID", "computeResources": {"type": "EC2", "maxvCpus": max_vcpus},
    }
    backend.compute_environments.add(Resource(backend.next_seq(), CE, "ce", ce))
    queue = {
        "jobQueueName": "q", "jobQueueArn": QUEUE, "priority": 1, "state": "ENABLED", "status": "VALID",
        "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": CE}],
    }
    backend.job_queues.add(Resource(backend.next_seq(), QUEUE, "q", queue))
    return backend


def add_job(backend: Backend, name: str, vcpus: float = 1.0, **spec) -> Job:
    seq = backend.next_seq()
    job_spec = JobSpec(job_definition={"jobDefinitionArn": "jd", "jobDefinitionName": "jd"}, vcpus=vcpus, **spec)
    job = Job(seq, job_id(seq), f"arn:job/{job_id(seq)}", name, QUEUE, job_spec, backend.now_ms)
    flow.submit(backend, job)
    return job


def hold_all(backend: Backend) -> None:
    from localbatch.engine.executors import JobRule

    backend.jobs.rules = [JobRule(duration=None)]


def test_dispatch_in_submission_order_up_to_capacity():
    backend = make_backend(max_vcpus=2)
    hold_all(backend)
    jobs = [add_job(backend, f"j{i}") for i in range(4)]
    backend.run_until(0)
    assert [j.status for j in jobs] == [RUNNING, RUNNING, RUNNABLE, RUNNABLE]
    assert backend.jobs.ce_used == {CE: 2.0}


def test_a_blocked_pass_looks_only_at_the_head(monkeypatch):
    backend = make_backend(max_vcpus=1)
    hold_all(backend)
    for i in range(1000):
        add_job(backend, f"j{i}")
    backend.run_until(0)
    calls = []
    real = fifo._place
    monkeypatch.setattr(fifo, "_place", lambda *a: calls.append(a[1].name) or real(*a))
    backend.jobs.dispatch_event = None
    from localbatch.engine.schedulers import request_dispatch

    request_dispatch(backend)
    backend.run_until(0)
    assert calls == ["j1"]


def test_no_pass_without_a_change():
    backend = make_backend(max_vcpus=1)
    hold_all(backend)
    add_job(backend, "a")
    add_job(backend, "b")
    backend.run_until(0)
    assert backend.events.next_due_ms() is None  # nothing pending: later ticks cost nothing
    backend.run_until(10_000)
    assert backend.events.next_due_ms() is None


def test_retried_job_keeps_its_place():
    backend = make_backend(max_vcpus=1)
    from localbatch.engine import executors

    hold_all(backend)
    first = add_job(backend, "first", retry_strategy={"attempts": 2})
    second = add_job(backend, "second")
    backend.run_until(0)
    executors.complete(backend, first, 1, None)
    backend.run_until(0)
    assert (first.status, second.status) == (RUNNING, RUNNABLE)  # the retry went ahead of "second"
    assert len(first.attempts) == 2


def test_array_children_sort_by_parent_submission():
    backend = make_backend(max_vcpus=1)
    hold_all(backend)
    blocker = add_job(backend, "blocker")
    parent = add_job(backend, "arr", array_size=2)
    later = add_job(backend, "later")
    backend.run_until(0)
    keys = sorted([parent.children[1].key, later.key, parent.children[0].key])
    assert keys == [parent.children[0].key, parent.children[1].key, later.key]
    from localbatch.engine import executors

    executors.complete(backend, blocker, 0, None)
    backend.run_until(0)
    assert parent.children[0].status == RUNNING and later.status == RUNNABLE


def test_starting_dwell():
    backend = make_backend(starting_seconds=5)
    hold_all(backend)
    job = add_job(backend, "a")
    backend.run_until(backend.now_ms)
    assert job.status == STARTING
    backend.run_until(backend.now_ms + 5000)
    assert job.status == RUNNING and job.started_at == job.scheduled_at + 5000


@pytest.mark.parametrize("kind, reason", [("FARGATE", "JOB_RESOURCE_REQUIREMENT"), ("EC2", "COMPUTE_ENVIRONMENT")])
def test_never_fits_reasons(kind, reason):
    backend = make_backend(max_vcpus=64)
    ce = backend.compute_environments.by_arn[CE]
    ce.data = {**ce.data, "computeResources": {"type": kind, "maxvCpus": 16}}
    job = add_job(backend, "big", vcpus=32)
    backend.run_until(0)
    assert job.status == RUNNABLE
    assert job.status_reason.startswith(f"MISCONFIGURATION:{reason}")


def test_invalid_compute_environments_block_with_action_required():
    backend = make_backend()
    ce = backend.compute_environments.by_arn[CE]
    ce.data = {**ce.data, "status": "INVALID"}
    job = add_job(backend, "a")
    backend.run_until(0)
    assert job.status_reason == "ACTION_REQUIRED - CE(s) associated with the job queue are invalid."
