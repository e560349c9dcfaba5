"""The pytest plugin: the `localbatch` fixture and marker, run in an inner
pytest session through `pytester`. The plugin is found through the package's
`pytest11` entry point, not through any conftest."""

from __future__ import annotations

from importlib.metadata import entry_points

import pytest

pytest_plugins = ["pytester"]


@pytest.fixture
def inner(pytester, monkeypatch):
    # The inner tests must see no region from the environment, so the
    # patch's region is the one a bare client gets.
    for var in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE", "AWS_DEFAULT_PROFILE"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(pytester.path / "no-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(pytester.path / "no-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return pytester


def test_the_plugin_is_registered_as_a_pytest11_entry_point():
    (found,) = [ep for ep in entry_points(group="pytest11") if ep.name == "localbatch"]
    assert found.value == "localbatch.pytest_plugin"


def test_the_fixture_yields_a_controller_and_patches_boto3(inner):
    inner.makepyfile(
        """
        import boto3
        import localbatch as package


        def test_fixture(localbatch):
            assert isinstance(localbatch, package.LocalBatch)
            assert package.current() is localbatch
            client = boto3.client("batch")
            arn = client.create_scheduling_policy(name="p")["arn"]
            assert arn == "arn:aws:batch:us-east-1:123456789012:scheduling-policy/p"
            assert "p" in localbatch.backend().scheduling_policies.by_name
            before = localbatch.now_ms
            localbatch.advance(60)
            assert localbatch.now_ms >= before + 60_000


        def test_fresh_state_per_test(localbatch):
            client = boto3.client("batch")
            assert client.list_scheduling_policies()["schedulingPolicies"] == []
            client.create_scheduling_policy(name="p")  # free again


        def test_unpatched_without_the_fixture():
            try:
                package.current()
            except package.LocalBatchError:
                pass
            else:
                raise AssertionError("patched without asking")
        """
    )
    result = inner.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=3)


def test_the_marker_passes_options_and_patches_without_the_fixture(inner):
    inner.makepyfile(
        """
        import boto3
        import pytest
        import localbatch


        @pytest.mark.localbatch(region="eu-west-1", account_id="111122223333")
        def test_marker_only():
            lb = localbatch.current()
            assert lb.default_region == "eu-west-1"
            assert lb.account_id == "111122223333"
            arn = boto3.client("batch").create_scheduling_policy(name="p")["arn"]
            assert arn == "arn:aws:batch:eu-west-1:111122223333:scheduling-policy/p"


        @pytest.mark.localbatch(account_id="444455556666", autojump=True)
        def test_marker_with_the_fixture(localbatch):
            import time
            assert localbatch.account_id == "444455556666"
            before = localbatch.now_ms
            time.sleep(3600)
            assert localbatch.now_ms >= before + 3_600_000


        @pytest.mark.localbatch(region="ap-south-1")
        class TestClass:
            def test_method(self):
                assert boto3.client("batch").meta.region_name == "ap-south-1"
        """
    )
    result = inner.runpytest("-p", "no:cacheprovider", "--strict-markers")
    result.assert_outcomes(passed=3)


def test_a_bad_marker_option_errors_the_test(inner):
    inner.makepyfile(
        """
        import pytest


        @pytest.mark.localbatch(no_such_option=1)
        def test_bad():
            pass
        """
    )
    result = inner.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*unknown localbatch option(s): no_such_option*"])


def test_without_the_entry_point_there_is_no_fixture(inner):
    inner.makepyfile(
        """
        def test_fixture(localbatch):
            pass
        """
    )
    result = inner.runpytest("-p", "no:cacheprovider", "-p", "no:localbatch")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*fixture 'localbatch' not found*"])
