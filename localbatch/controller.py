"""`LocalBatch`, the controller a patch hands to the test (`lb`).

It owns everything one patch knows: the clock, one Backend per region, and
the lock that serialises calls from many threads. The shim asks it to answer
calls; the test asks it to move time.
"""

from __future__ import annotations

import threading
from typing import Any

from localbatch import service_model
from localbatch.api import OPERATIONS
from localbatch.api._common import clone
from localbatch.clock import Clock, seconds_to_ms
from localbatch.config import EngineConfig
from localbatch.engine.backend import Backend
from localbatch.errors import BatchClientError
from localbatch.ids import IdFactory


class LocalBatch:
    def __init__(
        self,
        *,
        account_id: str = "123456789012",
        default_region: str = "us-east-1",
        seed: int | str = 0,
        autojump: bool = False,
        check_responses: bool = False,
        config: EngineConfig | None = None,
    ) -> None:
        self.account_id = account_id
        self.default_region = default_region
        self.autojump = autojump
        self.check_responses = check_responses
        self.config = config or EngineConfig()
        self.clock = Clock()
        self.lock = threading.RLock()
        self._seed = seed
        self._request_ids = IdFactory(f"{seed}:requests")
        self._backends: dict[str, Backend] = {}

    # -- time ---------------------------------------------------------------

    @property
    def now_ms(self) -> int:
        """Engine time, in epoch milliseconds."""
        with self.lock:
            return self.clock.now_ms()

    def advance(self, seconds: float) -> None:
        """Move engine time forward and run everything that falls due, in order."""
        delta = seconds_to_ms(seconds)
        with self.lock:
            target = self.clock.now_ms() + delta
            self.clock.skip_ms(delta)
            self._run_all(target)

    def run_until_idle(self) -> None:
        """Jump from due event to due event until nothing more can happen."""
        with self.lock:
            self._run_all(self.clock.now_ms())
            while True:
                due = [d for b in self._backends.values() if (d := b.events.next_due_ms()) is not None]
                if not due:
                    return
                self.clock.skip_to_ms(min(due))
                self._run_all(self.clock.now_ms())

    def _run_all(self, now_ms: int) -> None:
        for backend in list(self._backends.values()):
            self._tick(backend, now_ms)

    @staticmethod
    def _tick(backend: Backend, now_ms: int) -> None:
        backend.journal.begin()
        try:
            backend.run_until(now_ms)
        except BaseException:
            backend.journal.rollback()
            raise
        backend.journal.commit()

    # -- state --------------------------------------------------------------

    def backend(self, region: str | None = None) -> Backend:
        """The state of one region of this patch's account (created on first use)."""
        region = region or self.default_region
        found = self._backends.get(region)
        if found is None:
            found = Backend(self.account_id, region, self.config, self._seed)
            found.now_ms = self.clock.now_ms()
            self._backends[region] = found
        return found

    # -- answering calls ----------------------------------------------------

    def call(self, region: str, operation: str, params: dict[str, Any]) -> tuple[int, dict[str, Any], str]:
        """Answer one Batch call: (HTTP status, body, request id).

        Due events run first, at their own times. The operation itself runs
        in a transaction: whatever makes it fail, nothing it changed stays.
        """
        request_id = self._request_ids.uuid4()
        with self.lock:
            backend = self.backend(region)
            try:
                self._tick(backend, self.clock.now_ms())
                backend.journal.begin()
                try:
                    service_model.check_request(operation, params)
                    handler = OPERATIONS.get(operation)
                    if handler is None:
                        raise BatchClientError(f"localbatch does not implement the {operation} operation")
                    body = handler(backend, clone(params))
                except BaseException:
                    backend.journal.rollback()
                    raise
                backend.journal.commit()
            except BatchClientError as error:
                return 400, _error("ClientException", error.render(request_id)), request_id
            except Exception as error:  # a bug in localbatch: answer as AWS would, state intact
                message = f"localbatch internal error in {operation}: {type(error).__name__}: {error}"
                return 500, _error("ServerException", message), request_id
        if self.check_responses:
            service_model.check_response(operation, body)
        return 200, body, request_id


def _error(code: str, message: str) -> dict[str, Any]:
    # botocore exposes both: Error.Message, and `message` as a modeled member.
    return {"Error": {"Code": code, "Message": message}, "message": message}
