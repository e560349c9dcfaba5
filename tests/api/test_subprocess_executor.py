"""`patch(executor="subprocess")`: a RUNNING attempt runs the job's command
as a real local process; its exit code decides the attempt, retries follow
the retryStrategy, and `lb.logs(job_id)` has each attempt's output
(localbatch/engine/executors.py, spec §2.1, §2.6, §2.7, §2.11).

Engine time stays the rule's: the clock is frozen at T0 and every attempt
lasts its rule's duration, however long the process took.
"""

from __future__ import annotations

import json
import os
import sys
import time

import boto3
import pytest
from freezegun import freeze_time

import localbatch
from localbatch.engine import executors
from tests.api.test_jobs import T0, compute_environment, describe, frozen, job_definition, job_queue, status, submit
from tests.api.test_jobs_scheduling import timeline

__all__ = ["frozen"]

pytestmark = pytest.mark.usefixtures("frozen")

PRINT_ENV = [sys.executable, "-c", "import json, os; print(json.dumps(dict(os.environ)))"]


@pytest.fixture
def lb():
    with localbatch.patch(executor="subprocess") as controller:
        yield controller


@pytest.fixture
def batch(lb):
    client = boto3.client("batch", region_name="us-east-1")
    compute_environment(client, max_vcpus=8)
    job_queue(client)
    return client


def test_exit_code_decides_and_retry_runs_it_again(batch, lb):
    job_definition(batch, command=["sh", "-c", 'test "$AWS_BATCH_JOB_ATTEMPT" -gt 1'])
    lb.on_job("*", duration=30)
    job_id = submit(batch, name="flaky", retryStrategy={"attempts": 3})
    lb.run_until_idle()
    assert timeline(lb) == [
        "0 flaky ->SUBMITTED",
        "0 flaky SUBMITTED>RUNNABLE",
        "0 flaky RUNNABLE>STARTING",
        "0 flaky STARTING>RUNNING",
        "30 flaky RUNNING>RUNNABLE",
        "30 flaky RUNNABLE>STARTING",
        "30 flaky STARTING>RUNNING",
        "60 flaky RUNNING>SUCCEEDED | Essential container in task exited",
    ]
    job = describe(batch, job_id)
    assert [a["container"]["exitCode"] for a in job["attempts"]] == [1, 0]
    assert lb.logs(job_id) == ["", ""]


def test_failing_command_without_retries_fails_the_job(batch, lb):
    job_definition(batch, command=["sh", "-c", "exit 3"])
    job_id = submit(batch, name="bad")
    job = describe(batch, job_id)
    assert (job["status"], job["statusReason"]) == ("FAILED", "Essential container in task exited")
    assert job["container"]["exitCode"] == 3


def test_output_is_captured_per_attempt(batch, lb):
    script = (
        'echo "out $AWS_BATCH_JOB_ATTEMPT"; echo "err $AWS_BATCH_JOB_ATTEMPT" >&2; exit $((2 - AWS_BATCH_JOB_ATTEMPT))'
    )
    job_definition(batch, command=["sh", "-c", script])
    job_id = submit(batch, name="talk", retryStrategy={"attempts": 2})
    assert status(batch, job_id) == "SUCCEEDED"
    assert lb.logs(job_id) == ["out 1\nerr 1\n", "out 2\nerr 2\n"]
    assert lb.logs(job_id, attempt=2) == "out 2\nerr 2\n"
    for wrong in (0, 3):
        with pytest.raises(localbatch.LocalBatchError, match=f"has 2 attempt\\(s\\), no attempt {wrong}"):
            lb.logs(job_id, attempt=wrong)


def test_environment_is_the_containers_plus_aws_batch_variables(batch, lb):
    job_definition(batch, command=PRINT_ENV, container={"environment": [{"name": "STAGE", "value": "test"}]})
    job_id = submit(batch, name="env", containerOverrides={"environment": [{"name": "MINE", "value": "1"}]})
    assert status(batch, job_id) == "SUCCEEDED"
    env = json.loads(lb.logs(job_id, attempt=1))
    env.pop("LC_CTYPE", None)  # Python's own C-locale coercion (PEP 538) may add it
    assert env.pop("PATH")
    assert env == {
        "STAGE": "test",
        "MINE": "1",
        "AWS_BATCH_CE_NAME": "ce",
        "AWS_BATCH_JQ_NAME": "q",
        "AWS_BATCH_JOB_ID": job_id,
        "AWS_BATCH_JOB_ATTEMPT": "1",
    }


def test_array_children_see_their_index(batch, lb):
    show = 'echo "$AWS_BATCH_JOB_ARRAY_INDEX/$AWS_BATCH_JOB_ARRAY_SIZE $AWS_BATCH_JOB_ID"'
    job_definition(batch, command=["sh", "-c", show])
    parent = submit(batch, name="arr", arrayProperties={"size": 3})
    lb.run_until_idle()
    assert status(batch, parent) == "SUCCEEDED"
    assert [lb.logs(f"{parent}:{i}") for i in range(3)] == [[f"{i}/3 {parent}:{i}\n"] for i in range(3)]
    assert lb.logs(parent) == []  # the parent itself never runs


def test_command_after_parameter_substitution_without_a_shell(batch, lb):
    job_definition(batch, command=["echo", "Ref::greeting", "$HOME", "a  b"], parameters={"greeting": "hello"})
    job_id = submit(batch, name="echo")
    assert describe(batch, job_id)["container"]["command"] == ["echo", "hello", "$HOME", "a  b"]
    assert lb.logs(job_id) == ["hello $HOME a  b\n"]


def test_engine_duration_is_the_rules_not_wall_time():
    with localbatch.patch(executor="subprocess", job_duration=300) as lb:
        batch = boto3.client("batch", region_name="us-east-1")
        compute_environment(batch)
        job_queue(batch)
        job_definition(batch, command=["true"])
        lb.on_job("quick", duration=5)
        default = submit(batch, name="default")
        quick = submit(batch, name="quick")
        lb.run_until_idle()
        for job_id, seconds in ((default, 300), (quick, 5)):
            job = describe(batch, job_id)
            assert job["status"] == "SUCCEEDED"
            assert (job["startedAt"], job["stoppedAt"]) == (T0, T0 + seconds * 1000)


def test_a_run_rule_still_wins(batch, lb):
    job_definition(batch, command=["sh", "-c", "exit 9"])
    lb.on_job("decided", run=lambda job: 0)
    job_id = submit(batch, name="decided")
    assert status(batch, job_id) == "SUCCEEDED"
    assert lb.logs(job_id) == [""]  # no process ran


def test_duration_none_waits_for_complete(batch, lb):
    job_definition(batch, command=["sh", "-c", "echo ran; exit 4"])
    lb.on_job("*", duration=None)
    job_id = submit(batch, name="held")
    assert status(batch, job_id) == "RUNNING"
    assert lb.logs(job_id) == ["ran\n"]  # the process already ran; the attempt ends when the test says
    lb.complete(job_id, exit_code=0)
    assert status(batch, job_id) == "SUCCEEDED"


def test_missing_executable_is_a_failed_start(batch, lb):
    job_definition(batch, command=["no-such-program-localbatch", "x"])
    job_id = submit(batch, name="missing", retryStrategy={"attempts": 2})
    lb.run_until_idle()
    assert timeline(lb, moves={"RUNNING", "RUNNABLE", "FAILED"}) == [
        "0 missing SUBMITTED>RUNNABLE",
        "0 missing STARTING>RUNNABLE",
        "0 missing STARTING>FAILED | Task failed to start",
    ]
    job = describe(batch, job_id)
    assert "startedAt" not in job
    for attempt in job["attempts"]:
        assert attempt["statusReason"] == "Task failed to start"
        assert "startedAt" not in attempt
        assert attempt["container"]["exitCode"] == 127
        assert attempt["container"]["reason"] == (
            "CannotStartContainerError: Error response from daemon: OCI runtime create failed: starting container "
            'process caused: exec: "no-such-program-localbatch": executable file not found in $PATH: unknown'
        )
    assert lb.logs(job_id) == ["", ""]


def test_missing_path_and_exit_code_127_can_be_matched(batch, lb):
    job_definition(batch, command=["/nonexistent/run.sh"])
    job_id = submit(batch, name="path", retryStrategy={
        "attempts": 3, "evaluateOnExit": [{"action": "EXIT", "onExitCode": "127"}]})
    job = describe(batch, job_id)
    assert job["status"] == "FAILED" and len(job["attempts"]) == 1
    assert job["attempts"][0]["container"]["reason"].endswith(
        'exec: "/nonexistent/run.sh": stat /nonexistent/run.sh: no such file or directory: unknown'
    )


@pytest.mark.parametrize("pidfd", [True, False], ids=["pidfd", "polling"])
def test_wall_clock_timeout_takes_the_timeout_path(batch, lb, monkeypatch, pidfd):
    # attemptDurationSeconds is at least 60; scale the wall-clock limit down
    # so the real kill happens in 0.1 s. Engine time still says 60 s.
    if not pidfd:  # the wait of platforms without os.pidfd_open
        monkeypatch.delattr(os, "pidfd_open", raising=False)
    elif not hasattr(os, "pidfd_open"):
        pytest.skip("os.pidfd_open is Linux-only")
    scaled = []

    def fast(job):
        scaled.append(executors_limit(job))
        return scaled[-1] / 600

    executors_limit = executors._wall_limit
    monkeypatch.setattr(executors, "_wall_limit", fast)
    job_definition(batch, command=["sh", "-c", "echo started; sleep 30 & wait"])
    lb.on_job("*", duration=5)
    job_id = submit(batch, name="slow", timeout={"attemptDurationSeconds": 60}, retryStrategy={"attempts": 3})
    lb.advance(30)
    assert lb.explain(job_id) == (
        "RUNNING on ce since 2026-01-01T00:00:00Z, attempt 1 of 3; its process was killed at the attempt's time "
        "limit; the attempt times out at 2026-01-01T00:01:00Z"
    )
    lb.run_until_idle()
    assert scaled == [60]
    assert timeline(lb, moves={"RUNNING", "FAILED"}) == [
        "0 slow STARTING>RUNNING",
        "60 slow RUNNING>FAILED | Job attempt duration exceeded timeout",
    ]
    (attempt,) = describe(batch, job_id)["attempts"]  # never retried
    assert attempt["container"]["exitCode"] == 137
    assert lb.logs(job_id) == ["started\n"]


def test_time_patching_and_autojump_do_not_reach_the_process_wait():
    # Popen.wait(timeout) would poll with time.sleep (autojump's, which
    # re-enters the engine) and a frozen time.monotonic (never times out).
    with freeze_time("2026-01-01"), localbatch.patch(executor="subprocess", autojump=True) as lb:
        batch = boto3.client("batch", region_name="us-east-1")
        compute_environment(batch)
        job_queue(batch)
        job_definition(batch, command=["sh", "-c", "echo polled"])
        lb.on_job("*", duration=90)
        job_id = submit(batch, name="polled", timeout={"attemptDurationSeconds": 120})
        while status(batch, job_id) != "SUCCEEDED":
            time.sleep(30)
        assert lb.logs(job_id) == ["polled\n"]
        assert describe(batch, job_id)["stoppedAt"] == T0 + 90_000


def test_background_children_do_not_outlive_the_command(batch, lb):
    job_definition(batch, command=["sh", "-c", "sleep 30 & echo done"])
    job_id = submit(batch, name="bg")
    assert status(batch, job_id) == "SUCCEEDED"  # returned at once: the sleeper was killed with its group
    assert lb.logs(job_id) == ["done\n"]


def test_executor_option_is_validated():
    with pytest.raises(localbatch.LocalBatchError, match="executor must be one of rules, subprocess, got 'docker'"):
        localbatch.patch(executor="docker")


def test_rules_executor_runs_no_process(tmp_path):
    marker = tmp_path / "ran"
    with localbatch.patch() as lb:
        batch = boto3.client("batch", region_name="us-east-1")
        compute_environment(batch)
        job_queue(batch)
        job_definition(batch, command=["touch", str(marker)])
        job_id = submit(batch, name="rules")
        assert status(batch, job_id) == "SUCCEEDED"
        assert lb.logs(job_id) == [""]
    assert not marker.exists()


def test_logs_of_unknown_job(lb):
    with pytest.raises(localbatch.LocalBatchError, match="no job nope"):
        lb.logs("nope")
