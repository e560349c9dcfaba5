"""The errors localbatch raises.

Only the two errors AWS Batch models ever reach a boto3 caller:
`ClientException` (HTTP 400) and `ServerException` (HTTP 500). The engine
raises `BatchClientError`; the shim turns it into the wire error. Misuse of
localbatch itself (a bad `lb.advance(-1)`, a test hook used wrongly) raises
`LocalBatchError` loudly instead, because that is a bug in the test, not an
answer AWS would give.
"""

from __future__ import annotations


class LocalBatchError(Exception):
    """localbatch was used wrongly (not an AWS error)."""


class ResponseShapeError(LocalBatchError):
    """A response did not match its output shape in the service model."""


class BatchClientError(Exception):
    """Raised inside the engine; answered to the caller as ClientException.

    `wrapped=True` reproduces the envelope real Batch puts around many of its
    validation errors: ``Error executing request, Exception : <text>,
    RequestId: <uuid>``. The request id is only known in the shim, so the
    envelope is applied there.
    """

    def __init__(self, message: str, *, wrapped: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.wrapped = wrapped

    def render(self, request_id: str) -> str:
        if self.wrapped:
            return f"Error executing request, Exception : {self.message}, RequestId: {request_id}"
        return self.message
