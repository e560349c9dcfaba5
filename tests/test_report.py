"""The HTML report: self-contained, and it shows every job where it ran."""

from __future__ import annotations

import re

import boto3
import pytest
from freezegun import freeze_time

import localbatch

CONTAINER = {
    "image": "busybox",
    "command": ["true"],
    "resourceRequirements": [{"type": "VCPU", "value": "2"}, {"type": "MEMORY", "value": "512"}],
}


@pytest.fixture
def finished_run(tmp_path):
    with freeze_time("2026-01-01"), localbatch.patch() as lb:
        batch = boto3.client("batch")
        batch.create_compute_environment(
            computeEnvironmentName="ce-a",
            type="MANAGED",
            computeResources={"type": "EC2", "maxvCpus": 4, "minvCpus": 0, "instanceRole": "r", "subnets": ["s"]},
        )
        lb.run_until_idle()
        batch.create_job_queue(
            jobQueueName="main", priority=1, computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "ce-a"}]
        )
        batch.register_job_definition(jobDefinitionName="jd", type="container", containerProperties=CONTAINER)
        lb.on_job("*", duration=60)
        lb.on_job("flaky", duration=30, exit_code=1)
        for i in range(3):
            batch.submit_job(jobName=f"step{i}", jobQueue="main", jobDefinition="jd")
        batch.submit_job(jobName="flaky", jobQueue="main", jobDefinition="jd", retryStrategy={"attempts": 2})
        lb.run_until_idle()
        path = tmp_path / "report.html"
        lb.report(str(path))
        yield path.read_text(), lb


def test_report_is_self_contained(finished_run):
    page, _ = finished_run
    assert page.startswith("<!doctype html>")
    assert "<script" not in page
    # No resource is fetched: the only URL is the SVG namespace.
    assert set(re.findall(r"https?://[^\"' )]+", page)) == {"http://www.w3.org/2000/svg"}


def test_report_has_a_section_per_queue_and_compute_environment(finished_run):
    page, lb = finished_run
    assert "<h2>Job queue main</h2>" in page
    assert "<h2>Compute environment ce-a</h2>" in page
    for name in ("step0", "step1", "step2", "flaky"):
        assert name in page
    # 4 jobs succeeded or failed, as the summary says, and the flaky job ran twice on ce-a.
    assert "4 jobs: FAILED 1, SUCCEEDED 3." in page
    assert len(re.findall(r"flaky \([0-9a-f]{8}\) #[12]</text>", page)) == 2


def test_report_bars_follow_the_timeline(finished_run):
    page, lb = finished_run
    running = [r for r in lb.timeline() if r["to"] == "RUNNING"]
    # One RUNNING bar per time a job entered RUNNING, each with its tooltip.
    assert page.count(": RUNNING ") == len(running) == 5
