"""Assertion helpers shared by the API tests."""

from __future__ import annotations


def client_error(excinfo) -> str:
    """The message of a ClientException, checking both places botocore puts it."""
    error = excinfo.value
    assert error.response["Error"]["Code"] == "ClientException"
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert error.response["message"] == error.response["Error"]["Message"]
    return error.response["Error"]["Message"]
