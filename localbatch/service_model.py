"""The vendored `batch` service model: loading it, serving it to botocore,
and the request checks botocore itself skips.

botocore validates required members, types and minimum lengths, but not
enums or maximums (spec §0.1); real Batch checks those server-side, so the
engine does too, from the same model. The checks are compiled once per
operation into a small tree that only visits members that carry a
constraint, because they run on every call.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any, Callable

from botocore import loaders

from localbatch.errors import BatchClientError

API_VERSION = "2016-08-10"
_VENDORED_TYPES = ("service-2", "paginators-1", "endpoint-rule-set-1")

# Enums that real Batch compares without regard to case (spec §2.6).
_CASE_INSENSITIVE_ENUMS = frozenset({"RetryAction", "ServiceJobRetryAction"})


def _model_dir() -> Path:
    """Where the vendored models are: installed package data, or the repo."""
    try:
        from importlib.resources import files

        candidate = Path(str(files("localbatch.botocore_models")))
        if (candidate / "batch").is_dir():
            return candidate
    except (ModuleNotFoundError, TypeError):
        pass
    return Path(__file__).resolve().parent.parent / "botocore_models"


@cache
def load(type_name: str = "service-2") -> dict[str, Any]:
    path = _model_dir() / "batch" / API_VERSION / f"{type_name}.json"
    return json.loads(path.read_text())


def operation_names() -> list[str]:
    return sorted(load()["operations"])


# -- serving the model to botocore -------------------------------------------

_original_load_service_model = loaders.Loader.load_service_model


def _load_service_model(self, service_name, type_name, api_version=None):  # type: ignore[no-untyped-def]
    if service_name == "batch" and type_name in _VENDORED_TYPES:
        return load(type_name)
    return _original_load_service_model(self, service_name, type_name, api_version)


def install_loader_hook() -> None:
    """Make every botocore Loader answer `batch` from the vendored files.

    Done once at import: a client created after `import localbatch` then has
    every operation of the newest API, even on an older botocore.
    """
    if loaders.Loader.load_service_model is not _load_service_model:
        loaders.Loader.load_service_model = _load_service_model


# -- request checks botocore skips -------------------------------------------

Check = Callable[[Any], None]


def enum_message(field: str, value: Any, allowed: list[str]) -> str:
    # Spec §7 row 4 [proposed wording].
    return f"{field} {value} must be one of {' | '.join(allowed)}"


class _Compiler:
    def __init__(self, shapes: dict[str, Any]) -> None:
        self._shapes = shapes
        self._done: dict[str, Check | None] = {}

    def shape(self, name: str, field: str) -> Check | None:
        key = f"{name}/{field}"
        if key in self._done:
            return self._done[key]
        self._done[key] = None  # recursion guard: a cycle carries no new constraint
        check = self._build(name, field)
        self._done[key] = check
        return check

    def _build(self, name: str, field: str) -> Check | None:
        spec = self._shapes[name]
        kind = spec["type"]
        if kind == "string":
            return self._string(name, spec, field)
        if kind in ("integer", "long") and "max" in spec:
            maximum = spec["max"]

            def check_int(value: Any) -> None:
                if value > maximum:
                    raise BatchClientError(f"{field} must be less than or equal to {maximum}")

            return check_int
        if kind == "structure":
            members = []
            for member, ref in spec.get("members", {}).items():
                sub = self.shape(ref["shape"], member)
                if sub is not None:
                    members.append((member, sub))
            if not members:
                return None

            def check_struct(value: Any) -> None:
                for member, sub in members:
                    item = value.get(member)
                    if item is not None:
                        sub(item)

            return check_struct
        if kind == "list":
            item_check = self.shape(spec["member"]["shape"], field)
            maximum = spec.get("max")
            if item_check is None and maximum is None:
                return None

            def check_list(value: Any) -> None:
                if maximum is not None and len(value) > maximum:
                    raise BatchClientError(f"{field} must contain at most {maximum} items")
                if item_check is not None:
                    for item in value:
                        item_check(item)

            return check_list
        if kind == "map":
            key_check = self.shape(spec["key"]["shape"], field)
            value_check = self.shape(spec["value"]["shape"], field)
            maximum = spec.get("max")
            if key_check is None and value_check is None and maximum is None:
                return None

            def check_map(value: Any) -> None:
                if maximum is not None and len(value) > maximum:
                    raise BatchClientError(f"{field} must contain at most {maximum} entries")
                for k, v in value.items():
                    if key_check is not None:
                        key_check(k)
                    if value_check is not None:
                        value_check(v)

            return check_map
        return None

    def _string(self, name: str, spec: dict[str, Any], field: str) -> Check | None:
        enum = spec.get("enum")
        maximum = spec.get("max")
        if enum is not None:
            allowed = list(enum)
            if name in _CASE_INSENSITIVE_ENUMS:
                folded = frozenset(v.upper() for v in allowed)

                def check_enum_ci(value: Any) -> None:
                    if value.upper() not in folded:
                        raise BatchClientError(enum_message(field, value, allowed))

                return check_enum_ci
            exact = frozenset(allowed)

            def check_enum(value: Any) -> None:
                if value not in exact:
                    raise BatchClientError(enum_message(field, value, allowed))

            return check_enum
        if maximum is not None:

            def check_len(value: Any) -> None:
                if len(value) > maximum:
                    raise BatchClientError(f"{field} must be at most {maximum} characters long")

            return check_len
        return None


@cache
def _request_checks() -> dict[str, Check | None]:
    model = load()
    compiler = _Compiler(model["shapes"])
    checks: dict[str, Check | None] = {}
    for name, op in model["operations"].items():
        shape = op.get("input", {}).get("shape")
        checks[name] = compiler.shape(shape, shape) if shape else None
    return checks


def check_request(operation: str, params: dict[str, Any]) -> None:
    """Raise BatchClientError if `params` break an enum or maximum of the model."""
    check = _request_checks().get(operation)
    if check is not None:
        check(params)


# -- output shapes as JSON Schema (the test suite's contract check) ----------

# Members the model marks required in an output shape that real Batch leaves
# out until they happen (spec §2.1: `startedAt` is absent before a job runs).
OPTIONAL_IN_PRACTICE = {("JobDetail", "startedAt"), ("DescribeServiceJobResponse", "startedAt")}


def _schema_for(name: str, spec: dict[str, Any]) -> dict[str, Any]:
    kind = spec["type"]
    if kind == "structure":
        props = {m: {"$ref": f"#/$defs/{ref['shape']}"} for m, ref in spec.get("members", {}).items()}
        required = [m for m in spec.get("required", []) if (name, m) not in OPTIONAL_IN_PRACTICE]
        return {"type": "object", "properties": props, "required": required, "additionalProperties": False}
    if kind == "list":
        return {"type": "array", "items": {"$ref": f"#/$defs/{spec['member']['shape']}"}}
    if kind == "map":
        return {"type": "object", "additionalProperties": {"$ref": f"#/$defs/{spec['value']['shape']}"}}
    if kind == "string":
        schema: dict[str, Any] = {"type": "string"}
        if "enum" in spec:
            schema["enum"] = list(spec["enum"])
        return schema
    if kind in ("integer", "long"):
        return {"type": "integer"}
    if kind in ("float", "double"):
        return {"type": "number"}
    if kind == "boolean":
        return {"type": "boolean"}
    raise ValueError(f"shape {name} has type {kind}, which the batch model does not use")


@cache
def output_schema(operation: str) -> dict[str, Any]:
    """JSON Schema of the response of `operation`, ResponseMetadata allowed."""
    model = load()
    shapes = model["shapes"]
    defs = {name: _schema_for(name, spec) for name, spec in shapes.items()}
    out = model["operations"][operation].get("output", {}).get("shape")
    top = dict(defs[out]) if out else {"type": "object", "properties": {}, "additionalProperties": False}
    top["properties"] = {**top.get("properties", {}), "ResponseMetadata": {"type": "object"}}
    top["$defs"] = defs
    return top


@cache
def _output_validator(operation: str):  # type: ignore[no-untyped-def]
    import jsonschema

    return jsonschema.Draft202012Validator(output_schema(operation))


def check_response(operation: str, body: dict[str, Any]) -> None:
    """Raise ResponseShapeError if `body` does not match the output shape."""
    from localbatch.errors import ResponseShapeError

    errors = sorted(_output_validator(operation).iter_errors(body), key=lambda e: list(e.path))
    if errors:
        where = "/".join(str(p) for p in errors[0].absolute_path) or "(top)"
        raise ResponseShapeError(f"{operation} response breaks its output shape at {where}: {errors[0].message}")
