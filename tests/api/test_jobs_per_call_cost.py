"""What the per-call cost work on container jobs must not change (issue 3):
a ListJobs summary kept between calls follows every change of its job, and
a job evaluated within its SubmitJob call moves exactly as one evaluated by
the next event would."""

from __future__ import annotations

import boto3
import pytest

import localbatch
from localbatch.engine import flow
from tests.api.test_jobs import describe, environment, frozen, job_definition, submit
from tests.api.test_jobs_scheduling import timeline

__all__ = ["frozen"]

pytestmark = pytest.mark.usefixtures("frozen")


def _made_id(n: int) -> str:
    """An id for a job made by hand, in the lowercase UUID form of every job id
    (the dispatch order reads it: same-millisecond jobs go by jobId, spec §3.2)."""
    return f"00000000-0000-4000-8000-{n:012x}"


def _summaries(batch, status):
    return {s["jobName"]: s for s in batch.list_jobs(jobQueue="q", jobStatus=status)["jobSummaryList"]}


# == kept summaries follow the job ==================================================


def test_a_listed_job_that_becomes_the_blocked_head_shows_its_reason(batch, lb):
    environment(batch, max_vcpus=2)
    job_definition(batch, name="big", vcpus="4")  # never fits: a blocked head (spec §2.9)
    first = submit(batch, name="first", definition="big")
    lb.advance(0.001)  # created after the head: same-millisecond jobs go by jobId (spec §3.2)
    submit(batch, name="second", definition="big")
    lb.run_until_idle()
    listed = _summaries(batch, "RUNNABLE")
    assert listed["first"]["statusReason"].startswith("MISCONFIGURATION:")
    assert "statusReason" not in listed["second"]  # only the head is blocked
    batch.cancel_job(jobId=first, reason="out of the way")
    lb.run_until_idle()
    # `second` did not move: only the scheduler gave it a reason.
    (second,) = _summaries(batch, "RUNNABLE").values()
    assert second["jobName"] == "second" and second["statusReason"].startswith("MISCONFIGURATION:")


def test_a_listed_job_cancelled_while_it_waits_shows_it(batch, lb):
    environment(batch)
    lb.on_job("held", duration=None)
    held = submit(batch, name="held")
    submit(batch, name="waiter", dependsOn=[{"jobId": held}])
    lb.run_until_idle()
    assert _summaries(batch, "PENDING")["waiter"]["isCancelled"] is False
    waiter = _summaries(batch, "PENDING")["waiter"]["jobId"]
    batch.cancel_job(jobId=waiter, reason="no longer needed")
    # Still PENDING until its dependency ends (spec §2.8), but cancelled now.
    assert _summaries(batch, "PENDING")["waiter"]["isCancelled"] is True
    assert describe(batch, waiter)["isCancelled"] is True


def test_a_cancelled_array_parent_shows_it_in_its_summary(batch, lb):
    environment(batch, max_vcpus=1)
    lb.on_job("*", duration=None)
    parent = submit(batch, name="arr", arrayProperties={"size": 3})
    lb.run_until_idle()
    assert _summaries(batch, "PENDING")["arr"]["isCancelled"] is False
    batch.cancel_job(jobId=parent, reason="stop")
    assert _summaries(batch, "PENDING")["arr"]["isCancelled"] is True


def test_a_page_of_summaries_is_the_newest_jobs_in_order(batch, lb):
    environment(batch, max_vcpus=8)
    names = [f"j{i}" for i in range(25)]
    for name in names:
        submit(batch, name=name)
    lb.run_until_idle()
    pages, token = [], None
    while True:
        kwargs = {"nextToken": token} if token else {}
        out = batch.list_jobs(jobQueue="q", jobStatus="SUCCEEDED", maxResults=7, **kwargs)
        pages.append([s["jobName"] for s in out["jobSummaryList"]])
        token = out.get("nextToken")
        if token is None:
            break
    assert [len(p) for p in pages] == [7, 7, 7, 4]
    assert [n for p in pages for n in p] == names[::-1]


# == a submission evaluated within its call ===========================================


def test_jobs_submitted_in_one_millisecond_keep_the_event_timeline(batch, lb):
    environment(batch, max_vcpus=1)
    lb.on_job("*", duration=5)
    ids = {name: submit(batch, name=name) for name in ("a", "b", "c")}
    lb.run_until_idle()
    # a starts within its call; b and c wait, created in the same millisecond: they go by jobId (spec §3.2).
    second, third = sorted("bc", key=ids.get)
    assert timeline(lb) == [
        "0 a ->SUBMITTED",
        "0 a SUBMITTED>RUNNABLE",
        "0 a RUNNABLE>STARTING",
        "0 a STARTING>RUNNING",
        "0 b ->SUBMITTED",
        "0 b SUBMITTED>RUNNABLE",
        "0 c ->SUBMITTED",
        "0 c SUBMITTED>RUNNABLE",
        "5 a RUNNING>SUCCEEDED | Essential container in task exited",
        f"5 {second} RUNNABLE>STARTING",
        f"5 {second} STARTING>RUNNING",
        f"10 {second} RUNNING>SUCCEEDED | Essential container in task exited",
        f"10 {third} RUNNABLE>STARTING",
        f"10 {third} STARTING>RUNNING",
        f"15 {third} RUNNING>SUCCEEDED | Essential container in task exited",
    ]


def test_a_submission_waits_for_events_already_due(lb, batch):
    """Events already due when a job is submitted come first: its evaluation
    stays an event behind them."""
    environment(batch)
    # A rule with run(): the start stays an event (executors.running_in_call).
    lb.on_job("*", duration=None, run=lambda job: 0)
    backend = lb.backend()
    # Evaluated and dispatched in its call: its move to RUNNING is due now.
    first = submit(batch, name="first")
    assert backend.jobs.get(first).status == "STARTING" and not backend.events.idle_until(backend.now_ms)
    job = backend.jobs.get(first)
    second = type(job)(backend.next_seq(), _made_id(2), job.arn + "-2", "second", job.queue_arn, job.spec,
                       backend.now_ms)
    flow.submit(backend, second, in_call=True)
    assert second.status == "SUBMITTED" and second.event is not None
    backend.run_until(backend.now_ms)
    assert timeline(lb)[-5:] == [
        "0 second ->SUBMITTED",
        "0 first STARTING>RUNNING",
        "0 second SUBMITTED>RUNNABLE",
        "0 second RUNNABLE>STARTING",
        "0 second STARTING>RUNNING",
    ]


def test_a_job_that_starts_at_once_is_running_when_its_call_returns(lb, batch):
    """No STARTING dwell and nothing else due: evaluation, pass and start
    all happen in the SubmitJob call, in the order the events would have
    taken, and no event is left due for the next call."""
    environment(batch)
    lb.on_job("*", duration=None)
    backend = lb.backend()
    first = submit(batch, name="first")
    assert backend.jobs.get(first).status == "RUNNING" and backend.events.idle_until(backend.now_ms)
    assert timeline(lb) == [
        "0 first ->SUBMITTED",
        "0 first SUBMITTED>RUNNABLE",
        "0 first RUNNABLE>STARTING",
        "0 first STARTING>RUNNING",
    ]
    assert describe(batch, first)["startedAt"] == describe(batch, first)["createdAt"]


def test_a_start_behind_a_run_rule_stays_an_event(lb, batch):
    """A rule whose run() is the test's own code keeps the start of the jobs
    it matches an event: run() runs between calls, where it always did."""
    environment(batch)
    ran = []
    lb.on_job("coded", duration=None, run=lambda job: ran.append(job.job_name))
    coded = submit(batch, name="coded")
    assert lb.backend().jobs.get(coded).status == "STARTING" and ran == []
    assert describe(batch, coded)["status"] == "RUNNING" and ran == ["coded"]
    # Only the job that rule matches: another still starts in its call.
    lb.on_job("plain", duration=None)
    plain = submit(batch, name="plain")
    assert lb.backend().jobs.get(plain).status == "RUNNING" and ran == ["coded"]


def test_a_start_after_a_starting_dwell_stays_an_event():
    with localbatch.patch(starting_seconds=2) as lb:
        batch = boto3.client("batch", region_name="us-east-1")
        environment(batch)
        lb.on_job("slow", duration=None)
        slow = submit(batch, name="slow")
        assert lb.backend().jobs.get(slow).status == "STARTING"
        lb.advance(2)
        assert timeline(lb) == [
            "0 slow ->SUBMITTED",
            "0 slow SUBMITTED>RUNNABLE",
            "0 slow RUNNABLE>STARTING",
            "2 slow STARTING>RUNNING",
        ]


def test_engine_submissions_are_evaluated_by_events(lb, batch):
    """Outside a call nothing promises that the due events run next: jobs
    stored one after another are all SUBMITTED before any is evaluated."""
    environment(batch)
    lb.on_job("*", duration=None)
    backend = lb.backend()
    template = backend.jobs.get(submit(batch, name="template"))
    lb.run_until_idle()
    jobs = []
    for n, name in enumerate(("x", "y")):
        job = type(template)(backend.next_seq(), _made_id(n), f"{template.arn}-{name}", name, template.queue_arn,
                             template.spec, backend.now_ms)
        flow.submit(backend, job)
        jobs.append(job)
    assert [job.status for job in jobs] == ["SUBMITTED", "SUBMITTED"]
    backend.run_until(backend.now_ms)
    assert timeline(lb, names={"x", "y"})[:4] == [
        "0 x ->SUBMITTED", "0 y ->SUBMITTED", "0 x SUBMITTED>RUNNABLE", "0 y SUBMITTED>RUNNABLE",
    ]


# == a plain submission's checks, worked out once per queue and definition ===========


def test_a_plain_submission_follows_every_change_of_its_queue_and_definition(lb, batch):
    """SubmitJob with only a name, queue and definition reuses what it
    checked and resolved last time (api/jobs._plain_submission) until a
    resource changes: each change below must show in the next submission."""
    from botocore.exceptions import ClientError

    environment(batch)
    lb.on_job("*", duration=None)

    def refused(message):
        with pytest.raises(ClientError) as raised:
            submit(batch, name="x")
        assert message in raised.value.response["Error"]["Message"]

    def definition_of(job_id):
        return describe(batch, job_id)["jobDefinition"].rsplit("/", 1)[1]

    assert definition_of(submit(batch, name="a")) == "jd:1"
    job_definition(batch, vcpus="2")  # a new revision: the name now means it
    assert definition_of(submit(batch, name="b")) == "jd:2"
    batch.update_job_queue(jobQueue="q", state="DISABLED")
    refused("JobQueue q is not in ENABLED state")
    batch.update_job_queue(jobQueue="q", state="ENABLED")
    assert definition_of(submit(batch, name="c")) == "jd:2"
    batch.deregister_job_definition(jobDefinition="jd:2")
    assert definition_of(submit(batch, name="d")) == "jd:1"
    batch.deregister_job_definition(jobDefinition="jd:1")
    refused("JobDefinition name jd does not exist or is not in ACTIVE status")
    job_definition(batch)
    assert definition_of(submit(batch, name="e")) == "jd:3"
    batch.update_job_queue(jobQueue="q", state="DISABLED")
    batch.delete_job_queue(jobQueue="q")
    lb.run_until_idle()
    refused("JobQueue q not found.")


def test_a_submission_that_fails_midway_through_its_in_call_start_changes_nothing(lb, batch, monkeypatch):
    """A bug that breaks the start of a job inside its SubmitJob call (after
    it was stored, made RUNNABLE, dispatched and its capacity held) answers
    ServerException and leaves the engine exactly as before the call."""
    from botocore.exceptions import ClientError

    from localbatch.engine import executors

    environment(batch)
    lb.on_job("*", duration=None)
    submit(batch, name="kept")
    backend = lb.backend()

    def state():
        queue = backend.jobs.queues[backend.arn("job-queue/q")]
        return (len(backend.jobs), list(backend.jobs.timeline), {s: list(q.ascending()) for s, q in queue.by_status.items()},
                list(queue.runnable.ascending()), dict(backend.jobs.ce_used), len(backend.events), timeline(lb))

    before = state()
    real = executors._now_running

    def broken(backend, job):
        real(backend, job)
        raise KeyError("broken")

    monkeypatch.setattr(executors, "_now_running", broken)
    with pytest.raises(ClientError) as raised:
        submit(batch, name="lost")
    assert raised.value.response["Error"]["Code"] == "ServerException"
    assert state() == before
    monkeypatch.undo()
    submit(batch, name="next")
    assert timeline(lb)[-4:] == [
        "0 next ->SUBMITTED",
        "0 next SUBMITTED>RUNNABLE",
        "0 next RUNNABLE>STARTING",
        "0 next STARTING>RUNNING",
    ]
