"""`localbatch.patch()`: context manager, decorator and start()/stop() in one.

Every start makes a fresh controller with empty state and pushes it on the
shim's stack; stop pops it, and botocore is back to normal once the stack is
empty. Nested patches shadow outer ones, like freezegun and time-machine.
"""

from __future__ import annotations

import functools
import inspect
import time
import unittest
from typing import Any, Callable, TypeVar

from localbatch import shim
from localbatch.config import EngineConfig
from localbatch.controller import LocalBatch
from localbatch.errors import LocalBatchError

F = TypeVar("F", bound=Callable[..., Any])

# The time functions as found when the first autojump patch started (they
# may be a test's own mocks); empty while no autojump patch is active.
_saved: dict[str, Callable[..., Any]] = {}


def _autojump_lb() -> LocalBatch | None:
    lb = shim.active()
    return lb if lb is not None and lb.autojump else None


def _autojump_sleep(seconds: float) -> None:
    # A polling loop's sleep becomes engine time, so the script finishes at once.
    lb = _autojump_lb()
    if lb is not None:
        lb.advance(seconds)
    else:
        _saved["sleep"](seconds)


def _autojump_time() -> float:
    # Code that times itself (a waiter's timeout, `deadline = time.time() + T`)
    # must see the time its sleeps skipped, or it would wait for ever on a
    # frozen clock, or give up too late on a real one.
    lb = _autojump_lb()
    return _saved["time"]() + (lb.clock.skipped_ms / 1000 if lb is not None else 0.0)


def _autojump_monotonic() -> float:
    lb = _autojump_lb()
    return _saved["monotonic"]() + (lb.clock.skipped_ms / 1000 if lb is not None else 0.0)


_HOOKS = {"sleep": _autojump_sleep, "time": _autojump_time, "monotonic": _autojump_monotonic}


def _sync_sleep_hook() -> None:
    # Touch the time module only when autojump turns on or off, so a patch
    # without autojump never replaces a function someone else installed.
    wanted = any(lb.autojump for lb in shim.ACTIVE)
    if wanted and not _saved:
        for name, hook in _HOOKS.items():
            _saved[name] = getattr(time, name)
            setattr(time, name, hook)
    elif not wanted and _saved:
        for name, hook in _HOOKS.items():
            if getattr(time, name) is hook:
                setattr(time, name, _saved[name])
        _saved.clear()


class patch:
    """Answer every boto3 `batch` client in this process from localbatch.

    Keyword arguments: ``account_id`` (default ``123456789012``),
    ``region`` (used when a client has none configured; default
    ``us-east-1``), ``autojump`` (``time.sleep`` advances engine time),
    ``seed`` (ids), ``check_responses`` (validate every response against the
    model; on in localbatch's own test suite), and any `EngineConfig` field.
    """

    def __init__(
        self,
        *,
        account_id: str = "123456789012",
        region: str = "us-east-1",
        autojump: bool = False,
        seed: int | str = 0,
        check_responses: bool | None = None,
        **engine_options: Any,
    ) -> None:
        if not (len(account_id) == 12 and account_id.isdigit()):
            raise LocalBatchError(f"account_id must be 12 digits, got {account_id!r}")
        self._options = dict(account_id=account_id, default_region=region, autojump=autojump, seed=seed)
        self._check_responses = check_responses
        self._config = EngineConfig.from_options(engine_options)
        self._started: list[LocalBatch] = []

    # -- start / stop -------------------------------------------------------

    def start(self) -> LocalBatch:
        check = self._check_responses
        if check is None:
            import os

            check = os.environ.get("LOCALBATCH_CHECK_RESPONSES", "") not in ("", "0")
        lb = LocalBatch(check_responses=check, config=self._config, **self._options)
        self._started.append(lb)
        shim.ACTIVE.append(lb)
        _sync_sleep_hook()
        return lb

    def stop(self) -> None:
        if not self._started:
            raise LocalBatchError("stop() called on a localbatch patch that is not started")
        lb = self._started.pop()
        shim.ACTIVE.remove(lb)
        _sync_sleep_hook()

    def __enter__(self) -> LocalBatch:
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- decorator ----------------------------------------------------------

    def __call__(self, target: F) -> F:
        if isinstance(target, type):
            if issubclass(target, unittest.TestCase):
                return self._decorate_testcase(target)  # type: ignore[return-value]
            raise LocalBatchError("localbatch.patch() decorates functions and unittest.TestCase classes")
        if inspect.iscoroutinefunction(target):

            @functools.wraps(target)
            async def run_async(*args: Any, **kwargs: Any) -> Any:
                with self:
                    return await target(*args, **kwargs)

            return run_async  # type: ignore[return-value]

        @functools.wraps(target)
        def run(*args: Any, **kwargs: Any) -> Any:
            with self:
                return target(*args, **kwargs)

        return run  # type: ignore[return-value]

    def _decorate_testcase(self, cls: type[unittest.TestCase]) -> type[unittest.TestCase]:
        # Fresh state per test: start in setUp, stop through addCleanup so a
        # failing setUp or test still stops the patch. The controller is
        # `self.lb` inside the test.
        original_setup = cls.setUp
        owner = self

        @functools.wraps(original_setup)
        def setUp(test: unittest.TestCase) -> None:
            test.lb = owner.start()  # type: ignore[attr-defined]
            test.addCleanup(owner.stop)
            original_setup(test)

        cls.setUp = setUp  # type: ignore[method-assign]
        return cls


def current() -> LocalBatch:
    """The controller of the innermost active patch."""
    lb = shim.active()
    if lb is None:
        raise LocalBatchError("no localbatch patch is active")
    return lb
