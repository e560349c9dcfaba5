"""All Batch state of one (account, region), and the events that move it.

A Backend is never shared between two patches or two regions. It is only
touched with the controller's lock held, and every change goes through its
journal so a failed call leaves nothing behind.
"""

from __future__ import annotations

import itertools
from typing import Any, Callable

from localbatch import ids
from localbatch.config import EngineConfig
from localbatch.engine import schedulers, service_lifecycle
from localbatch.engine.events import EventQueue
from localbatch.engine.jobs import JobStore
from localbatch.engine.journal import Journal
from localbatch.engine.service_jobs import ServiceJobStore
from localbatch.engine.tables import JobDefinitionRevisions, Table


class Backend:
    def __init__(self, account_id: str, region: str, config: EngineConfig, seed: int | str = 0) -> None:
        self.account_id = account_id
        self.region = region
        self.config = config
        self.ids = ids.IdFactory(f"{seed}:{account_id}:{region}")
        self.journal = Journal()
        self.events = EventQueue(self.journal)
        # Engine time of the step being processed: the due time of an event
        # while it runs, the call time while an operation runs.
        self.now_ms = 0
        self._seq = itertools.count(1)
        # Bumped (journaled) by every replacement of a stored resource's data
        # (api/_common.updated): stored data changes in no other way.
        self.data_version = 0
        j = self.journal
        self.compute_environments = Table(j)
        self.job_queues = Table(j)
        self.job_definitions = Table(j, unique_names=False)
        self.job_definition_revisions = JobDefinitionRevisions()
        self.scheduling_policies = Table(j)
        self.service_environments = Table(j)
        self.quota_shares = Table(j, unique_names=False)
        self.consumable_resources = Table(j)
        # Called after the events of each timestamp ran (schedulers hook here).
        self.after_events: list[Callable[["Backend"], None]] = []
        # Container jobs: entities, indexes and scheduler state (engine/jobs.py).
        self.jobs = JobStore(self.journal)
        self.after_events.append(schedulers.after_event)
        # Service jobs (SageMaker Training): engine/service_jobs.py, service_lifecycle.py.
        self.service_jobs = ServiceJobStore(self.journal)
        self.after_events.append(service_lifecycle.after_event)
        # Capacity faults a test declared: environment ARN -> instance types
        # it cannot give (None: every type). engine/faults.py.
        self.shortages: dict[str, frozenset[str] | None] = {}
        # Fair-share queues whose last pass stopped on a job that does not fit
        # while capacity was free: queue ARN -> the engine ("container" or
        # "service"). Decay alone may put another share first, so a pass runs
        # again whenever time moves (spec §3.1: every tick dispatches).
        self.decay_watch: dict[str, str] = {}
        # Length of the request body botocore serialised, while a handler runs
        # (the controller sets it); None otherwise. Not state: never journaled.
        self.request_size: int | None = None

    # -- identity -----------------------------------------------------------

    def next_seq(self) -> int:
        return next(self._seq)

    def arn(self, resource: str) -> str:
        return ids.arn(self.region, self.account_id, resource)

    # -- time ---------------------------------------------------------------

    def schedule_in(self, delay_ms: int, action: Callable[..., Any], *args: Any) -> list:
        return self.events.schedule(self.now_ms + delay_ms, action, *args)

    @property
    def resource_latency_ms(self) -> int:
        return round(self.config.resource_latency * 1000)

    def next_step_is_now(self) -> bool:
        """Whether an event scheduled now would be the engine's next step,
        with nothing observing the engine before it: no event is due at the
        current engine time, and no snapshot follows a container queue's
        positions after each event. A step taken at once instead of as that
        event then leaves the same timeline (flow.submit, service_lifecycle.submit)."""
        return self.events.idle_until(self.now_ms) and not self.service_jobs.container_fronts

    def run_until(self, now_ms: int) -> None:
        """Run every event due at or before `now_ms`, each at its own time;
        then, at `now_ms`, the passes that time alone may change."""
        while True:
            entry = self.events.pop_due(now_ms)
            if entry is None:
                if now_ms > self.now_ms:
                    self.now_ms = now_ms
                    if self.decay_watch and self._reorder_by_time():
                        continue  # run the passes just asked for, at now_ms
                break
            due_ms, _, action, args = entry
            if due_ms > self.now_ms:
                self.now_ms = due_ms
            action(*args)
            for hook in self.after_events:
                hook(self)

    def _reorder_by_time(self) -> bool:
        """Ask for a pass of each watched fair-share queue still waiting; True if any was asked for."""
        asked = False
        for queue_arn, engine in list(self.decay_watch.items()):
            store = self.jobs if engine == "container" else self.service_jobs
            jobs = store.queues.get(queue_arn)
            book = jobs.fair_share if jobs is not None else None
            if book is None or not book.waiting:
                self.journal.pop(self.decay_watch, queue_arn)
                continue
            if engine == "container":
                schedulers.request_dispatch(self)
            else:
                service_lifecycle.request_dispatch(self, queue_arn)
            asked = True
        return asked
