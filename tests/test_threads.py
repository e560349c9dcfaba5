"""boto3 clients used from a thread pool: the controller serialises every
call and every `lb.*` method with one lock, so concurrent submits, reads,
cancels, terminations and clock moves leave a consistent engine.

Afterwards every submitted job exists exactly once, ListJobs' per-status
indexes agree with DescribeJobs, every array parent's statusSummary agrees
with its children, every move on the timeline is one lifecycle.TRANSITIONS
allows with times that never go back, and no exception other than
ClientException reached a caller.
"""

from __future__ import annotations

import itertools
import random
import threading
import traceback
from collections import Counter, defaultdict

import boto3
import time_machine
from botocore.exceptions import ClientError

import localbatch
from localbatch.engine.jobs import STATUSES
from localbatch.engine.lifecycle import TRANSITIONS
from tests.api.test_jobs import T0, compute_environment, job_definition, job_queue

THREADS = 16
STEPS = 80
CLOCK_THREADS = 3  # threads that mostly move time and use the lb.* methods


class Run:
    """What the workers share: ids handed out, and anything unexpected."""

    def __init__(self) -> None:
        self.submitted: list[str] = []
        self.unexpected: list[str] = []
        self.client_errors: Counter[str] = Counter()
        self.misuse = 0
        self.lock = threading.Lock()

    def some_ids(self, rng: random.Random, k: int) -> list[str]:
        with self.lock:
            ids = list(self.submitted)
        return rng.sample(ids, min(k, len(ids))) if ids else []


def _batch_call(rng: random.Random, client, run: Run) -> None:
    roll = rng.random()
    if roll < 0.35:
        kwargs = {}
        name = rng.choice(["job", "job", "flaky", "held"])
        if rng.random() < 0.3:
            kwargs["retryStrategy"] = {"attempts": 2}
        if rng.random() < 0.15:
            kwargs["arrayProperties"] = {"size": rng.randint(2, 4)}
        depends = run.some_ids(rng, 1)
        if depends and rng.random() < 0.25:
            kwargs["dependsOn"] = [{"jobId": depends[0]}]
        out = client.submit_job(jobName=name, jobQueue="q", jobDefinition="jd", **kwargs)
        with run.lock:
            run.submitted.append(out["jobId"])
    elif roll < 0.55:
        ids = run.some_ids(rng, rng.randint(1, 20))
        if ids:
            found = client.describe_jobs(jobs=ids)["jobs"]
            assert {job["jobId"] for job in found} == set(ids)
    elif roll < 0.75:
        status = rng.choice(STATUSES)
        listed = client.list_jobs(jobQueue="q", jobStatus=status, maxResults=rng.choice([5, 100]))
        assert all(job["status"] == status for job in listed["jobSummaryList"])
    elif roll < 0.85:
        for job_id in run.some_ids(rng, 1):
            client.cancel_job(jobId=job_id, reason="cancelled by a thread")
    elif roll < 0.95:
        for job_id in run.some_ids(rng, 1):
            client.terminate_job(jobId=job_id, reason="terminated by a thread")
    else:
        ids = run.some_ids(rng, 5)
        if ids:
            client.terminate_jobs(jobs=ids, reason="bulk")


def _controller_call(rng: random.Random, lb, run: Run, report_path: str) -> None:
    roll = rng.random()
    ids = run.some_ids(rng, 1)
    if roll < 0.45:
        lb.advance(rng.choice([0, 0.5, 1, 2, 5]))
    elif roll < 0.55:
        lb.timeline()
    elif roll < 0.7 and ids:
        assert lb.explain(ids[0]).split(":")[0].split(" ")[0] in STATUSES
    elif roll < 0.78 and ids:
        assert isinstance(lb.logs(ids[0]), list)
    elif roll < 0.86 and ids:
        try:
            lb.complete(ids[0])
        except localbatch.LocalBatchError as error:
            # Another thread may have ended (or not yet started) the job: the
            # answer names its status, as a single-threaded call would.
            assert "not RUNNING" in str(error), error
            with run.lock:
                run.misuse += 1
    elif roll < 0.9:
        lb.on_job("job", duration=rng.choice([1, 3, 5]))
    elif roll < 0.95:
        lb.run_until_idle()
    else:
        lb.report(report_path)


def _worker(index: int, lb, shared, run: Run, barrier: threading.Barrier, report_path: str) -> None:
    rng = random.Random(index)
    try:
        own = boto3.session.Session().client("batch", region_name="us-east-1")
        barrier.wait()
        for _ in range(STEPS):
            try:
                if index < CLOCK_THREADS and rng.random() < 0.7:
                    _controller_call(rng, lb, run, report_path)
                else:
                    _batch_call(rng, own if rng.random() < 0.5 else shared, run)
            except ClientError as error:
                code = error.response["Error"]["Code"]
                with run.lock:
                    if code == "ClientException":
                        run.client_errors[error.response["Error"]["Message"]] += 1
                    else:
                        run.unexpected.append(f"{code}: {error}")
    except BaseException:  # noqa: BLE001 (anything else reaching a caller fails the test)
        with run.lock:
            run.unexpected.append(traceback.format_exc())


def _check_consistency(lb, client, submitted: list[str]) -> None:
    assert len(set(submitted)) == len(submitted), "a job id was handed out twice"
    described = {}
    for i in range(0, len(submitted), 100):
        for job in client.describe_jobs(jobs=submitted[i : i + 100])["jobs"]:
            assert job["jobId"] not in described
            described[job["jobId"]] = job
    assert set(described) == set(submitted), "a submitted job is missing"

    listed: dict[str, str] = {}
    paginator = client.get_paginator("list_jobs")
    for status in STATUSES:
        for page in paginator.paginate(jobQueue="q", jobStatus=status, PaginationConfig={"PageSize": 100}):
            for summary in page["jobSummaryList"]:
                assert summary["jobId"] not in listed, f"{summary['jobId']} listed twice"
                listed[summary["jobId"]] = summary["status"]
    assert listed == {job_id: job["status"] for job_id, job in described.items()}

    for job in described.values():
        summary = (job.get("arrayProperties") or {}).get("statusSummary")
        if summary is None:
            continue
        children = [f"{job['jobId']}:{i}" for i in range(job["arrayProperties"]["size"])]
        statuses = Counter(child["status"] for child in client.describe_jobs(jobs=children)["jobs"])
        assert summary == {status: statuses.get(status, 0) for status in STATUSES}

    moves = defaultdict(list)
    for row in lb.timeline():
        moves[row["job_id"]].append(row)
    for job_id, rows in moves.items():
        assert rows[0]["from"] is None
        for before, after in itertools.pairwise(rows):
            assert after["from"] == before["to"], (job_id, before, after)
            assert after["time_ms"] >= before["time_ms"], (job_id, before, after)
        for row in rows:
            assert row["to"] in TRANSITIONS[row["from"]], (job_id, row)
        if job_id in described:
            assert rows[-1]["to"] == described[job_id]["status"]
    assert set(submitted) <= set(moves)


def test_many_threads_leave_a_consistent_engine(tmp_path):
    # The wall clock is frozen so that only lb.advance moves time: the
    # checks below compare answers of several calls. Response shapes are the
    # API tests' business; validating each one here would cost 10x the calls.
    with time_machine.travel(T0 / 1000, tick=False), localbatch.patch(check_responses=False) as lb:
        shared = boto3.client("batch", region_name="us-east-1")
        compute_environment(shared, max_vcpus=8)
        job_queue(shared)
        job_definition(shared)
        lb.on_job("*", duration=5)
        lb.on_job("flaky", duration=3, exit_code=1)
        lb.on_job("held", duration=None)
        run = Run()
        barrier = threading.Barrier(THREADS)
        report_path = str(tmp_path / "report.html")
        threads = [
            threading.Thread(target=_worker, args=(i, lb, shared, run, barrier, report_path)) for i in range(THREADS)
        ]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)
        assert not any(thread.is_alive() for thread in threads)
        assert run.unexpected == []
        assert len(run.submitted) > THREADS * 5
        # Only AWS's own answers reached the callers (say, terminating a job
        # another thread's dependency failure already ended is fine; these
        # are the ones a job id from another thread may legitimately get).
        assert set(run.client_errors) <= {"Dependent job {} not found"}, run.client_errors

        _check_consistency(lb, shared, run.submitted)  # mid-flight: jobs in every status
        counts = Counter(lb.backend().jobs.get(job_id).status for job_id in run.submitted)
        assert sum(counts.values()) == len(run.submitted)

        unfinished = [i for i in run.submitted if lb.backend().jobs.get(i).status not in ("SUCCEEDED", "FAILED")]
        for i in range(0, len(unfinished), 50):  # end the held jobs and what waits for them
            shared.terminate_jobs(jobs=unfinished[i : i + 50], reason="end of test")
        lb.run_until_idle()
        _check_consistency(lb, shared, run.submitted)
        finished = Counter(describe["status"] for describe in _describe_all(shared, run.submitted))
        assert set(finished) <= {"SUCCEEDED", "FAILED"}
        assert not lb.backend().journal.active


def _describe_all(client, ids: list[str]) -> list[dict]:
    out = []
    for i in range(0, len(ids), 100):
        out += client.describe_jobs(jobs=ids[i : i + 100])["jobs"]
    return out
