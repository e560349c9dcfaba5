"""Service jobs (SageMaker Training): SubmitServiceJob, DescribeServiceJob,
ListServiceJobs, UpdateServiceJob, TerminateServiceJob(s) (spec §4, §9, §7).

SubmitServiceJob checks everything Batch checks (the payload itself is
SageMaker's to check, at dispatch: engine/sagemaker.py), reads the capacity
the job needs from the payload once, and hands the job to the engine
(engine/service_lifecycle.py). Describe and list render the output shapes
from the job's slots and never change a job.
"""

from __future__ import annotations

import json
import math
import re
from bisect import bisect_left
from collections.abc import Callable, Iterator
from typing import Any

from localbatch.api import operation
from localbatch.api._common import check_tags, clone, page_request, page_token
from localbatch.api.job_queues import find_job_queue
from localbatch.api.scheduling_policies import is_quota_share
from localbatch.engine import service_lifecycle as lifecycle
from localbatch.engine.fair_share_usage import MAX_ACTIVE_SHARES
from localbatch.engine.schedulers import service_fair_share
from localbatch.engine.service_jobs import (
    MAX_PRIORITY,
    RUNNING,
    TERMINAL,
    ServiceJob,
)
from localbatch.errors import BatchClientError

JOB_NAME_RE = re.compile(r"[A-Za-z0-9_-]{1,128}")
JOB_ID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
PRINTABLE_RE = re.compile(r"[\x20-\x7e\t\n\r]*")
MAX_REQUEST_KIB = 30
MAX_PAYLOAD_KIB = 10
MAX_JSON_PER_REPR_CHAR = 6  # JSON bytes per character of a value's repr, at most
MAX_EVALUATE_ON_EXIT = 5
MAX_PATTERN = 512
MAX_REASON = 1024
MAX_BULK = 50
TOKEN_TTL_MS = 8 * 3600 * 1000
FILTER_NAMES = ("JOB_NAME", "BEFORE_CREATED_AT", "AFTER_CREATED_AT", "SHARE_IDENTIFIER", "QUOTA_SHARE_NAME")
TRAINING_JOB_ARN = "TrainingJobArn"


# == SubmitServiceJob (spec §4.1) =====================================================


@operation("SubmitServiceJob")
def submit_service_job(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    token = params.pop("clientToken", None)
    name = params["jobName"]
    if not JOB_NAME_RE.fullmatch(name):
        raise BatchClientError("Job name should match valid pattern", wrapped=True)
    _check_size(params, backend.request_size)
    queue = _submit_queue(backend, params["jobQueue"])
    share = _check_shares(backend, queue, params)
    _check_fields(params)
    replay = _idempotent(backend, token, params)
    if replay is not None:
        return replay
    job_id = backend.ids.uuid4()
    job = ServiceJob(backend.next_seq(), job_id, backend.arn(f"service-job/{job_id}"), queue.arn,
                     share.arn if share is not None else None, params, backend.now_ms)
    lifecycle.submit(backend, job, in_call=True)  # the controller ran the due events first
    if token is not None:
        backend.journal.put(backend.service_jobs.tokens, token, (backend.now_ms, job))
    return _identity(job)


def _identity(job: ServiceJob) -> dict[str, Any]:
    return {"jobArn": job.arn, "jobName": job.name, "jobId": job.id}


def _kib(value: str) -> int:
    return math.ceil(len(value.encode()) / 1024)


def _check_size(params: dict[str, Any], request_size: int | None = None) -> None:
    """Spec §7 row 14: payload <= 10 KiB, whole request (compact JSON) <= 30 KiB.

    `request_size` is the length of the body botocore serialised (the shim
    passes it): the same members and more (its clientToken), with wider
    separators and non-ASCII escaped, so never shorter than the compact form."""
    payload = params["serviceRequestPayload"]
    # An ASCII string's length is its UTF-8 size (isascii is a flag lookup).
    if (len(payload) if payload.isascii() else len(payload.encode())) > MAX_PAYLOAD_KIB * 1024:
        raise BatchClientError(
            f"Service request payload size must be less than {MAX_PAYLOAD_KIB} KiB, got {_kib(payload)} KiB",
            wrapped=True,
        )
    if request_size is not None and request_size <= MAX_REQUEST_KIB * 1024:
        return  # the body botocore sent fits: so does the compact form
    if _json_size_bound(params) <= MAX_REQUEST_KIB * 1024:
        return  # provably small: no need to encode it
    request = _REQUEST_JSON.encode(params)
    if len(request.encode()) > MAX_REQUEST_KIB * 1024:
        raise BatchClientError(
            f"Job size must be less than {MAX_REQUEST_KIB} KiB, got {_kib(request)} KiB", wrapped=True
        )


def _json_size_bound(params: dict[str, Any]) -> int:
    """An upper bound on the size of `params` as compact JSON, in bytes: JSON spends at
    most 6 bytes on a character of a string (\\u00XX for a control character)
    or of a value's repr, and 4 more on the quotes, colon and comma of an
    entry. A few lengths instead of an encoding: a submit checks this."""
    total = 2
    for key, value in params.items():
        size = len(value) if type(value) is str else len(repr(value))
        total += MAX_JSON_PER_REPR_CHAR * (len(key) + size + 4)
    return total


# Built once: json.dumps with options builds an encoder on every call. Keys
# sorted, so that one request has one text (idempotency compares them).
_REQUEST_JSON = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False, sort_keys=True)


def _submit_queue(backend: Any, given: str) -> Any:
    queue = find_job_queue(backend, given)
    if queue is None or queue.data.get("status") in ("DELETING", "DELETED"):
        raise BatchClientError(f"JobQueue {given} not found.")
    if queue.data.get("state") != "ENABLED":
        raise BatchClientError(f"JobQueue {queue.name} is not in ENABLED state")
    if queue.data.get("jobQueueType") != "SAGEMAKER_TRAINING":
        raise BatchClientError(
            f"JobQueue {queue.name} is not a SAGEMAKER_TRAINING job queue; service jobs can only be submitted "
            "to SAGEMAKER_TRAINING job queues"
        )
    return queue


def _check_shares(backend: Any, queue: Any, params: dict[str, Any]) -> Any | None:
    """Spec §4.1, §7 rows 15-17: shareIdentifier iff fair share (at most 500 active
    per queue), quotaShareName iff quota share."""
    policy_arn = queue.data.get("schedulingPolicyArn")
    policy = backend.scheduling_policies.get(policy_arn) if policy_arn else None
    fair_share = policy is not None and "fairsharePolicy" in policy.data
    quota = policy is not None and is_quota_share(policy)
    share_id = params.get("shareIdentifier")
    share_name = params.get("quotaShareName")
    if fair_share and share_id is None:
        raise BatchClientError("shareIdentifier is required for a job queue with a fair share scheduling policy")
    if not fair_share and share_id is not None:
        raise BatchClientError(
            "shareIdentifier can only be specified for job queues with a fair share scheduling policy"
        )
    if fair_share and not service_fair_share.admits_share(backend, queue, share_id):
        raise BatchClientError(
            f"Exceeded the limit of {MAX_ACTIVE_SHARES} active share identifiers for job queue {queue.name}"
        )
    if not quota:
        if share_name is not None:
            raise BatchClientError(
                "quotaShareName can only be specified for job queues with a quota share scheduling policy"
            )
        return None
    if share_name is None:
        raise BatchClientError("quotaShareName is required for a job queue with a quota share scheduling policy")
    share = backend.quota_shares.get(f"{queue.arn}/quota-share/{share_name}")
    if share is None or share.data.get("status") == "DELETING":
        raise BatchClientError(f"Quota share {share_name} does not exist in job queue {queue.name}")
    if share.data.get("state") != "ENABLED":
        raise BatchClientError(f"Quota share {share_name} is not in ENABLED state")
    return share


def _check_priority(value: int | None) -> None:
    if value is not None and not 0 <= value <= MAX_PRIORITY:
        raise BatchClientError(f"schedulingPriority must be between 0 and {MAX_PRIORITY}")


def _check_fields(params: dict[str, Any]) -> None:
    _check_priority(params.get("schedulingPriority"))
    strategy = params.get("retryStrategy")
    if strategy is not None:
        if not 1 <= strategy["attempts"] <= 10:
            raise BatchClientError("Attempts must be between 1 and 10")
        entries = strategy.get("evaluateOnExit") or []
        if len(entries) > MAX_EVALUATE_ON_EXIT:
            raise BatchClientError(f"evaluateOnExit can contain at most {MAX_EVALUATE_ON_EXIT} entries")
        for entry in entries:
            if "action" not in entry:
                raise BatchClientError("evaluateOnExit entries need an action (RETRY or EXIT)")
            pattern = entry.get("onStatusReason")
            if pattern is not None and (len(pattern) > MAX_PATTERN or not PRINTABLE_RE.fullmatch(pattern)):
                raise BatchClientError(
                    f"onStatusReason must be at most {MAX_PATTERN} printable characters: {pattern[:40]}"
                )
    preemption = params.get("preemptionConfiguration") or {}
    retries = preemption.get("preemptionRetriesBeforeTermination")
    if retries is not None and retries < 0:
        raise BatchClientError("preemptionRetriesBeforeTermination must be greater than or equal to 0")
    seconds = (params.get("timeoutConfig") or {}).get("attemptDurationSeconds")
    if seconds is not None and seconds < 60:
        raise BatchClientError("Timeout must be at least 60 seconds")
    check_tags(params.get("tags"))


def _idempotent(backend: Any, token: str | None, params: dict[str, Any]) -> dict[str, Any] | None:
    """Spec §4.1 [proposed]: within 8 h, the same token and request (compared as
    JSON with sorted keys) is the same job; the same token with another request
    is an error."""
    if token is None:
        return None
    seen = backend.service_jobs.tokens.get(token)
    if seen is None or backend.now_ms - seen[0] >= TOKEN_TTL_MS:
        return None
    job = seen[1]
    if _REQUEST_JSON.encode(job.params) != _REQUEST_JSON.encode(params):
        raise BatchClientError(f"Idempotency token {token} was already used with different parameters")
    return _identity(job)


# == DescribeServiceJob (spec §4.4) ====================================================


def _job_id(given: str) -> str:
    return given.rpartition("/")[2] if given.startswith("arn:") else given


def _existing(backend: Any, given: str) -> ServiceJob:
    job = backend.service_jobs.get(_job_id(given))
    if job is None:
        raise BatchClientError(f"Job {given} not found")
    return job


def _resource_id(arn: str) -> dict[str, str]:
    return {"name": TRAINING_JOB_ARN, "value": arn}


def _attempt(attempt: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"serviceResourceId": _resource_id(attempt.training_job_arn)}
    if attempt.started_at is not None:
        out["startedAt"] = attempt.started_at
    if attempt.stopped_at is not None:
        out["stoppedAt"] = attempt.stopped_at
    if attempt.status_reason is not None:
        out["statusReason"] = attempt.status_reason
    return out


def capacity_usage(job: ServiceJob) -> list[dict[str, Any]]:
    return [{"capacityUnit": unit, "quantity": float(n)} for unit, n in job.units.items()]


@operation("DescribeServiceJob")
def describe_service_job(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    return service_job_detail(_existing(backend, params["jobId"]))


def service_job_detail(job: ServiceJob) -> dict[str, Any]:
    # Rendered on every call: it costs about what a safe copy of a cached
    # render would (4.6 us against 3.9 us for a job with every field set).
    given = job.params
    out: dict[str, Any] = {"attempts": [_attempt(a) for a in job.attempts], "capacityUsage": capacity_usage(job)}
    out["createdAt"] = job.created_at
    out["isTerminated"] = job.is_terminated
    out.update(jobArn=job.arn, jobId=job.id, jobName=job.name, jobQueue=job.queue_arn)
    if job.attempts:
        out["latestAttempt"] = {"serviceResourceId": _resource_id(job.attempts[-1].training_job_arn)}
    if "retryStrategy" in given:
        out["retryStrategy"] = clone(given["retryStrategy"])
    if job.scheduled_at is not None:
        out["scheduledAt"] = job.scheduled_at
    if job.priority is not None:
        out["schedulingPriority"] = job.priority
    out["serviceRequestPayload"] = given["serviceRequestPayload"]
    out["serviceJobType"] = given["serviceJobType"]
    for key in ("shareIdentifier", "quotaShareName", "preemptionConfiguration"):
        if key in given:
            out[key] = clone(given[key])
    if job.preempted_count:
        out["preemptionSummary"] = {
            "preemptedAttemptCount": job.preempted_count,
            "recentPreemptedAttempts": [_attempt(a) for a in job.recent_preempted],
        }
    if job.started_at is not None:
        out["startedAt"] = job.started_at
    out["status"] = job.status
    if job.status_reason is not None:
        out["statusReason"] = job.status_reason
    if job.stopped_at is not None:
        out["stoppedAt"] = job.stopped_at
    out["tags"] = dict(job.tags or {})
    if "timeoutConfig" in given:
        out["timeoutConfig"] = clone(given["timeoutConfig"])
    return out


# == ListServiceJobs (spec §4.5) ========================================================


@operation("ListServiceJobs")
def list_service_jobs(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    filters = params.get("filters") or []
    if len(filters) > 1:
        raise BatchClientError("Only one filter can be specified at a time")
    if not params.get("jobQueue"):
        raise BatchClientError("jobQueue must be specified")
    after, limit = page_request(params)
    status = params.get("jobStatus")
    if status is None and not filters:
        status = RUNNING
    page: list[ServiceJob] = []
    more = False
    for job in _queue_jobs(backend, params["jobQueue"], status, filters, after):
        if len(page) == limit:
            more = True
            break
        page.append(job)
    out: dict[str, Any] = {"jobSummaryList": [service_job_summary(job) for job in page]}
    if more:
        out["nextToken"] = page_token(params, page[-1].seq)
    return out


def _queue_jobs(backend: Any, given: str, status: str | None, filters: list[dict[str, Any]], after: int) -> Iterator:
    queue = find_job_queue(backend, given)
    if queue is None:
        raise BatchClientError(f"JobQueue {given} not found.")
    store = backend.service_jobs
    jobs = store.queues.get(queue.arn)
    if jobs is None:
        return iter(())
    by_seq = store.by_seq
    below = after or None
    if not filters:
        return (by_seq[seq] for seq in jobs.by_status[status].descending(below))
    keep, start = _filter(filters[0], status)
    listed = jobs.listed
    end = len(listed) if below is None else bisect_left(listed, below)
    if start is not None:
        # Creation times grow with the sequence: bisect instead of scanning.
        end = min(end, bisect_left(listed, start, key=lambda seq: by_seq[seq].created_at))
    return (job for job in (by_seq[listed[i]] for i in range(end - 1, -1, -1)) if keep(job))


def _filter(given: dict[str, Any], status: str | None) -> tuple[Callable[[ServiceJob], bool], int | None]:
    """(predicate, created_at bound to start below) of one filter."""
    name = given.get("name")
    values = given.get("values") or []
    if name not in FILTER_NAMES:
        raise BatchClientError(f"Invalid filter name {name}; valid names are {', '.join(FILTER_NAMES)}")
    if len(values) != 1:
        raise BatchClientError(f"Filter {name} must have exactly one value")
    value = values[0]
    if name == "JOB_NAME":
        folded = value.lower()
        if folded.endswith("*"):
            prefix = folded[:-1]
            return (lambda job: job.name.lower().startswith(prefix)), None
        return (lambda job: job.name.lower() == folded), None
    if name in ("BEFORE_CREATED_AT", "AFTER_CREATED_AT"):
        try:
            bound = int(value)
        except ValueError:
            raise BatchClientError(f"Filter {name} value {value} must be a number of epoch milliseconds") from None
        if name == "BEFORE_CREATED_AT":
            return (lambda job: job.created_at < bound), bound
        return (lambda job: job.created_at > bound), None
    key = "shareIdentifier" if name == "SHARE_IDENTIFIER" else "quotaShareName"
    if status is not None:
        return (lambda job: job.params.get(key) == value and job.status == status), None
    return (lambda job: job.params.get(key) == value), None


def service_job_summary(job: ServiceJob) -> dict[str, Any]:
    out: dict[str, Any] = {}
    if job.attempts:
        out["latestAttempt"] = {"serviceResourceId": _resource_id(job.attempts[-1].training_job_arn)}
    out["capacityUsage"] = capacity_usage(job)
    out["createdAt"] = job.created_at
    out.update(jobArn=job.arn, jobId=job.id, jobName=job.name)
    if job.scheduled_at is not None:
        out["scheduledAt"] = job.scheduled_at
    out["serviceJobType"] = job.params["serviceJobType"]
    for key in ("shareIdentifier", "quotaShareName"):
        if key in job.params:
            out[key] = job.params[key]
    out["status"] = job.status
    if job.status_reason is not None:
        out["statusReason"] = job.status_reason
    if job.started_at is not None:
        out["startedAt"] = job.started_at
    if job.stopped_at is not None:
        out["stoppedAt"] = job.stopped_at
    out["isTerminated"] = job.is_terminated
    return out


# == UpdateServiceJob, TerminateServiceJob(s) (spec §4.4, §9) ==============================


@operation("UpdateServiceJob")
def update_service_job(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    job = _existing(backend, params["jobId"])
    _check_priority(params["schedulingPriority"])
    if job.status in TERMINAL:
        raise BatchClientError(f"Job {params['jobId']} is in a terminal state")
    lifecycle.reprioritise(backend, job, params["schedulingPriority"])
    return _identity(job)


def _check_reason(reason: str) -> None:
    if len(reason) > MAX_REASON:
        raise BatchClientError(f"reason must be at most {MAX_REASON} characters long")


@operation("TerminateServiceJob")
def terminate_service_job(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    _check_reason(params["reason"])
    lifecycle.terminate(backend, _existing(backend, params["jobId"]), params["reason"])
    return {}


@operation("TerminateServiceJobs")
def terminate_service_jobs(backend: Any, params: dict[str, Any]) -> dict[str, Any]:
    ids = params["jobs"]
    if len(ids) > MAX_BULK:
        raise BatchClientError(f"jobs must contain at most {MAX_BULK} items")
    _check_reason(params["reason"])
    successful: list[str] = []
    errors: list[dict[str, str]] = []
    for given in dict.fromkeys(ids):  # an id listed twice is processed once
        if not JOB_ID_RE.fullmatch(_job_id(given)):
            errors.append({"job": given, "code": "ValidationException", "message": f"Invalid job id {given}"})
            continue
        job = backend.service_jobs.get(_job_id(given))
        if job is not None:  # ids that cannot be found count as processed (spec §9)
            lifecycle.terminate(backend, job, params["reason"])
        successful.append(given)
    return {"successful": successful, "errors": errors}
