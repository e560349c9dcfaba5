"""How an attempt runs and how it ends (spec §2.1, §2.6, §2.7, §2.8, §2.10).

A dispatched job is STARTING for `starting_seconds`, then RUNNING. What
happens next is the test's to say, through rules added with
`lb.on_job(...)` (the most recently added rule whose job-name glob, and
queue if given, match wins): a duration and an exit code, a `run` callable
that gets the job as it would run on AWS and returns the exit code, or
`duration=None` to keep the job RUNNING until `lb.complete(...)`. Without a
rule a job succeeds after `job_duration` seconds (default 0) with exit
code 0 and statusReason "Essential container in task exited".

An attempt ends one of five ways: its duration runs out, `lb.complete`,
`lb.fail_host` (host lost), its timeout (exit code 137, never retried), or
TerminateJob (exit code 143, never retried). A non-zero end is retried
while attempts remain and `evaluateOnExit` says RETRY.

A multi-node job's attempt is its main node's (spec §2.5): the job and its
main node go STARTING at dispatch (capacity for every node is held from
then on); when the main node is RUNNING the other nodes launch, STARTING
for `starting_seconds`, then RUNNING. The rule's end (or `lb.complete` /
`lb.fail_host` on the job or its main node) ends the job: nodes still
running are stopped with it. `lb.complete` or `lb.fail_host` on another
node (`<id>#<n>`) ends only that node, which keeps its own status and exit
code when the job ends later. A retry starts every node again, in the same
order. A rule's `run` and the subprocess executor run the main node's
container.

With `patch(executor="subprocess")` the job's command (Ref:: substituted,
exec'd without a shell) runs as a real local process when the attempt goes
RUNNING, and its exit code replaces the rule's (see `run_process`).
"""

from __future__ import annotations

import fnmatch
import os
import re
import select
import signal
import subprocess
import tempfile
import threading
import uuid
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, Callable

from localbatch.engine import capacity
from localbatch.engine.jobs import (
    ACTIVE,
    FAILED,
    RUNNABLE,
    RUNNING,
    STARTING,
    SUCCEEDED,
    TERMINAL,
    Attempt,
    Job,
    derived_hex,
)
from localbatch.engine.lifecycle import create, transition
from localbatch.engine.schedulers import job_event, request_dispatch, run_in_call
from localbatch.errors import LocalBatchError

ESSENTIAL_EXITED = "Essential container in task exited"
TIMED_OUT = "Job attempt duration exceeded timeout"
TIMEOUT_EXIT_CODE = 137
TERMINATED_EXIT_CODE = 143
TASK_FAILED_TO_START = "Task failed to start"
# AWS reports no exit code for a container that never started; 127 is what
# a shell answers for a command it cannot find, so evaluateOnExit can still
# match it with onExitCode.
NOT_STARTED_EXIT_CODE = 127


# -- test control: rules --------------------------------------------------------


@dataclass(frozen=True)
class JobRule:
    name: str = "*"
    queue: str | None = None
    duration: float | None = 0
    exit_code: int = 0
    reason: str | None = None
    run: Callable[["JobRun"], Any] | None = None
    # The glob as fnmatchcase compiles it, once, or None for a plain name,
    # which only equals itself: every job start asks the rules.
    _name_match: Callable[[str], Any] | None = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        glob = any(c in self.name for c in "*?[")
        object.__setattr__(self, "_name_match", re.compile(fnmatch.translate(self.name)).match if glob else None)

    def matches(self, job: Job) -> bool:
        if self.queue is not None and self.queue not in (job.queue_arn, job.queue_arn.rpartition("/")[2]):
            return False
        if self._name_match is None:
            return job.name == self.name
        return self._name_match(job.name) is not None


@dataclass(frozen=True)
class JobRun:
    """A job as its container would see it on AWS, handed to a rule's `run`."""

    job_id: str
    job_name: str
    job_arn: str
    job_queue: str
    compute_environment: str
    attempt: int
    command: list[str]
    environment: dict[str, str]
    parameters: dict[str, str]
    image: str | None
    vcpus: float
    array_index: int | None = None
    array_size: int | None = None
    node_index: int | None = None
    num_nodes: int | None = None
    main_node_index: int | None = None
    tags: dict[str, str] = field(default_factory=dict)


def match_rule(backend: Any, job: Job) -> JobRule | None:
    for rule in reversed(backend.jobs.rules):
        if rule.matches(job):
            return rule
    return None


def _ms(seconds: float) -> int:
    return round(seconds * 1000)


# -- what the container sees (spec §2.11) ------------------------------------------


def container_of(job: Job) -> dict[str, Any]:
    """The effective container of a job (of its main node, for a multi-node job)."""
    from localbatch.engine.flow import node_container

    spec = job.spec
    if spec.node_properties is not None:
        index = job.index if job.is_node else spec.node_properties["mainNode"]
        return node_container(spec, index) or {}
    if spec.container is not None:
        return spec.container
    if spec.ecs_properties is not None:
        containers = spec.ecs_properties["taskProperties"][0]["containers"]
        return next((c for c in containers if c.get("essential", True)), containers[0])
    if spec.eks_properties is not None:
        pod = spec.eks_properties.get("podProperties") or {}
        first = (pod.get("containers") or [{}])[0]
        return {
            "image": first.get("image"),
            "command": list(first.get("command") or []) + list(first.get("args") or []),
            "environment": first.get("env") or [],
        }
    return {}


def batch_environment(job: Job, attempt: int, ce_arn: str | None) -> dict[str, str]:
    """The container's environment plus the AWS_BATCH_* variables of spec
    §2.11. A multi-node job stands for its main node."""
    container = container_of(job)
    env = {v["name"]: v.get("value", "") for v in container.get("environment") or ()}
    env["AWS_BATCH_CE_NAME"] = (ce_arn or "").rpartition("/")[2]
    env["AWS_BATCH_JQ_NAME"] = job.queue_arn.rpartition("/")[2]
    env["AWS_BATCH_JOB_ID"] = job.id
    env["AWS_BATCH_JOB_ATTEMPT"] = str(attempt)
    if job.is_array_child:
        env["AWS_BATCH_JOB_ARRAY_INDEX"] = str(job.index)
        env["AWS_BATCH_JOB_ARRAY_SIZE"] = str(job.spec.array_size)
    nodes = job.spec.node_properties
    if nodes is not None:
        main = nodes["mainNode"]
        index = node_index(job)
        env["AWS_BATCH_JOB_ID"] = f"{multinode_job(job).id}#{index}"
        env["AWS_BATCH_JOB_MAIN_NODE_INDEX"] = str(main)
        env["AWS_BATCH_JOB_NODE_INDEX"] = str(index)
        env["AWS_BATCH_JOB_NUM_NODES"] = str(nodes["numNodes"])
        if index != main:
            env["AWS_BATCH_JOB_MAIN_NODE_PRIVATE_IPV4_ADDRESS"] = main_node_address(multinode_job(job))
    if job.spec.eks_properties is not None:
        env["AWS_BATCH_JOB_KUBERNETES_NODE_UID"] = kubernetes_node_uid(job, attempt)
    return env


def multinode_job(job: Job) -> Job:
    """The multi-node job of a node (a multi-node job is its own)."""
    return job.parent if job.is_node else job


def node_index(job: Job) -> int:
    """The node a multi-node job's node is; the job itself is its main node."""
    return job.index if job.is_node else job.spec.node_properties["mainNode"]


def main_node_address(job: Job) -> str:
    digits = int(derived_hex(job.id, "main-node-ip", 4), 16)
    return f"10.0.{digits >> 8}.{(digits & 0xFF) or 1}"


def kubernetes_node_uid(job: Job, attempt: int) -> str:
    """The UID of the Kubernetes node an EKS attempt's pod runs on: derived
    from the job id (itself from the seeded backend.ids), so it is the same
    on every run without drawing from, and shifting, the id stream."""
    return str(uuid.UUID(hex=derived_hex(job.id, f"kubernetes-node/{attempt}", 32), version=4))


def job_run(job: Job) -> JobRun:
    """What `job`'s container sees; a multi-node job's is its main node's."""
    container = container_of(job)
    attempt = job.attempts[-1]
    nodes = job.spec.node_properties
    job_id, job_arn = job.id, job.arn
    if nodes is not None and not job.is_node:
        job_id, job_arn = f"{job.id}#{nodes['mainNode']}", f"{job.arn}#{nodes['mainNode']}"
    return JobRun(
        job_id=job_id,
        job_name=job.name,
        job_arn=job_arn,
        job_queue=job.queue_arn,
        compute_environment=attempt.compute_environment,
        attempt=attempt.number,
        command=list(container.get("command") or []),
        environment=batch_environment(job, attempt.number, attempt.compute_environment),
        parameters=dict(job.spec.parameters or {}),
        image=container.get("image"),
        # A multi-node job's vCPUs are all its nodes'; one container has its node's.
        vcpus=job.spec.vcpus if nodes is None else capacity.container_vcpus(container) or 1.0,
        array_index=job.index if job.is_array_child else None,
        array_size=job.spec.array_size if job.is_array_child else None,
        node_index=node_index(job) if nodes is not None else None,
        num_nodes=nodes["numNodes"] if nodes is not None else None,
        main_node_index=nodes["mainNode"] if nodes is not None else None,
        tags=dict((job.parent.tags if job.parent is not None else job.tags) or {}),
    )


# -- STARTING and RUNNING -----------------------------------------------------------


def start_attempt(backend: Any, job: Job, ce: Any) -> None:
    """Dispatch a RUNNABLE job onto `ce`: capacity and units are held from now on."""
    journal = backend.journal
    capacity.hold(backend, job, ce.arn)
    capacity.lock_consumables(backend, job)
    journal.append(job.attempts, Attempt(len(job.attempts) + 1, ce.arn))
    transition(backend, job, STARTING)
    if job.is_multinode:
        _start_main_node(backend, job, ce.arn)
    delay = _ms(backend.config.starting_seconds)
    journal.set(job, "event", job_event(backend, delay, _now_running, backend, job))


def running_in_call(backend: Any, job: Job) -> None:
    """Take `job`, just STARTING in its SubmitJob call, to RUNNING in the
    call when that is the engine's next step: no STARTING dwell, and its
    start the only event due (schedulers.run_in_call). The timeline is the
    same and the next call has no tick to run. A job whose rule has `run`,
    and any job under the subprocess executor, keeps the event: a test's own
    code and processes run where they always did, in the tick before the
    next call."""
    if backend.config.executor == "subprocess" or job.event is None:
        return
    rule = match_rule(backend, job)
    if rule is None or rule.run is None:
        run_in_call(backend, job.event)


def _now_running(backend: Any, job: Job) -> None:
    journal = backend.journal
    journal.set(job, "event", None)
    if job.status != STARTING:
        return
    rule = match_rule(backend, job)
    process = None
    if backend.config.executor == "subprocess" and (rule is None or rule.run is None):
        process = run_process(backend, job)
        if process is not None and process.start_error is not None:
            # The container never ran: the attempt ends while STARTING (spec §2.1).
            end_attempt(backend, job, exit_code=NOT_STARTED_EXIT_CODE, reason=process.start_error,
                        status_reason=TASK_FAILED_TO_START)
            return
    now = backend.now_ms
    journal.set(job.attempts[-1], "started_at", now)
    transition(backend, job, RUNNING)
    parent = job.parent
    if parent is not None and parent.started_at is None:
        journal.set(parent, "started_at", now)
    if job.is_multinode:
        main = _node(backend, job, job.spec.node_properties["mainNode"])
        journal.set(main.attempts[-1], "started_at", now)
        transition(backend, main, RUNNING)
        _launch_nodes(backend, job)
    duration = backend.config.job_duration if rule is None else rule.duration
    exit_code, reason = (0, None) if rule is None else (rule.exit_code, rule.reason)
    if rule is not None and rule.run is not None:
        exit_code = _exit_code(rule.run(job_run(job)))
    elif process is not None:
        exit_code = process.exit_code
        if process.timed_out:
            duration = None  # it outlived attemptDurationSeconds: the timeout timer ends it
    journal.set(job, "outcome", (exit_code, reason))
    seconds = (job.spec.timeout or {}).get("attemptDurationSeconds")
    if seconds:
        timer = job_event(backend, seconds * 1000, _timed_out, backend, job, len(job.attempts))
        journal.set(job, "timeout_event", timer)
    if duration is not None:
        journal.set(job, "event", job_event(backend, _ms(duration), _ran_out, backend, job))


def _exit_code(result: Any) -> int:
    if result is None:
        return 0
    if isinstance(result, bool) or not isinstance(result, int):
        raise LocalBatchError(f"a job rule's run() must return an int exit code (or None for 0), got {result!r}")
    return result


def _ran_out(backend: Any, job: Job) -> None:
    backend.journal.set(job, "event", None)
    if job.status == RUNNING:
        exit_code, reason = job.outcome or (0, None)
        end_attempt(backend, job, exit_code=exit_code, reason=reason, status_reason=ESSENTIAL_EXITED)


def _timed_out(backend: Any, job: Job, attempt: int) -> None:
    backend.journal.set(job, "timeout_event", None)
    if job.status == RUNNING and len(job.attempts) == attempt:
        end_attempt(backend, job, exit_code=TIMEOUT_EXIT_CODE, reason=None, status_reason=TIMED_OUT, retry=False)


# -- the subprocess executor ------------------------------------------------------------


@dataclass(frozen=True)
class ProcessResult:
    """How the local process of one attempt went."""

    exit_code: int | None  # None when it was killed at attemptDurationSeconds
    output: str  # stdout and stderr, interleaved as written
    start_error: str | None = None  # container reason when it could not be started

    @property
    def timed_out(self) -> bool:
        return self.exit_code is None and self.start_error is None


def run_process(backend: Any, job: Job) -> ProcessResult | None:
    """Run the attempt's command as a local process, synchronously.

    It runs inside the engine event, under the controller's lock, with no
    thread: engine time does not move while it runs, and the attempt still
    lasts the rule's duration (default `job_duration`) in engine time; only
    the exit code comes from the process. Its environment is the container's
    plus the AWS_BATCH_* variables of spec §2.11, and the host's PATH unless
    the container sets one (there is no image to supply it); the working
    directory is the caller's. A wall-clock time limit of the job's
    `attemptDurationSeconds`, when set, kills it; the attempt then ends on
    the timeout path. As in a container, nothing outlives the command: its
    whole process group is killed when it exits. Output is kept per attempt
    for `lb.logs(job_id)`. A job without a command runs no process (None):
    its rule decides.
    """
    run = job_run(job)
    if not run.command:
        return None
    env = {"PATH": os.environ.get("PATH", os.defpath)}
    if "SYSTEMROOT" in os.environ:  # Windows cannot start a process without it
        env["SYSTEMROOT"] = os.environ["SYSTEMROOT"]
    env.update(run.environment)
    # Output goes to a file, not a pipe: a pipe would need reading while
    # waiting (a thread, or a poll loop) and would block on any grandchild
    # that keeps it open.
    with tempfile.TemporaryFile() as output:
        try:
            process = subprocess.Popen(
                run.command, env=env, stdin=subprocess.DEVNULL, stdout=output, stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        except OSError as error:
            result = ProcessResult(NOT_STARTED_EXIT_CODE, "", _start_error(run.command[0], error))
        else:
            exited = _wait(process, _wall_limit(job))
            _kill_group(process)
            code = process.wait()
            output.seek(0)
            text = output.read().decode("utf-8", errors="replace")
            # A signal N is reported as 128+N, as Docker does.
            result = ProcessResult((128 - code if code < 0 else code) if exited else None, text)
    backend.journal.put(attempt_logs(backend), (job.id, run.attempt), result.output)
    return result


def _wall_limit(job: Job) -> float | None:
    return (job.spec.timeout or {}).get("attemptDurationSeconds") or None


def _wait(process: subprocess.Popen, seconds: float | None) -> bool:
    """Wait for `process` to exit, at most `seconds` of wall time: True if it did.

    Popen.wait(timeout) polls with time.sleep and time.monotonic, which
    autojump and freezegun replace (autojump's sleep would re-enter the
    engine). A pidfd in select() is timed by the kernel (Linux); elsewhere
    the process is polled with pauses of a lock wait, also kernel-timed, and
    the pauses are summed instead of reading a clock.
    """
    if seconds is None:
        process.wait()
        return True
    pidfd_open = getattr(os, "pidfd_open", None)
    if pidfd_open is None:
        waited, pause = 0.0, 0.001
        while process.poll() is None:
            if waited >= seconds:
                return False
            _NEVER_SET.wait(pause)
            waited += pause
            pause = min(pause * 2, 0.05)
        return True
    fd = pidfd_open(process.pid)
    try:
        ready, _, _ = select.select([fd], [], [], seconds)
    finally:
        os.close(fd)
    return bool(ready)


_NEVER_SET = threading.Event()  # its wait(t) pauses t seconds of real time


def _kill_group(process: subprocess.Popen) -> None:
    killpg = getattr(os, "killpg", None)
    if killpg is None:
        if process.poll() is None:
            process.kill()
        return
    try:
        killpg(process.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass  # the group is already gone


def _start_error(executable: str, error: OSError) -> str:
    # Docker's wording for an entry point that cannot be executed.
    if isinstance(error, FileNotFoundError):
        if "/" in executable:
            what = f"stat {executable}: no such file or directory"
        else:
            what = "executable file not found in $PATH"
    elif isinstance(error, PermissionError):
        what = "permission denied"
    else:
        what = (error.strerror or str(error)).lower()
    return (
        "CannotStartContainerError: Error response from daemon: OCI runtime create failed: starting container "
        f'process caused: exec: "{executable}": {what}: unknown'
    )


def attempt_logs(backend: Any) -> dict[tuple[str, int], str]:
    """(job id, attempt number) -> captured output, of one backend."""
    return backend.jobs.attempt_logs


def logs_of(backend: Any, job: Job) -> list[str]:
    """The output of each attempt of `job` ("" where no process ran).

    A multi-node job's process is its main node's; its other nodes run none."""
    owner = job.parent if job.is_node and job.index == job.spec.node_properties["mainNode"] else job
    logs = attempt_logs(backend)
    return [logs.get((owner.id, attempt.number), "") for attempt in job.attempts]


# -- the end of an attempt ------------------------------------------------------------


def end_attempt(
    backend: Any,
    job: Job,
    *,
    exit_code: int | None,
    reason: str | None,
    status_reason: str,
    retry: bool = True,
) -> None:
    """Close the current attempt; the job succeeds, is retried, or fails."""
    from localbatch.engine.flow import finished

    journal = backend.journal
    attempt = job.attempts[-1]
    _close(backend, attempt, exit_code, reason, status_reason)
    _cancel_timers(backend, job)
    capacity.release(backend, job)
    capacity.release_consumables(backend, job)
    if exit_code == 0:
        to = SUCCEEDED
    elif retry and should_retry(job, attempt):
        to = RUNNABLE
    else:
        to = FAILED
    for node in job.children if job.is_multinode else ():
        if node.status not in TERMINAL:  # a node that ended alone keeps its own end
            _stop_node(backend, node, to, exit_code, reason, status_reason)
    journal.set(job, "outcome", None)
    transition(backend, job, to, None if to == RUNNABLE else status_reason)
    if to in TERMINAL:
        finished(backend, job)
    else:
        request_dispatch(backend)


def _close(backend: Any, attempt: Attempt, exit_code: int | None, reason: str | None, status_reason: str) -> None:
    # One undo record for the four fields: this runs once per attempt.
    backend.journal.record(_reopen, attempt, attempt.stopped_at, attempt.exit_code, attempt.reason,
                           attempt.status_reason)
    attempt.stopped_at = backend.now_ms
    attempt.exit_code = exit_code
    attempt.reason = reason
    attempt.status_reason = status_reason


def _reopen(attempt: Attempt, stopped_at: Any, exit_code: Any, reason: Any, status_reason: Any) -> None:
    attempt.stopped_at, attempt.exit_code, attempt.reason, attempt.status_reason = (
        stopped_at, exit_code, reason, status_reason
    )


def _cancel_timers(backend: Any, job: Job) -> None:
    _cancel_event(backend, job)
    if job.timeout_event is not None:
        backend.events.cancel(job.timeout_event)
        backend.journal.set(job, "timeout_event", None)


# -- the nodes of a multi-node job (spec §2.5) ----------------------------------------------


def _cancel_event(backend: Any, job: Job) -> None:
    if job.event is not None:
        backend.events.cancel(job.event)
        backend.journal.set(job, "event", None)


def _start_main_node(backend: Any, job: Job, ce_arn: str) -> None:
    """At dispatch only the main node starts; the others wait for it to run.

    On the first dispatch every node's creation seq is taken at once, in
    node order, so nodes created later still list (ListJobs pages by seq)
    in node order."""
    attempt = Attempt(len(job.attempts), ce_arn)
    main = job.spec.node_properties["mainNode"]
    if job.children is None:
        first = backend.next_seq()
        for _ in range(1, job.spec.node_properties["numNodes"]):
            backend.next_seq()
        backend.journal.set(job, "children", [_new_node(backend, job, first + main, main, attempt)])
        return
    # The main node never ends alone (it ends its job), so it is there to restart.
    node = _node(backend, job, main)
    backend.journal.append(node.attempts, attempt)
    transition(backend, node, STARTING)


def _launch_nodes(backend: Any, job: Job) -> None:
    """The main node is RUNNING: every other node goes STARTING, then RUNNING
    `starting_seconds` later (spec §2.5; in node order, which AWS leaves
    random)."""
    journal = backend.journal
    main = job.spec.node_properties["mainNode"]
    main_node = _node(backend, job, main)
    first = main_node.seq - main
    ce_arn = job.attempts[-1].compute_environment
    delay = _ms(backend.config.starting_seconds)
    nodes = []
    for index in range(job.spec.node_properties["numNodes"]):
        if index == main:
            nodes.append(main_node)
            continue
        attempt = Attempt(len(job.attempts), ce_arn)
        node = backend.jobs.get(f"{job.id}#{index}")
        if node is None:
            node = _new_node(backend, job, first + index, index, attempt)
        else:
            node = _restart_node(backend, job, node, attempt)
        journal.set(node, "event", job_event(backend, delay, _node_running, backend, node))
        nodes.append(node)
    journal.set(job, "children", nodes)


def _node_running(backend: Any, node: Job) -> None:
    backend.journal.set(node, "event", None)
    if node.status == STARTING:
        backend.journal.set(node.attempts[-1], "started_at", backend.now_ms)
        transition(backend, node, RUNNING)


def _node(backend: Any, job: Job, index: int) -> Job:
    return backend.jobs.get(f"{job.id}#{index}")


def _new_node(backend: Any, job: Job, seq: int, index: int, attempt: Attempt) -> Job:
    node = Job(seq, f"{job.id}#{index}", f"{job.arn}#{index}", job.name, job.queue_arn, job.spec, backend.now_ms)
    node.parent = job
    node.index = index
    node.attempts.append(attempt)
    create(backend, node, STARTING)
    return node


def _restart_node(backend: Any, job: Job, node: Job, attempt: Attempt) -> Job:
    """A node of an earlier attempt starts this one: the node itself, or,
    when it ended alone, its stand-in (see _node_anew)."""
    if node.status in TERMINAL:
        return _node_anew(backend, job, node, attempt)
    backend.journal.append(node.attempts, attempt)
    transition(backend, node, STARTING)
    return node


def _node_anew(backend: Any, job: Job, node: Job, attempt: Attempt) -> Job:
    """A node that ended alone in the last attempt starts this one over.

    A final status has no way out (lifecycle.TRANSITIONS), so the node is
    registered again under its own id, seq and creation time, with its
    attempts so far: to DescribeJobs and ListJobs it is the same node, and
    the timeline shows it created again, STARTING.
    """
    fresh = Job(node.seq, node.id, node.arn, node.name, node.queue_arn, node.spec, node.created_at)
    fresh.parent = job
    fresh.index = node.index
    fresh.attempts = [*node.attempts, attempt]
    # Undone last, after JobStore.add's undo dropped the id: the node that
    # ended is indexed again.
    backend.journal.record(_index_again, backend.jobs, node)
    create(backend, fresh, STARTING)
    return fresh


def _index_again(store: Any, node: Job) -> None:
    store.by_id[node.id] = node
    store.by_seq[node.seq] = node


def _stop_node(
    backend: Any, node: Job, to: str, exit_code: int | None, reason: str | None, status_reason: str
) -> None:
    """The attempt of `node`'s job ended with status `to`: the node stops with it.

    The main node, and nodes that were RUNNING, end as the job does. A node
    still STARTING never ran: it cannot have succeeded, so it ends FAILED
    (RUNNABLE on a retry), without an exit code. A node still RUNNABLE from
    an earlier attempt was not launched in this one and has no attempt open."""
    _cancel_event(backend, node)
    if node.status == RUNNABLE:
        if to == FAILED:
            transition(backend, node, FAILED, status_reason)
        return
    if node.status == STARTING and not _is_main_node(node):
        exit_code = reason = None
        if to == SUCCEEDED:
            to = FAILED
    _close(backend, node.attempts[-1], exit_code, reason, status_reason)
    transition(backend, node, to, None if to == RUNNABLE else status_reason)


# -- retry strategy (spec §2.6) -----------------------------------------------------------


def should_retry(job: Job, attempt: Attempt) -> bool:
    strategy = job.spec.retry_strategy
    if not strategy or len(job.attempts) >= (strategy.get("attempts") or 1):
        return False
    for entry in strategy.get("evaluateOnExit") or ():
        if _entry_matches(entry, attempt):
            return entry["action"].upper() == "RETRY"
    return True


def _entry_matches(entry: dict[str, Any], attempt: Attempt) -> bool:
    targets = (
        ("onStatusReason", attempt.status_reason),
        ("onReason", attempt.reason),
        ("onExitCode", None if attempt.exit_code is None else str(attempt.exit_code)),
    )
    for key, value in targets:
        pattern = entry.get(key)
        if pattern is not None and not retry_pattern(pattern).fullmatch(value or ""):
            return False
    return True


@lru_cache(maxsize=1024)
def retry_pattern(pattern: str) -> re.Pattern[str]:
    """Spec §2.6 [proposed]: `*` matches any run of characters, anything else is literal."""
    return re.compile(".*".join(re.escape(part) for part in pattern.split("*")), re.DOTALL)


# -- ends the test or the caller asks for --------------------------------------------------


def terminate(backend: Any, job: Job, reason: str) -> None:
    """TerminateJob on a STARTING / RUNNING job (spec §2.8): FAILED, not retried."""
    backend.journal.set(job, "is_terminated", True)
    end_attempt(backend, job, exit_code=TERMINATED_EXIT_CODE, reason=None, status_reason=reason, retry=False)


def fail_host(backend: Any, job: Job) -> None:
    """The instance under the attempt is lost; retry rules apply. On a
    multi-node job's node other than its main node only that node ends
    (spec §2.5: a child dying alone changes nothing else); on the main node,
    or the job, the whole attempt does."""
    _running_job(job, "fail_host")
    if job.is_node and not _is_main_node(job):
        _end_node(backend, job, None, None, host_lost(job.parent, job))
        return
    job = multinode_job(job)
    end_attempt(backend, job, exit_code=None, reason=None, status_reason=host_lost(job, job))


def host_lost(job: Job, host: Job) -> str:
    """The statusReason of a lost instance; each node runs on its own
    instance, the main node on its job's."""
    instance = "i-" + derived_hex(host.id, f"instance/{len(job.attempts)}", 17)
    return f"Host EC2 (instance {instance}) terminated."


def complete(backend: Any, job: Job, exit_code: int, reason: str | None) -> None:
    """End a RUNNING attempt now, as if its container exited with `exit_code`.

    On the main node of a multi-node job (or the job itself) the job ends
    as its main node did (spec §2.5); on another node only that node ends,
    and the job runs on."""
    _running_job(job, "complete", RUNNING)
    if job.is_node and not _is_main_node(job):
        _end_node(backend, job, exit_code, reason, ESSENTIAL_EXITED)
        return
    job = multinode_job(job)
    end_attempt(backend, job, exit_code=exit_code, reason=reason, status_reason=ESSENTIAL_EXITED)


def _is_main_node(node: Job) -> bool:
    return node.index == node.spec.node_properties["mainNode"]


def _end_node(backend: Any, node: Job, exit_code: int | None, reason: str | None, status_reason: str) -> None:
    """A non-main node's container exited, or its instance was lost: that
    node ends, nothing else does (spec §2.5). Its capacity stays held until
    the job ends."""
    _cancel_event(backend, node)  # lost while STARTING
    _close(backend, node.attempts[-1], exit_code, reason, status_reason)
    transition(backend, node, SUCCEEDED if exit_code == 0 else FAILED, status_reason)


def _running_job(job: Job, what: str, *statuses: str) -> None:
    allowed = statuses or tuple(ACTIVE)
    if job.status not in allowed:
        raise LocalBatchError(f"{what}({job.id!r}): the job is {job.status}, not {' or '.join(sorted(allowed))}")
