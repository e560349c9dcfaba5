"""Generate the JSON Schema of SageMaker's CreateTrainingJob request.

Batch passes a service job's `serviceRequestPayload` to SageMaker, which
rejects a bad one with a ValidationException when the job is dispatched.
localbatch checks the payload against this schema to give the same answer
(spec §4.2). It is generated from botocore's `sagemaker` model and vendored
so localbatch never needs the (large) sagemaker model at run time:

    python botocore_models/sagemaker_schema.py            # installed botocore
    python botocore_models/sagemaker_schema.py --model path/to/service-2.json[.gz]

Patterns are SageMaker's, anchored because SageMaker matches whole values;
the few written in Java-only syntax (\\p{...}) are left out.
"""

from __future__ import annotations

import argparse
import gzip
import json
import re
import sys
from pathlib import Path
from typing import Any

OPERATION = "CreateTrainingJob"
TARGET = Path(__file__).resolve().parent / "sagemaker" / f"{OPERATION}.schema.json"


def _load(path: Path) -> dict[str, Any]:
    if path.suffix == ".gz":
        with gzip.open(path, "rt") as f:
            return json.load(f)
    return json.loads(path.read_text())


def _installed_model() -> Path:
    import botocore

    base = Path(botocore.__file__).parent / "data" / "sagemaker" / "2017-07-24"
    plain = base / "service-2.json"
    return plain if plain.exists() else base / "service-2.json.gz"


def _pattern(pattern: str) -> str | None:
    anchored = pattern if pattern.startswith("^") else f"^(?:{pattern})$"
    try:
        re.compile(anchored)
    except re.error:
        return None
    return anchored


def _schema(name: str, spec: dict[str, Any], skipped: list[str]) -> dict[str, Any]:
    kind = spec["type"]
    if kind == "structure":
        return {
            "type": "object",
            "properties": {m: {"$ref": f"#/$defs/{ref['shape']}"} for m, ref in spec.get("members", {}).items()},
            "required": list(spec.get("required", [])),
            "additionalProperties": False,
        }
    if kind == "list":
        out: dict[str, Any] = {"type": "array", "items": {"$ref": f"#/$defs/{spec['member']['shape']}"}}
        if "min" in spec:
            out["minItems"] = spec["min"]
        if "max" in spec:
            out["maxItems"] = spec["max"]
        return out
    if kind == "map":
        out = {"type": "object", "additionalProperties": {"$ref": f"#/$defs/{spec['value']['shape']}"}}
        if "max" in spec:
            out["maxProperties"] = spec["max"]
        return out
    if kind == "string":
        out = {"type": "string"}
        if "enum" in spec:
            out["enum"] = list(spec["enum"])
        if "min" in spec:
            out["minLength"] = spec["min"]
        if "max" in spec:
            out["maxLength"] = spec["max"]
        if "pattern" in spec:
            pattern = _pattern(spec["pattern"])
            if pattern is None:
                skipped.append(name)
            else:
                out["pattern"] = pattern
        return out
    if kind in ("integer", "long"):
        out = {"type": "integer"}
    elif kind in ("float", "double"):
        out = {"type": "number"}
    elif kind == "boolean":
        return {"type": "boolean"}
    elif kind == "timestamp":
        return {"type": ["string", "number"]}
    else:
        return {}
    if "min" in spec:
        out["minimum"] = spec["min"]
    if "max" in spec:
        out["maximum"] = spec["max"]
    return out


def build(model: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    shapes = model["shapes"]
    root = model["operations"][OPERATION]["input"]["shape"]
    reachable: list[str] = []
    stack = [root]
    while stack:
        name = stack.pop()
        if name in reachable:
            continue
        reachable.append(name)
        spec = shapes[name]
        stack += [ref["shape"] for ref in spec.get("members", {}).values()]
        if spec["type"] == "list":
            stack.append(spec["member"]["shape"])
        if spec["type"] == "map":
            stack += [spec["key"]["shape"], spec["value"]["shape"]]
    skipped: list[str] = []
    defs = {name: _schema(name, shapes[name], skipped) for name in sorted(reachable)}
    schema = {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "title": f"SageMaker {OPERATION} request (generated from botocore's sagemaker model)",
        "$ref": f"#/$defs/{root}",
        "$defs": defs,
    }
    return schema, skipped


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", type=Path, help="sagemaker service-2.json(.gz); default: installed botocore")
    args = parser.parse_args(argv)
    model = _load(args.model or _installed_model())
    schema, skipped = build(model)
    TARGET.parent.mkdir(parents=True, exist_ok=True)
    TARGET.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
    print(f"{TARGET.name}: {len(schema['$defs'])} shapes; Java-only patterns left out: {', '.join(skipped) or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
