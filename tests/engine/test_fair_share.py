"""The fair-share scheduler on a bare Backend (spec §3.3): how each queue's
book of shares follows the job engine, through dispatch, retries, ends,
cancels and rollbacks, with no boto3 in between."""

from __future__ import annotations

import pytest

from localbatch.config import EngineConfig
from localbatch.engine import executors, flow, schedulers
from localbatch.engine.backend import Backend
from localbatch.engine.executors import JobRule
from localbatch.engine.jobs import FAILED, RUNNABLE, RUNNING, SUCCEEDED, Job, JobSpec
from localbatch.engine.schedulers import fair_share, fifo
from localbatch.engine.tables import Resource

ARN = "arn:aws:batch:us-east-1:123456789012:"
CE = ARN + "compute-environment/ce"
QUEUE = ARN + "job-queue/q"
POLICY = ARN + "scheduling-policy/p"
T0 = 1_767_225_600_000


def job_id(seq: int) -> str:
    """A UUID-shaped id that sorts with seq: jobs made at the same engine time go
    in the order made (spec §3.2 breaks createdAt ties by jobId)."""
    return f"00000000-0000-4000-8000-{seq:012x}"


def make_backend(max_vcpus: float = 2, **fairshare) -> Backend:
    backend = Backend("123456789012", "us-east-1", EngineConfig())
    backend.now_ms = T0
    backend.jobs.rules = [JobRule(duration=None)]
    set_capacity(backend, max_vcpus, add=True)
    policy = {"name": "p", "arn": POLICY, "fairsharePolicy": {"shareDistribution": [], **fairshare}}
    backend.scheduling_policies.add(Resource(backend.next_seq(), POLICY, "p", policy))
    queue = {
        "jobQueueName": "q", "jobQueueArn": QUEUE, "priority": 1, "state": "ENABLED", "status": "VALID",
        "computeEnvironmentOrder": [{"order": 1, "computeEnvironment": CE}], "schedulingPolicyArn": POLICY,
    }
    backend.job_queues.add(Resource(backend.next_seq(), QUEUE, "q", queue))
    return backend


def set_capacity(backend: Backend, max_vcpus: float, add: bool = False) -> None:
    data = {
        "computeEnvironmentName": "ce", "computeEnvironmentArn": CE, "type": "MANAGED", "state": "ENABLED",
        "status": "VALID", "computeResources": {"type": "EC2", "maxvCpus": max_vcpus},
    }
    if add:
        backend.compute_environments.add(Resource(backend.next_seq(), CE, "ce", data))
    else:
        backend.compute_environments.get(CE).data = data


def add_job(backend: Backend, name: str, share: str, vcpus: float = 1.0, priority: int | None = None, **spec) -> Job:
    seq = backend.next_seq()
    job_spec = JobSpec(job_definition={"jobDefinitionArn": "jd", "jobDefinitionName": "jd"}, vcpus=vcpus,
                       share_identifier=share, scheduling_priority=priority, **spec)
    job = Job(seq, job_id(seq), f"arn:job/{job_id(seq)}", name, QUEUE, job_spec, backend.now_ms)
    flow.submit(backend, job)
    return job


def book(backend: Backend):
    return backend.jobs.queues[QUEUE].fair_share


def picture(backend: Backend) -> dict:
    """Everything the book holds, as plain values."""
    found = book(backend)
    shares = {
        identifier: (
            list(s.waiting.ascending()), sorted(s.items), dict(s.holding), sorted(s.live), s.last_end,
            list(s.usage.times), list(s.usage.c0), list(s.usage.c1), list(s.usage.c2),
        )
        for identifier, s in found.shares.items()
    }
    return {
        "shares": shares, "waiting": sorted(found.waiting), "using": sorted(found.using),
        "live_shares": found.live_shares, "idle": dict(found.idle),
        "runnable": sorted(backend.jobs.queues[QUEUE].runnable_jobs),
    }


def test_scheduler_for_a_queue_with_a_policy_is_fair_share():
    backend = make_backend()
    assert schedulers.scheduler_for(backend.job_queues.get(QUEUE)) is fair_share
    fifo_queue = Resource(0, ARN + "job-queue/f", "f", {"computeEnvironmentOrder": []})
    assert schedulers.scheduler_for(fifo_queue) is fifo


def test_jobs_are_filed_by_share_while_runnable():
    backend = make_backend(max_vcpus=0)
    jobs = [add_job(backend, f"a{i}", "a") for i in range(3)] + [add_job(backend, "b0", "b")]
    backend.run_until(T0)
    assert all(j.status == RUNNABLE for j in jobs)
    found = book(backend)
    assert [s.identifier for s in found.waiting.values()] == ["a", "b"]
    assert [len(s.waiting) for s in found.shares.values()] == [3, 1]
    assert found.live_shares == 2 and not found.using


def test_dispatch_counts_usage_until_the_attempt_ends():
    backend = make_backend(max_vcpus=2)
    a = add_job(backend, "a", "a", vcpus=1.5)
    backend.run_until(T0)
    share = book(backend).shares["a"]
    assert a.status == RUNNING and share.usage.current() == 1.5
    assert list(book(backend).using) == ["a"]
    backend.now_ms = T0 + 10_000
    executors.complete(backend, a, 0, None)
    assert a.status == SUCCEEDED
    assert share.usage.current() == 0.0 and not book(backend).using
    assert share.usage.decayed(T0 + 10_000, 600_000) == pytest.approx(1.5 * (10_000 - 10_000**2 / 1_200_000))
    assert book(backend).live_shares == 0 and book(backend).idle == {"a": T0 + 10_000}


def test_retry_stops_the_usage_and_files_the_job_again():
    backend = make_backend(max_vcpus=1)
    a = add_job(backend, "a", "a", retry_strategy={"attempts": 2})
    backend.run_until(T0)
    backend.now_ms = T0 + 5000
    executors.complete(backend, a, 3, None)  # attempt 1 fails: retried
    share = book(backend).shares["a"]
    assert a.status == RUNNABLE and share.usage.current() == 0.0  # its pass is an event, not run yet
    assert share.usage.times == [0, 5000] and [share.items[k] for k in share.waiting.ascending()] == [a]
    backend.run_until(T0 + 5000)  # the pass puts it back on the free vCPU
    assert a.status == RUNNING and share.usage.current() == 1.0 and len(a.attempts) == 2


def test_array_children_count_under_their_share_and_the_parent_keeps_it_live():
    backend = make_backend(max_vcpus=2)
    parent = add_job(backend, "arr", "a", array_size=3)
    backend.run_until(T0)
    share = book(backend).shares["a"]
    assert share.usage.current() == 2.0 and len(share.waiting) == 1 and sorted(share.live) == [parent.seq]
    for child in parent.children[:2]:
        executors.complete(backend, child, 0, None)
    backend.run_until(T0)
    executors.complete(backend, parent.children[2], 0, None)
    assert parent.status == SUCCEEDED
    assert share.usage.current() == 0.0 and not share.live and book(backend).live_shares == 0


def test_cancel_of_a_runnable_job_unfiles_it():
    backend = make_backend(max_vcpus=0)
    a0, a1 = add_job(backend, "a0", "a"), add_job(backend, "a1", "a")
    backend.run_until(T0)
    flow.cancel_job(backend, a0, "stop")
    assert a0.status == FAILED
    share = book(backend).shares["a"]
    assert [share.items[k] for k in share.waiting.ascending()] == [a1]
    assert sorted(share.live) == [a1.seq]


def test_priority_then_creation_inside_a_share():
    backend = make_backend(max_vcpus=0)
    low = add_job(backend, "low", "a", priority=1)
    none = add_job(backend, "none", "a")
    high = add_job(backend, "high", "a", priority=9)
    backend.now_ms += 1
    high_later = add_job(backend, "high-later", "a", priority=9)
    backend.run_until(backend.now_ms)
    share = book(backend).shares["a"]
    assert [share.items[k] for k in share.waiting.ascending()] == [high, high_later, low, none]


@pytest.mark.parametrize("step", ["dispatch", "retry", "end", "cancel", "submit"])
def test_a_rolled_back_step_leaves_the_book_as_it_was(step):
    backend = make_backend(max_vcpus=0, computeReservation=50)
    a = add_job(backend, "a0", "a", retry_strategy={"attempts": 3})
    add_job(backend, "a1", "a")
    b = add_job(backend, "b0", "b")
    backend.run_until(T0)
    if step != "dispatch":
        set_capacity(backend, 2)
        schedulers.request_dispatch(backend)
        backend.run_until(T0)
        assert a.status == RUNNING and b.status == RUNNING
    backend.now_ms = T0 + 1000
    before = picture(backend)
    journal = backend.journal
    journal.begin()
    if step == "dispatch":
        set_capacity(backend, 3)
        schedulers._dispatch_pass(backend)
        assert book(backend).shares["a"].holding
    elif step == "retry":
        executors.complete(backend, a, 1, None)
        assert a.status == RUNNABLE
    elif step == "end":
        executors.complete(backend, b, 0, None)
        assert b.status == SUCCEEDED
    elif step == "cancel":
        flow.cancel_job(backend, backend.jobs.by_seq[a.seq + 1], "stop")
    else:
        add_job(backend, "c0", "c")
    assert picture(backend) != before
    journal.rollback()
    assert picture(backend) == before


def test_reservation_needs_fit_first_then_holds_back_running_shares():
    backend = make_backend(max_vcpus=4, computeReservation=50)
    a = [add_job(backend, f"a{i}", "a") for i in range(3)]
    backend.run_until(T0)
    assert [j.status for j in a] == [RUNNING, RUNNING, RUNNABLE]
    assert backend.jobs.queues[QUEUE].blocked_job is None  # held back by the reserve, not blocked
    b = add_job(backend, "b-big", "b", vcpus=3)
    backend.run_until(T0)
    # b is not running yet, so it may use the reserve, but 3 vCPU do not fit in the 2 free: the queue stops.
    assert b.status == RUNNABLE and backend.jobs.queues[QUEUE].blocked_job is None
    assert "it is the next job the queue dispatches" in fair_share.explain_fair_share(backend, b)


def test_unlimited_capacity_reserves_nothing():
    backend = make_backend(max_vcpus=4, computeReservation=90)
    backend.compute_environments.get(CE).data = {
        "computeEnvironmentName": "ce", "computeEnvironmentArn": CE, "type": "UNMANAGED", "state": "ENABLED",
        "status": "VALID",
    }
    jobs = [add_job(backend, f"a{i}", "a") for i in range(5)]
    backend.run_until(T0)
    assert all(j.status == RUNNING for j in jobs)


def test_backfill_skips_a_share_whose_job_does_not_fit():
    backend = Backend("123456789012", "us-east-1", EngineConfig(backfill=True))
    backend.now_ms = T0
    backend.jobs.rules = [JobRule(duration=None)]
    template = make_backend(max_vcpus=2)
    for table in ("compute_environments", "scheduling_policies", "job_queues"):
        for resource in getattr(template, table):
            getattr(backend, table).add(resource)
    big = add_job(backend, "a-big", "a", vcpus=3)
    small = add_job(backend, "b-small", "b")
    backend.run_until(T0)
    assert big.status == RUNNABLE and small.status == RUNNING
    assert big.status_reason is not None and big.status_reason.startswith("MISCONFIGURATION:")


@pytest.mark.parametrize("seed", range(5))
def test_book_matches_the_jobs_through_a_random_workload(seed):
    """Retries, cancels, terminations, arrays and time passing: at every step each share's
    waiting jobs are exactly its RUNNABLE jobs, and its units in use its STARTING/RUNNING jobs'."""
    import random

    rng = random.Random(seed)
    backend = make_backend(max_vcpus=6, computeReservation=30, shareDecaySeconds=600)
    backend.jobs.rules = [
        JobRule(name="fail*", duration=3, exit_code=1),
        JobRule(name="long*", duration=40),
        JobRule(name="held*", duration=None),
        JobRule(name="quick*", duration=5),
    ]
    jobs: list[Job] = []
    for step in range(300):
        action = rng.random()
        if action < 0.45:
            kind = rng.choice(["fail", "long", "held", "quick", "quick"])
            extra = {"retry_strategy": {"attempts": 3}} if kind == "fail" else {}
            if rng.random() < 0.1:
                extra["array_size"] = rng.randint(2, 4)
            jobs.append(add_job(backend, f"{kind}{step}", rng.choice("abcd"), vcpus=rng.choice([0.5, 1, 2]),
                                priority=rng.choice([None, 1, 5]), **extra))
        elif action < 0.55 and jobs:
            flow.cancel_job(backend, rng.choice(jobs), "cancel", terminate=rng.random() < 0.5)
        elif action < 0.6:
            held = [j for j in backend.jobs.by_id.values() if j.status == RUNNING and j.name.startswith("held")
                    and not j.is_node]
            if held:
                executors.complete(backend, rng.choice(held), rng.choice([0, 1]), None)
        backend.run_until(backend.now_ms + rng.choice([0, 0, 1000, 5000]))
        assert_book_matches(backend)


def assert_book_matches(backend: Backend) -> None:
    if QUEUE not in backend.jobs.queues:
        return  # no job yet
    found = book(backend)
    runnable: dict[str, list[Job]] = {}
    holding: dict[str, float] = {}
    for job in backend.jobs.by_id.values():
        if job.is_node or job.is_array_parent:
            continue
        share = job.spec.share_identifier
        if job.status == RUNNABLE:
            runnable.setdefault(share, []).append(job)
        elif job.status in ("STARTING", "RUNNING"):
            holding[share] = holding.get(share, 0.0) + job.spec.vcpus
    for identifier, share in found.shares.items():
        assert sorted(j.seq for j in share.items.values()) == sorted(j.seq for j in runnable.get(identifier, []))
        assert share.usage.current() == pytest.approx(holding.get(identifier, 0.0))
        assert (identifier in found.using) == (holding.get(identifier, 0.0) > 0)
        assert (identifier in found.waiting) == bool(runnable.get(identifier))
    assert set(runnable) <= set(found.shares)
