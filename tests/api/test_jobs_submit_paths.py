"""The shortcuts SubmitJob and the dispatch pass take (api/jobs._check_size,
api/jobs._spec, schedulers._plan) give the answers the long way gives."""

from __future__ import annotations

import pytest

from tests.api.test_jobs import compute_environment, describe, environment, job_definition, job_queue, submit
from tests.helpers import client_error

# == the 30 KiB request limit ==========================================================


def test_a_body_over_30_kib_that_is_under_it_as_compact_utf8_is_accepted(batch):
    # botocore escapes é as \u00e9 (6 bytes): a 60 KB body, 20 KB as compact UTF-8.
    environment(batch)
    job_id = submit(batch, parameters={"p": "é" * 10_000})
    assert describe(batch, job_id)["parameters"]["p"] == "é" * 10_000


def test_the_limit_holds_for_calls_without_a_body(batch, lb):
    # lb.call straight from Python: no serialised body, the size is worked out.
    environment(batch)
    params = {"jobName": "big", "jobQueue": "q", "jobDefinition": "jd", "parameters": {"p": "é" * 16_000}}
    status, body, _ = lb.call("us-east-1", "SubmitJob", params)
    assert status == 400
    assert "Job size must be less than 30 KiB, got 32 KiB" in body["message"]
    status, _, _ = lb.call("us-east-1", "SubmitJob", {**params, "parameters": {"p": "x" * 1000}})
    assert status == 200


def test_the_body_size_lives_only_for_its_call(batch, lb):
    environment(batch)
    submit(batch)
    assert lb.backend().request_size is None  # set only while its handler ran


# == one JobSpec per job definition revision for submissions that override nothing ==============


def test_plain_submissions_of_one_revision_share_its_spec(batch, lb):
    environment(batch, command=["echo", "Ref::word"], parameters={"word": "hi"})
    first, second = submit(batch, name="a"), submit(batch, name="b", tags={"k": "v"})
    jobs = lb.backend().jobs
    assert jobs.get(first).spec is jobs.get(second).spec
    for job_id in (first, second):
        assert describe(batch, job_id)["container"]["command"] == ["echo", "hi"]


def test_overrides_get_their_own_spec(batch, lb):
    environment(batch, command=["echo", "Ref::word"], parameters={"word": "hi"})
    plain = submit(batch)
    given = submit(batch, parameters={"word": "yo"})
    overridden = submit(batch, containerOverrides={"command": ["true"]})
    assert describe(batch, plain)["container"]["command"] == ["echo", "hi"]
    assert describe(batch, given)["container"]["command"] == ["echo", "yo"]
    assert describe(batch, overridden)["container"]["command"] == ["true"]
    assert describe(batch, plain)["container"]["command"] == ["echo", "hi"]


def test_a_new_revision_gets_a_new_spec(batch):
    environment(batch, command=["echo", "one"])
    first = submit(batch)
    job_definition(batch, command=["echo", "two"])
    second = submit(batch)
    assert describe(batch, first)["container"]["command"] == ["echo", "one"]
    assert describe(batch, second)["container"]["command"] == ["echo", "two"]
    assert describe(batch, second)["jobDefinition"].endswith("jd:2")


def test_a_definition_that_cannot_be_resolved_fails_every_plain_submission(batch):
    environment(batch, command=["echo", "Ref::missing"])
    for _ in range(2):
        with pytest.raises(batch.exceptions.ClientException) as e:
            submit(batch)
        assert client_error(e) == "Unable to substitute value. No parameter found for reference missing"


def test_tags_are_still_checked_on_the_shared_path(batch):
    environment(batch)
    with pytest.raises(batch.exceptions.ClientException) as e:
        submit(batch, tags={"aws:reserved": "x"})
    assert client_error(e) == "Tag keys starting with 'aws:' are reserved for system use"


def test_propagated_tags_over_the_limit_still_fail_the_job(batch, lb):
    environment(batch, propagateTags=True, tags={f"jd{i}": "v" for i in range(30)})
    plain = submit(batch, name="plain")
    tagged = submit(batch, name="tagged", tags={f"job{i}": "v" for i in range(30)})
    lb.run_until_idle()
    assert describe(batch, plain)["status"] == "SUCCEEDED"
    assert describe(batch, tagged)["status"] == "FAILED"
    assert describe(batch, tagged)["statusReason"] == "Total number of tags exceeds 50"


# == the dispatch plan follows queue and compute environment changes ===========================


def test_a_priority_change_changes_which_queue_is_served_first(batch, lb):
    compute_environment(batch, max_vcpus=1)
    job_queue(batch, name="a", priority=10)
    job_queue(batch, name="b", priority=1)
    job_definition(batch)
    lb.on_job("*", duration=10)
    submit(batch, name="first", queue="a")
    lb.advance(1)  # "first" runs; the plan of this pass is cached
    from_a, from_b = submit(batch, name="from-a", queue="a"), submit(batch, name="from-b", queue="b")
    batch.update_job_queue(jobQueue="b", priority=20)
    lb.advance(10)  # "first" ends: one vCPU frees, and b now comes first
    assert (describe(batch, from_b)["status"], describe(batch, from_a)["status"]) == ("RUNNING", "RUNNABLE")


def test_a_new_compute_environment_order_is_used(batch, lb):
    compute_environment(batch, name="small", max_vcpus=1)
    compute_environment(batch, name="big", max_vcpus=8)
    job_queue(batch, ces=("small",))
    job_definition(batch)
    lb.on_job("*", duration=None)
    on_small = submit(batch, name="one")
    waiting = submit(batch, name="two")
    lb.run_until_idle()
    assert describe(batch, waiting)["status"] == "RUNNABLE"
    batch.update_job_queue(jobQueue="q", computeEnvironmentOrder=[{"order": 1, "computeEnvironment": "big"}])
    lb.run_until_idle()
    assert describe(batch, waiting)["status"] == "RUNNING"
    assert describe(batch, on_small)["status"] == "RUNNING"
    assert lb.backend().jobs.get(waiting).compute_environment.endswith("compute-environment/big")
