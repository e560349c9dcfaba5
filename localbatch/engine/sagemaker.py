"""What SageMaker answers when Batch creates a training job (spec §0.2, §4.2, §4.3).

Batch passes `serviceRequestPayload` through unvalidated; SageMaker checks
it when the job is dispatched. localbatch checks it the same way against the
vendored JSON Schema of CreateTrainingJob (botocore_models/sagemaker/),
loaded and compiled once per process.
"""

from __future__ import annotations

import json
from functools import cache, lru_cache
from typing import Any

PREFIX = "Received status from SageMaker: "
COMPLETED = PREFIX + "Training job completed"
MAX_RUNTIME_EXCEEDED = PREFIX + "MaxRuntimeExceeded: Training job runtime exceeded MaxRuntimeInSeconds provided"
TRAINING_JOB_NAME_MAX = 63
_ARN_PREFIX = "AWSBatch"
_HEX = 32


@cache
def _validator() -> Any:
    import jsonschema

    from localbatch.service_model import _model_dir

    path = _model_dir() / "sagemaker" / "CreateTrainingJob.schema.json"
    schema = json.loads(path.read_text())
    return jsonschema.Draft202012Validator(schema)


@lru_cache(maxsize=512)
def validation_error(payload_text: str) -> str | None:
    """The ValidationException SageMaker would raise for this payload, or None
    (cached: retries, preemptions and copies of one payload are checked once)."""
    try:
        payload = json.loads(payload_text)
    except ValueError as error:
        return f"Could not parse serviceRequestPayload as JSON: {error}"
    if not isinstance(payload, dict):
        return "serviceRequestPayload must be a JSON object"
    import jsonschema

    error = jsonschema.exceptions.best_match(_validator().iter_errors(payload))
    if error is None:
        return None
    where = ".".join(str(p) for p in error.absolute_path)
    return f"{error.message} at {where}" if where else error.message


def failed(message: str) -> str:
    """A SageMaker failure as Batch reports it: `Received status from SageMaker: <message>`."""
    return message if message.startswith(PREFIX.rstrip()) else PREFIX + message


# The error codes SageMaker fails a training job with when it has no
# instances to give (its FailureReason starts `<code>: `).
CAPACITY_ERRORS = frozenset({"CapacityError", "InsufficientCapacityError"})


def is_capacity_failure(status_reason: str) -> bool:
    """Whether a Batch statusReason (`Received status from SageMaker: <code>: ...`)
    is a capacity-type failure, which Batch retries without using an attempt
    (spec §4.1, §4.3)."""
    message = status_reason[len(PREFIX):] if status_reason.startswith(PREFIX) else status_reason
    return message.lstrip().split(":", 1)[0].strip() in CAPACITY_ERRORS


def validation_failed(detail: str) -> str:
    return PREFIX + "ValidationException: " + detail


def training_job_name(payload: dict[str, Any] | None, job_name: str, hex_suffix: str) -> str:
    """`AWSBatch` + TrainingJobName (truncated so the whole name is <= 63) + 32 hex (spec §4.2)."""
    base = payload.get("TrainingJobName") if isinstance(payload, dict) else None
    if not isinstance(base, str) or not base:
        base = job_name
    room = TRAINING_JOB_NAME_MAX - len(_ARN_PREFIX) - _HEX
    return f"{_ARN_PREFIX}{base[:room]}{hex_suffix}"


def training_job_arn(region: str, account: str, name: str) -> str:
    return f"arn:aws:sagemaker:{region}:{account}:training-job/{name}"


def max_runtime_seconds(payload: dict[str, Any] | None) -> int | None:
    condition = payload.get("StoppingCondition") if isinstance(payload, dict) else None
    value = condition.get("MaxRuntimeInSeconds") if isinstance(condition, dict) else None
    return value if isinstance(value, int) and not isinstance(value, bool) and value > 0 else None


HEX_LENGTH = _HEX
