"""Shared fixtures. Every patch started in this suite checks every response
against its output shape in the service model (LOCALBATCH_CHECK_RESPONSES),
so a response that drifts from the contract fails the test that got it."""

from __future__ import annotations

import os

# Set before any patch starts; never let a test reach real AWS credentials
# or the instance-metadata endpoint.
os.environ["LOCALBATCH_CHECK_RESPONSES"] = "1"
os.environ["AWS_EC2_METADATA_DISABLED"] = "true"
for _var in ("AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
    os.environ.pop(_var, None)

import boto3  # noqa: E402
import pytest  # noqa: E402

import localbatch  # noqa: E402


@pytest.fixture
def lb():
    with localbatch.patch() as controller:
        yield controller


@pytest.fixture
def batch(lb):
    """A real boto3 batch client answered by localbatch."""
    return boto3.client("batch", region_name="us-east-1")

