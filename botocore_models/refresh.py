"""Refresh the vendored `batch` model from an installed botocore.

localbatch answers every operation of the newest Batch API, so it ships the
model itself instead of trusting whatever botocore the user has installed.
To update it::

    python -m pip install --upgrade botocore   # the newest, in any venv
    python botocore_models/refresh.py

The script copies service-2, paginators-1 and endpoint-rule-set-1 for `batch`
(decompressing the .json.gz files newer botocore ships) and prints the
operation count, so a reviewer can see what changed.
"""

from __future__ import annotations

import gzip
import json
import sys
from pathlib import Path

import botocore

API_VERSION = "2016-08-10"
FILES = ("service-2", "paginators-1", "endpoint-rule-set-1")
HERE = Path(__file__).resolve().parent


def _read(base: Path, name: str) -> dict:
    plain = base / f"{name}.json"
    if plain.exists():
        return json.loads(plain.read_text())
    with gzip.open(base / f"{name}.json.gz", "rt") as f:
        return json.load(f)


def main() -> int:
    source = Path(botocore.__file__).parent / "data" / "batch" / API_VERSION
    target = HERE / "batch" / API_VERSION
    target.mkdir(parents=True, exist_ok=True)
    for name in FILES:
        data = _read(source, name)
        (target / f"{name}.json").write_text(json.dumps(data, indent=1) + "\n")
    model = _read(target, "service-2")
    print(f"botocore {botocore.__version__}: {len(model['operations'])} batch operations vendored")
    return 0


if __name__ == "__main__":
    sys.exit(main())
