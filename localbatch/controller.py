"""`LocalBatch`, the controller a patch hands to the test (`lb`).

It owns everything one patch knows: the clock, one Backend per region, and
the lock that serialises calls from many threads. The shim asks it to answer
calls; the test asks it to move time.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any, Callable

from localbatch import service_model
from localbatch.api import OPERATIONS
from localbatch.api._common import clone
from localbatch.clock import Clock, seconds_to_ms
from localbatch.config import EngineConfig
from localbatch.engine import executors, faults, service_lifecycle
from localbatch.engine.backend import Backend
from localbatch.engine.executors import JobRule, JobRun
from localbatch.engine.lifecycle import timeline_rows
from localbatch.engine.service_jobs import ServiceJob
from localbatch.errors import BatchClientError, LocalBatchError
from localbatch.ids import RequestIds


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
        self._request_ids = RequestIds(f"{seed}:requests")
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
            self._refuse_reentry(self._backends.values())
            target = self.clock.now_ms() + delta
            self.clock.skip_ms(delta)
            self._run_all(target)

    def run_until_idle(self) -> None:
        """Jump from due event to due event until nothing more can happen."""
        with self.lock:
            self._refuse_reentry(self._backends.values())
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
    def _refuse_reentry(backends: Any) -> None:
        # Re-entered from inside an event or a call (a job rule's run() that
        # sleeps under autojump, or calls boto3): a nested transaction would
        # drop the outer one's undo log, and time would move mid-event.
        if any(backend.journal.active for backend in backends):
            raise LocalBatchError(
                "localbatch was re-entered while it was running an event or a call: time.sleep (autojump), "
                "lb.advance() and Batch calls cannot be made from inside a job rule or an event"
            )

    @classmethod
    def _tick(cls, backend: Backend, now_ms: int) -> None:
        cls._refuse_reentry((backend,))
        cls._run_due(backend, now_ms)

    @staticmethod
    def _run_due(backend: Backend, now_ms: int) -> None:
        """Run the events due by `now_ms`, all or nothing (re-entry already refused)."""
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
        with self.lock:
            found = self._backends.get(region)
            if found is None:
                found = Backend(self.account_id, region, self.config, self._seed)
                found.now_ms = self.clock.now_ms()
                found.jobs.rules = self.job_rules
                self._backends[region] = found
        return found

    def backends(self) -> list[Backend]:
        """Every region this patch has state for."""
        with self.lock:
            return list(self._backends.values())

    def report(self, path: str) -> None:
        """Write a self-contained HTML timeline of every job to `path`."""
        from localbatch.report import write_report

        with self.lock:
            write_report(self, path)

    # -- answering calls ----------------------------------------------------

    def call(
        self, region: str, operation: str, params: dict[str, Any], request_size: int | None = None
    ) -> tuple[int, dict[str, Any], str]:
        """Answer one Batch call: (HTTP status, body, request id).

        Due events run first, at their own times. The operation itself runs
        in a transaction: whatever makes it fail, nothing it changed stays.
        `request_size` is the length of the request body botocore serialised
        (the shim knows it); the handler finds it as `backend.request_size`,
        which exists only while the handler runs.
        """
        with self.lock:
            request_id = self._request_ids.next()
            backend = self._backends.get(region) or self.backend(region)
            try:
                now_ms = self.clock.now_ms()
                if backend.journal.active:
                    self._refuse_reentry((backend,))
                # Nothing due and no time passed (a burst of calls in one
                # millisecond, a frozen clock): the tick would do nothing.
                if now_ms > backend.now_ms or not backend.events.idle_until(now_ms):
                    self._run_due(backend, now_ms)
                backend.journal.begin()
                try:
                    service_model.check_request(operation, params)
                    handler = OPERATIONS.get(operation)
                    if handler is None:
                        raise BatchClientError(f"localbatch does not implement the {operation} operation")
                    backend.request_size = request_size  # for this call's handler only
                    try:
                        body = handler(backend, clone(params))
                    finally:
                        backend.request_size = None
                except BaseException:
                    backend.journal.rollback()
                    raise
                backend.journal.commit()
            except BatchClientError as error:
                return 400, _error("ClientException", error.render(request_id)), request_id
            except LocalBatchError:
                # Misuse of localbatch (say, a job rule's run() returning a
                # string while this call ran due events) is the test's bug:
                # it must fail loudly, not read as an AWS ServerException.
                raise
            except Exception as error:  # a bug in localbatch: answer as AWS would, state intact
                message = f"localbatch internal error in {operation}: {type(error).__name__}: {error}"
                return 500, _error("ServerException", message), request_id
        if self.check_responses:
            service_model.check_response(operation, body)
        return 200, body, request_id

    # -- container jobs: how they run (engine/executors.py) ---------------------

    @property
    def job_rules(self) -> list[JobRule]:
        """The rules of `on_job`, oldest first (shared by every region)."""
        return self.__dict__.setdefault("_job_rules", [])

    def on_job(
        self,
        name: str = "*",
        *,
        queue: str | None = None,
        duration: float | None = 0,
        exit_code: int = 0,
        reason: str | None = None,
        run: Callable[[JobRun], int | None] | None = None,
    ) -> JobRule:
        """Say how RUNNING jobs whose name matches the glob `name` (and, if
        given, whose queue has this name or ARN) end: after `duration`
        seconds with `exit_code` and container `reason`, or with what
        `run(job)` returns. `duration=None` keeps them RUNNING until
        `complete(job_id)`. The most recently added matching rule wins."""
        if duration is not None and duration < 0:
            raise LocalBatchError(f"on_job: duration must be >= 0 or None, got {duration}")
        if isinstance(exit_code, bool) or not isinstance(exit_code, int):
            raise LocalBatchError(f"on_job: exit_code must be an int, got {exit_code!r}")
        if run is not None and not callable(run):
            raise LocalBatchError("on_job: run must be callable")
        rule = JobRule(name=name, queue=queue, duration=duration, exit_code=exit_code, reason=reason, run=run)
        with self.lock:
            self.job_rules.append(rule)
            for backend in self._backends.values():
                backend.jobs.rules = self.job_rules
        return rule

    def complete(self, job_id: str, exit_code: int = 0, reason: str | None = None) -> None:
        """End the RUNNING attempt of `job_id` now, as if its container exited."""
        self._job_action(job_id, lambda backend, job: _completer(job)(backend, job, exit_code, reason))

    def fail_host(self, job_id: str) -> None:
        """End the STARTING/RUNNING attempt of `job_id` as a lost EC2 host
        (statusReason `Host EC2 (instance i-...) terminated.`); retry rules apply.
        On a node of a multi-node job other than its main node (`<id>#<n>`)
        only that node ends, FAILED, and the job runs on (spec §2.5)."""

        def fail(backend: Backend, job: Any) -> None:
            if isinstance(job, ServiceJob):
                raise LocalBatchError(f"fail_host: {job_id} is a service job; SageMaker jobs have no EC2 host")
            executors.fail_host(backend, job)

        self._job_action(job_id, fail)

    # -- capacity faults (engine/faults.py, spec §2.9) ---------------------------

    def insufficient_capacity(
        self, environment: str, instance_types: Iterable[str] | str | None = None, *, region: str | None = None
    ) -> None:
        """From now on, AWS has no instances of `instance_types` (None: of any
        type) for the compute or service environment `environment` (name or
        ARN) in `region`; calls add to what it is already short of.

        Nothing of those types is placed there. A container job goes to the
        next compute environment of its queue that has room and instances; a
        queue head that only short environments had room for stays RUNNABLE
        with statusReason `CAPACITY:INSUFFICIENT_INSTANCE_CAPACITY - Service
        cannot fulfill the capacity requested for instance type [<type>]`
        (describe/list show it; a `jobStateTimeLimitActions` entry for that
        reason cancels, or for service queues terminates, it after
        `maxTimeSeconds`). A container job uses the first of the compute
        environment's `instanceTypes` that is not short, as written
        (`optimal`, `m5`, `m5.large`...); Fargate environments use `FARGATE`
        / `FARGATE_SPOT`, unmanaged ones `UNMANAGED`. A service job uses the
        InstanceTypes of its ResourceConfig. A name that both a compute and a
        service environment have means the compute environment (pass the
        ARN for the other). Raises LocalBatchError for an unknown environment
        or instance types that are not strings.
        """
        types = _instance_types(instance_types)
        self._fault_action(
            region, environment, lambda backend, arn: faults.declare(backend, arn, types), "insufficient_capacity"
        )

    def restore_capacity(self, environment: str, *, region: str | None = None) -> None:
        """Undo every `insufficient_capacity` of `environment` (name or ARN):
        heads waiting for its instances start at once, within this call.
        Restoring an environment that is not short changes nothing."""
        self._fault_action(region, environment, faults.lift, "restore_capacity")

    def _fault_action(
        self, region: str | None, environment: str, action: Callable[[Backend, str], None], what: str
    ) -> None:
        with self.lock:
            now = self.clock.now_ms()
            self._run_all(now)
            backend = self.backend(region)
            arn = _environment_arn(backend, environment, what)
            backend.journal.begin()
            try:
                action(backend, arn)
            except BaseException:
                backend.journal.rollback()
                raise
            backend.journal.commit()
            self._tick(backend, now)

    def timeline(self, region: str | None = None) -> list[dict[str, Any]]:
        """Every job transition so far, in order: dicts with job_id, job_name,
        from, to, time_ms and reason (from is None when the job was created)."""
        with self.lock:
            self._run_all(self.clock.now_ms())
            backends = [self.backend(region)] if region else list(self._backends.values())
            rows = [row for backend in backends for row in timeline_rows(backend)]
            service_rows = [row for backend in backends for row in service_lifecycle.timeline_rows(backend)]
        rows += service_rows
        if len(backends) > 1 or service_rows:
            rows.sort(key=lambda row: row["time_ms"])
        return rows

    def explain(self, job_id: str) -> str:
        """One line saying why job `job_id` (id or ARN) is where it is: what
        it waits for, what blocks its queue, where it runs, how it ended."""
        from localbatch.engine.explain import explain_job

        with self.lock:
            self._run_all(self.clock.now_ms())
            backend, job = self._find_job(job_id)
            if isinstance(job, ServiceJob):
                return service_lifecycle.explain_service_job(backend, job)
            return explain_job(backend, job)

    def logs(self, job_id: str, attempt: int | None = None) -> list[str] | str:
        """What the processes of a container job wrote (stdout and stderr),
        one string per attempt, oldest first; with `attempt=n`, that attempt's
        (1-based). Only `patch(executor="subprocess")` runs processes: an
        attempt that ran none has ""."""
        with self.lock:
            self._run_all(self.clock.now_ms())
            backend, job = self._find_job(job_id)
            if isinstance(job, ServiceJob):
                raise LocalBatchError(f"logs: {job_id} is a service job; only container jobs run processes")
            logs = executors.logs_of(backend, job)
        if attempt is None:
            return logs
        if isinstance(attempt, bool) or not isinstance(attempt, int) or not 1 <= attempt <= len(logs):
            raise LocalBatchError(f"logs: job {job_id} has {len(logs)} attempt(s), no attempt {attempt!r}")
        return logs[attempt - 1]

    def _job_action(self, job_id: str, action: Callable[[Backend, Any], None]) -> None:
        with self.lock:
            now = self.clock.now_ms()
            self._run_all(now)
            backend, job = self._find_job(job_id)
            backend.journal.begin()
            try:
                action(backend, job)
            except BaseException:
                backend.journal.rollback()
                raise
            backend.journal.commit()
            self._tick(backend, now)

    def _find_job(self, job_id: str) -> tuple[Backend, Any]:
        wanted = job_id.rpartition("/")[2] if job_id.startswith("arn:") else job_id
        for backend in self._backends.values():
            job = backend.jobs.get(wanted) or backend.service_jobs.get(wanted)
            if job is not None:
                return backend, job
        raise LocalBatchError(f"no job {job_id} in this localbatch patch")


def _environment_arn(backend: Backend, environment: Any, what: str) -> str:
    found = None
    if isinstance(environment, str):
        found = backend.compute_environments.get(environment) or backend.service_environments.get(environment)
    if found is None:
        raise LocalBatchError(
            f"{what}: no compute environment or service environment {environment!r} in region {backend.region}"
        )
    return found.arn


def _instance_types(given: Any) -> frozenset[str] | None:
    if given is None:
        return None
    try:
        types = (given,) if isinstance(given, str) else tuple(given)
    except TypeError:
        types = ()
    if not types or not all(isinstance(kind, str) and kind for kind in types):
        raise LocalBatchError(
            f"insufficient_capacity: instance_types must be instance type names (or None for every type), got {given!r}"
        )
    return frozenset(types)


def _completer(job: Any) -> Callable[..., None]:
    # Service jobs end as SageMaker says: 0 is Completed, anything else Failed.
    return service_lifecycle.complete if isinstance(job, ServiceJob) else executors.complete


def _error(code: str, message: str) -> dict[str, Any]:
    # botocore exposes both: Error.Message, and `message` as a modeled member.
    return {"Error": {"Code": code, "Message": message}, "message": message}
