"""ListJobs summaries are rendered once per job state (api/jobs.job_summary):
what a caller does to a response never reaches the engine, and a summary
always shows the job as it is now."""

from __future__ import annotations

import copy

import pytest

from tests.api.test_jobs import environment, frozen, submit

__all__ = ["frozen"]

pytestmark = pytest.mark.usefixtures("frozen")


def _summaries(batch, status):
    return batch.list_jobs(jobQueue="q", jobStatus=status)["jobSummaryList"]


def test_changing_a_response_changes_nothing_stored(batch, lb):
    environment(batch)
    lb.on_job("*", duration=None)
    submit(batch, name="a")
    lb.run_until_idle()
    (first,) = _summaries(batch, "RUNNING")
    first["status"] = "MANGLED"
    first["capacityUsage"][0]["quantity"] = 99.0
    first.pop("jobName")
    (again,) = _summaries(batch, "RUNNING")
    assert again["status"] == "RUNNING" and again["jobName"] == "a"
    assert again["capacityUsage"] == [{"capacityUnit": "VCPU", "quantity": 1.0}]


def test_a_summary_follows_the_job(batch, lb):
    environment(batch)
    lb.on_job("*", duration=None)
    job_id = submit(batch, name="a")
    lb.run_until_idle()
    (running,) = _summaries(batch, "RUNNING")
    assert "stoppedAt" not in running and "container" not in running
    lb.complete(job_id, exit_code=3, reason="boom")
    (failed,) = _summaries(batch, "FAILED")
    assert failed["jobId"] == job_id
    assert failed["container"] == {"exitCode": 3, "reason": "boom"}
    assert failed["stoppedAt"] >= failed["startedAt"]


def test_an_array_parent_summary_counts_its_children_as_they_move(batch, lb):
    environment(batch, max_vcpus=1)
    lb.on_job("*", duration=10)  # one child at a time: 0-10 s, then 10-20 s
    parent = submit(batch, name="arr", arrayProperties={"size": 2})
    lb.advance(5)
    (pending,) = _summaries(batch, "PENDING")
    counts = pending["arrayProperties"]["statusSummary"]
    assert (counts["RUNNING"], counts["RUNNABLE"], counts["SUCCEEDED"]) == (1, 1, 0)
    lb.advance(10)
    (pending,) = _summaries(batch, "PENDING")
    counts = pending["arrayProperties"]["statusSummary"]
    assert (counts["RUNNING"], counts["RUNNABLE"], counts["SUCCEEDED"]) == (1, 0, 1)
    lb.run_until_idle()
    (done,) = _summaries(batch, "SUCCEEDED")
    assert done["jobId"] == parent and done["arrayProperties"]["statusSummary"]["SUCCEEDED"] == 2


def _mangle(summary):
    """Change every nested part a summary can have, in place."""
    for usage in summary.get("capacityUsage") or ():
        usage["quantity"] = 99.0
    for key in ("container", "arrayProperties", "nodeProperties"):
        if key in summary:
            summary[key]["mangled"] = True
    if "statusSummary" in summary.get("arrayProperties", {}):
        summary["arrayProperties"]["statusSummary"]["RUNNING"] = 99


def test_no_nested_part_of_a_summary_is_shared(batch, lb):
    from tests.api.test_jobs_scheduling import _multinode

    environment(batch, max_vcpus=8)
    _multinode(batch, num_nodes=2)
    lb.on_job("fails", duration=0, exit_code=3)
    lb.on_job("held", duration=None)
    submit(batch, name="fails")
    parent = submit(batch, name="held", arrayProperties={"size": 2})
    mnp = submit(batch, name="held", definition="mnp")
    lb.run_until_idle()

    def listed():
        return (
            _summaries(batch, "FAILED")
            + _summaries(batch, "PENDING")
            + batch.list_jobs(arrayJobId=parent)["jobSummaryList"]
            + _summaries(batch, "RUNNING")
            + batch.list_jobs(multiNodeJobId=mnp)["jobSummaryList"]
        )

    first = listed()
    assert {"container", "arrayProperties", "nodeProperties"} <= {key for s in first for key in s}
    assert any("statusSummary" in s.get("arrayProperties", {}) for s in first)
    untouched = copy.deepcopy(first)
    for summary in first:
        _mangle(summary)
    assert first != untouched
    assert listed() == untouched
