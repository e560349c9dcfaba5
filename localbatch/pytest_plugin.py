"""pytest integration, registered through the `pytest11` entry point.

* the `localbatch` fixture yields the controller of a fresh patch;
* `@pytest.mark.localbatch(**kwargs)` passes kwargs to `patch()`, and on its
  own (without asking for the fixture) patches the test.
"""

from __future__ import annotations

from typing import Any, Iterator

import pytest

from localbatch.patch import patch


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "localbatch(**kwargs): run the test under localbatch.patch(**kwargs)")


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.get_closest_marker("localbatch") and "localbatch" not in getattr(item, "fixturenames", ()):
            item.fixturenames.append("localbatch")  # type: ignore[attr-defined]


@pytest.fixture
def localbatch(request: pytest.FixtureRequest) -> Iterator[Any]:
    marker = request.node.get_closest_marker("localbatch")
    kwargs = dict(marker.kwargs) if marker else {}
    with patch(**kwargs) as lb:
        yield lb
