"""localbatch: AWS Batch, local.

``with localbatch.patch() as lb:`` answers every boto3 ``batch`` client in the
process from an in-process engine with a controllable clock.
"""

from localbatch import shim as _shim
from localbatch.controller import LocalBatch
from localbatch.errors import LocalBatchError, ResponseShapeError
from localbatch.patch import current, patch

__version__ = "0.1.0"
__all__ = ["LocalBatch", "LocalBatchError", "ResponseShapeError", "current", "patch", "__version__"]

_shim.install()
