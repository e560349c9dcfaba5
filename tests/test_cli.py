"""`python -m localbatch run script.py`: an unchanged boto3 script, run in
a subprocess as a user would, polls with time.sleep and finishes at once.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

POLLING_SCRIPT = textwrap.dedent(
    """
    import json
    import sys
    import time

    import boto3

    started = time.perf_counter()
    batch = boto3.client("batch")
    batch.create_compute_environment(
        computeEnvironmentName="ce",
        type="MANAGED",
        computeResources={"type": "EC2", "minvCpus": 0, "maxvCpus": 4, "instanceTypes": ["optimal"],
                          "subnets": ["subnet-1"], "securityGroupIds": ["sg-1"], "instanceRole": "ecsInstanceRole"},
    )
    def ce_status():
        return batch.describe_compute_environments(computeEnvironments=["ce"])["computeEnvironments"][0]["status"]

    while ce_status() == "CREATING":
        time.sleep(5)
    order = [{"order": 1, "computeEnvironment": "ce"}]
    batch.create_job_queue(jobQueueName="q", priority=1, computeEnvironmentOrder=order)
    batch.register_job_definition(
        jobDefinitionName="jd",
        type="container",
        containerProperties={
            "image": "busybox",
            "command": COMMAND,
            "resourceRequirements": [{"type": "VCPU", "value": "1"}, {"type": "MEMORY", "value": "512"}],
        },
    )
    job_id = batch.submit_job(jobName="job", jobQueue="q", jobDefinition="jd")["jobId"]
    polls = 0
    while True:
        status = batch.describe_jobs(jobs=[job_id])["jobs"][0]["status"]
        if status in ("SUCCEEDED", "FAILED"):
            break
        polls += 1
        time.sleep(30)
    print(json.dumps({"status": status, "polls": polls, "argv": sys.argv, "name": __name__,
                      "wall": time.perf_counter() - started}))
    sys.exit(0 if status == "SUCCEEDED" else 3)
    """
)


def _script(tmp_path: Path, command: list[str] | None = None, name: str = "poll.py") -> Path:
    path = tmp_path / name
    path.write_text(POLLING_SCRIPT.replace("COMMAND", json.dumps(command or ["echo", "hi"])))
    return path


def _summary(stderr: str) -> tuple[str, float]:
    """(jobs by status, seconds of engine time) of the runner's last line.
    Engine time is the wall clock plus what the sleeps skipped, so it is
    the skipped seconds plus the fraction of a second the run took."""
    match = re.fullmatch(r"localbatch: jobs (.+); ([0-9.]+) s of engine time", stderr.strip().splitlines()[-1])
    assert match, stderr
    return match[1], float(match[2])


def _run(tmp_path: Path, *args: str) -> tuple[subprocess.CompletedProcess, float]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env.pop("LOCALBATCH_CHECK_RESPONSES", None)  # a user's run: no response validation
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "localbatch", "run", *args],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=60, check=False,
    )
    return done, time.perf_counter() - started


def test_polling_script_finishes_at_once_with_a_job_duration(tmp_path):
    script = _script(tmp_path)
    done, wall = _run(tmp_path, "--option", "job_duration=300", str(script), "--flag", "x")
    assert done.returncode == 0, done.stderr
    out = json.loads(done.stdout)
    assert out["status"] == "SUCCEEDED"
    assert out["polls"] == 10  # 300 s of job in 30 s sleeps, none of them real
    assert out["wall"] < 1.0, out["wall"]
    assert out["argv"] == [str(script), "--flag", "x"]
    assert out["name"] == "__main__"
    jobs, seconds = _summary(done.stderr)
    assert jobs == "SUCCEEDED 1" and 300 <= seconds < 301
    assert wall < 30  # the whole process, interpreter start and imports included


def test_default_duration_is_zero(tmp_path):
    done, _ = _run(tmp_path, str(_script(tmp_path)))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["polls"] == 0


def test_report_is_written(tmp_path):
    report = tmp_path / "out.html"
    done, _ = _run(tmp_path, "--report", str(report), "--option", "job_duration=60", str(_script(tmp_path)))
    assert done.returncode == 0, done.stderr
    page = report.read_text()
    assert page.startswith("<!doctype html>")
    assert "<h2>Job queue q</h2>" in page and "<h2>Compute environment ce</h2>" in page
    assert f"localbatch: report written to {report}" in done.stderr


def test_exit_code_of_the_script_is_propagated(tmp_path):
    script = _script(tmp_path, command=["sh", "-c", "exit 5"])
    done, _ = _run(tmp_path, "--option", "executor=subprocess", "--option", "job-duration=10", str(script))
    assert done.returncode == 3, done.stderr
    assert json.loads(done.stdout)["status"] == "FAILED"
    jobs, seconds = _summary(done.stderr)
    assert jobs == "FAILED 1" and 30 <= seconds < 31  # one 30 s poll saw it RUNNING


@pytest.mark.parametrize(
    "body, code, expected",
    [
        ("import sys\nsys.exit(7)\n", 7, ""),
        ("import sys\nsys.exit('gave up')\n", 1, "gave up"),
        ("raise RuntimeError('broken script')\n", 1, "RuntimeError: broken script"),
    ],
)
def test_exits_and_errors_are_the_scripts(tmp_path, body, code, expected):
    script = tmp_path / "end.py"
    script.write_text(body)
    done, _ = _run(tmp_path, str(script))
    assert done.returncode == code
    assert expected in done.stderr
    jobs, seconds = _summary(done.stderr)
    assert jobs == "no jobs" and seconds < 1


def test_script_imports_its_neighbours(tmp_path):
    (tmp_path / "scripts").mkdir()
    (tmp_path / "scripts" / "helper.py").write_text("VALUE = 'from a neighbour'\n")
    script = tmp_path / "scripts" / "main.py"
    script.write_text("import helper\nprint(helper.VALUE)\n")
    done, _ = _run(tmp_path, str(script))
    assert done.returncode == 0, done.stderr
    assert done.stdout == "from a neighbour\n"


@pytest.mark.parametrize(
    "option, message",
    [
        ("nope=1", "localbatch: error: --option 'nope=1': unknown option; options are "),
        ("job_duration", "localbatch: error: --option 'job_duration': expected KEY=VALUE"),
        ("job_duration=soon", "localbatch: error: --option job_duration=soon: not a valid float"),
        ("backfill=maybe", "localbatch: error: --option backfill=maybe: not a valid bool"),
        ("executor=docker", "localbatch: error: executor must be one of rules, subprocess, got 'docker'"),
    ],
)
def test_bad_options_are_refused(tmp_path, option, message):
    done, _ = _run(tmp_path, "--option", option, str(_script(tmp_path)))
    assert done.returncode == 2
    assert done.stderr.startswith(message), done.stderr
    assert done.stdout == ""


def test_engine_options_convert_by_field_type():
    from localbatch.cli import engine_options

    assert engine_options(["job_duration=2.5", "max_job_queues=3", "backfill=yes", "executor=subprocess"]) == {
        "job_duration": 2.5, "max_job_queues": 3, "backfill": True, "executor": "subprocess",
    }
