"""Where jobs meet resource changes: a deleted queue fails its jobs (spec §1.3
[proposed]); more consumable units release a waiting job (§3.4)."""

from __future__ import annotations

import pytest

from tests.api.test_jobs import ARN, describe, environment, frozen, status, submit

__all__ = ["frozen"]

pytestmark = pytest.mark.usefixtures("frozen")


def test_deleting_a_queue_fails_its_jobs(batch, lb):
    environment(batch, max_vcpus=1)
    lb.on_job("*", duration=None)  # the first job keeps the only vCPU
    running = submit(batch, name="running")
    waiting = submit(batch, name="waiting")
    lb.run_until_idle()
    assert (status(batch, running), status(batch, waiting)) == ("RUNNING", "RUNNABLE")
    batch.update_job_queue(jobQueue="q", state="DISABLED")
    batch.delete_job_queue(jobQueue="q")
    lb.run_until_idle()
    for job_id in (running, waiting):
        job = describe(batch, job_id)
        assert (job["status"], job["statusReason"]) == ("FAILED", "Job queue deleted")
    assert describe(batch, running)["isTerminated"] is True
    assert batch.describe_job_queues(jobQueues=["q"])["jobQueues"] == []


def test_adding_consumable_units_releases_a_waiting_job(batch, lb):
    batch.create_consumable_resource(consumableResourceName="licences", totalQuantity=1)
    environment(
        batch,
        consumableResourceProperties={
            "consumableResourceList": [{"consumableResource": "licences", "quantity": 2}]
        },
    )
    job_id = submit(batch, name="needs-two")
    lb.run_until_idle()
    assert status(batch, job_id) == "RUNNABLE"
    batch.update_consumable_resource(consumableResource="licences", operation="ADD", quantity=1)
    lb.run_until_idle()
    assert status(batch, job_id) == "SUCCEEDED"
    resource = batch.describe_consumable_resource(consumableResource=ARN + "consumable-resource/licences")
    assert (resource["inUseQuantity"], resource["availableQuantity"]) == (0, 2)
