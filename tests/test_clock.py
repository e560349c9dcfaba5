"""Engine time: `lb.advance`, `lb.run_until_idle`, autojump, and how the
clock follows freezegun and time-machine without ever going backwards."""

from __future__ import annotations

import datetime as dt
import time

import boto3
import freezegun
import pytest
import time_machine

import localbatch
from localbatch.clock import Clock
from localbatch.errors import LocalBatchError

UTC = dt.timezone.utc
T0 = dt.datetime(2024, 3, 1, 12, 0, tzinfo=UTC)
T0_MS = int(T0.timestamp() * 1000)


def ms(moment: dt.datetime) -> int:
    return int(moment.timestamp() * 1000)


@pytest.fixture
def frozen():
    with time_machine.travel(T0, tick=False) as traveller:
        yield traveller


@pytest.fixture
def lb(frozen):
    with localbatch.patch() as controller:
        yield controller


def recorder(lb):
    """An action that records (label, engine time of the backend it runs in)."""
    backend = lb.backend()
    seen: list[tuple[str, int]] = []

    def record(label: str) -> None:
        seen.append((label, backend.now_ms))

    return backend, seen, record


# -- advance / run_until_idle ---------------------------------------------------


def test_advance_moves_engine_time(lb):
    assert lb.now_ms == T0_MS
    lb.advance(90)
    assert lb.now_ms == T0_MS + 90_000
    lb.advance(0.25)
    assert lb.now_ms == T0_MS + 90_250
    lb.advance(0)
    assert lb.now_ms == T0_MS + 90_250


def test_advance_runs_due_events_in_time_order_each_at_its_own_time(lb):
    backend, seen, record = recorder(lb)
    backend.schedule_in(30_000, record, "third")
    backend.schedule_in(10_000, record, "first")
    backend.schedule_in(20_000, record, "second-a")
    backend.schedule_in(20_000, record, "second-b")
    backend.schedule_in(120_000, record, "later")
    lb.advance(60)
    assert seen == [
        ("first", T0_MS + 10_000),
        ("second-a", T0_MS + 20_000),
        ("second-b", T0_MS + 20_000),
        ("third", T0_MS + 30_000),
    ]
    assert backend.now_ms == lb.now_ms == T0_MS + 60_000
    lb.advance(60)
    assert seen[-1] == ("later", T0_MS + 120_000)


def test_events_scheduled_by_events_run_in_the_same_advance(lb):
    backend, seen, record = recorder(lb)

    def chain(step: int) -> None:
        record(f"step{step}")
        if step < 3:
            backend.schedule_in(1_000, chain, step + 1)

    backend.schedule_in(1_000, chain, 1)
    lb.advance(10)
    assert seen == [("step1", T0_MS + 1_000), ("step2", T0_MS + 2_000), ("step3", T0_MS + 3_000)]


def test_advance_runs_events_of_every_region(lb):
    east, seen_east, record_east = recorder(lb)
    west = lb.backend("eu-west-1")
    seen_west = []
    west.schedule_in(5_000, lambda: seen_west.append(west.now_ms))
    east.schedule_in(7_000, record_east, "east")
    lb.advance(10)
    assert seen_west == [T0_MS + 5_000]
    assert seen_east == [("east", T0_MS + 7_000)]


def test_negative_advance_is_refused(lb):
    with pytest.raises(LocalBatchError, match="negative"):
        lb.advance(-1)
    with pytest.raises(LocalBatchError, match="backwards"):
        lb.clock.skip_ms(-5)
    assert lb.now_ms == T0_MS


def test_run_until_idle_jumps_from_event_to_event(lb):
    backend, seen, record = recorder(lb)
    backend.schedule_in(3_600_000, record, "an hour")
    backend.schedule_in(10_000, record, "ten seconds")
    cancelled = backend.schedule_in(7_200_000, record, "cancelled")
    backend.events.cancel(cancelled)
    started = time.perf_counter()
    lb.run_until_idle()
    assert time.perf_counter() - started < 1
    assert seen == [("ten seconds", T0_MS + 10_000), ("an hour", T0_MS + 3_600_000)]
    assert lb.now_ms == T0_MS + 3_600_000  # stops at the last event, not at the cancelled one
    lb.run_until_idle()  # nothing left: time stays
    assert lb.now_ms == T0_MS + 3_600_000


def test_run_until_idle_without_events_keeps_time(lb):
    lb.backend()
    lb.run_until_idle()
    assert lb.now_ms == T0_MS


def test_an_api_call_runs_due_events_first(lb, frozen):
    backend, seen, record = recorder(lb)
    backend.schedule_in(1_000, record, "due")
    client = boto3.client("batch", region_name="us-east-1")
    client.list_scheduling_policies()
    assert seen == []  # not due yet
    frozen.shift(5)  # the wall clock moves on, as in a real test run
    client.list_scheduling_policies()
    assert seen == [("due", T0_MS + 1_000)]
    assert backend.now_ms == T0_MS + 5_000


def test_resource_latency_becomes_event_delay():
    with time_machine.travel(T0, tick=False), localbatch.patch(resource_latency=30) as lb:
        backend, seen, record = recorder(lb)
        assert backend.resource_latency_ms == 30_000
        backend.schedule_in(backend.resource_latency_ms, record, "ready")
        lb.advance(29.999)
        assert seen == []
        lb.advance(0.001)
        assert seen == [("ready", T0_MS + 30_000)]


# -- the wall clock ---------------------------------------------------------------


def test_clock_reads_the_wall_clock_at_call_time():
    clock = Clock()
    before = time.time_ns() // 1_000_000
    now = clock.now_ms()
    after = time.time_ns() // 1_000_000
    assert before <= now <= after


def test_engine_time_never_goes_back_when_time_machine_moves_back():
    with localbatch.patch() as lb, time_machine.travel(dt.datetime(2020, 1, 2, tzinfo=UTC), tick=False) as traveller:
        start = lb.now_ms
        assert start == ms(dt.datetime(2020, 1, 2, tzinfo=UTC))
        traveller.move_to(dt.datetime(2020, 1, 1, tzinfo=UTC))
        assert lb.now_ms == start  # clamped
        # advancing while the wall clock is behind counts from the engine
        # time already seen, and the wall clock moves it on from there
        lb.advance(10)
        assert lb.now_ms == start + 10_000
        traveller.shift(dt.timedelta(hours=1))
        assert lb.now_ms == start + 10_000 + 3_600_000


def test_run_until_idle_when_the_wall_clock_is_far_behind_engine_time():
    with localbatch.patch() as lb:
        with freezegun.freeze_time("2999-01-01"):
            future = lb.now_ms
        # back to today: engine time is clamped to the year 2999
        backend, seen, record = recorder(lb)
        backend.schedule_in(60_000, record, "a minute later")
        started = time.perf_counter()
        lb.run_until_idle()
        assert time.perf_counter() - started < 1
        assert seen == [("a minute later", future + 60_000)]
        assert lb.now_ms >= future + 60_000


def test_engine_time_never_goes_back_when_freezegun_moves_back():
    with localbatch.patch() as lb, freezegun.freeze_time("2021-06-01 00:00:10") as frozen:
        start = lb.now_ms
        assert start == ms(dt.datetime(2021, 6, 1, 0, 0, 10, tzinfo=UTC))
        frozen.move_to("2021-06-01 00:00:00")
        assert lb.now_ms == start
        frozen.move_to("2021-06-01 00:00:05")
        assert lb.now_ms == start  # still behind the last reading
        frozen.move_to("2021-06-01 00:00:30")
        assert lb.now_ms == start + 20_000


def test_engine_time_stays_put_when_a_real_clock_follows_a_frozen_future():
    # Leaving a freeze in the future puts the wall clock back to today.
    with localbatch.patch() as lb:
        with freezegun.freeze_time("2999-01-01"):
            future = lb.now_ms
        assert lb.now_ms == future


def test_freezegun_frozen_time_is_engine_time():
    with freezegun.freeze_time("2022-02-02 02:02:02") as frozen, localbatch.patch() as lb:
        t = ms(dt.datetime(2022, 2, 2, 2, 2, 2, tzinfo=UTC))
        assert lb.now_ms == t
        assert lb.now_ms == t  # frozen: no drift
        frozen.tick(dt.timedelta(seconds=90))
        assert lb.now_ms == t + 90_000
        frozen.tick(1.5)
        assert lb.now_ms == t + 91_500
        lb.advance(60)
        assert lb.now_ms == t + 151_500
        frozen.tick(dt.timedelta(minutes=1))
        assert lb.now_ms == t + 211_500


def test_freezegun_tick_true_moves_engine_time_with_real_time():
    with freezegun.freeze_time("2022-02-02", tick=True), localbatch.patch() as lb:
        t = ms(dt.datetime(2022, 2, 2, tzinfo=UTC))
        first = lb.now_ms
        assert t <= first < t + 5_000
        time.sleep(0.02)
        assert lb.now_ms >= first + 20
        assert lb.now_ms < t + 5_000


def test_freezegun_events_fire_when_frozen_time_ticks_past_them():
    with freezegun.freeze_time("2022-02-02") as frozen, localbatch.patch() as lb:
        client = boto3.client("batch", region_name="us-east-1")
        backend, seen, record = recorder(lb)
        backend.schedule_in(60_000, record, "minute")
        frozen.tick(dt.timedelta(seconds=59))
        client.list_scheduling_policies()
        assert seen == []
        frozen.tick(dt.timedelta(seconds=61))
        client.list_scheduling_policies()
        assert seen == [("minute", ms(dt.datetime(2022, 2, 2, 0, 1, tzinfo=UTC)))]


def test_time_machine_travel_tick_false_and_shift():
    with time_machine.travel(dt.datetime(2023, 7, 1, tzinfo=UTC), tick=False) as traveller, localbatch.patch() as lb:
        t = ms(dt.datetime(2023, 7, 1, tzinfo=UTC))
        assert lb.now_ms == t
        traveller.shift(dt.timedelta(hours=1))
        assert lb.now_ms == t + 3_600_000
        lb.advance(1)
        assert lb.now_ms == t + 3_601_000


def test_time_machine_travel_tick_true_moves_with_real_time():
    with time_machine.travel(dt.datetime(2023, 7, 1, tzinfo=UTC), tick=True), localbatch.patch() as lb:
        t = ms(dt.datetime(2023, 7, 1, tzinfo=UTC))
        first = lb.now_ms
        assert t <= first < t + 5_000
        time.sleep(0.02)
        assert lb.now_ms >= first + 20


# -- autojump ---------------------------------------------------------------------


def test_autojump_turns_sleep_into_engine_time():
    real_sleep = time.sleep
    with time_machine.travel(T0, tick=False), localbatch.patch(autojump=True) as lb:
        assert time.sleep is not real_sleep
        backend, seen, record = recorder(lb)
        backend.schedule_in(1_800_000, record, "half an hour")
        started = time.perf_counter()
        time.sleep(3600)
        assert time.perf_counter() - started < 1
        assert lb.now_ms == T0_MS + 3_600_000
        assert seen == [("half an hour", T0_MS + 1_800_000)]
    assert time.sleep is real_sleep


def test_autojump_sleep_of_a_polling_loop():
    with time_machine.travel(T0, tick=False), localbatch.patch(autojump=True) as lb:
        polls = 0
        while lb.now_ms < T0_MS + 600_000:
            polls += 1
            time.sleep(30)
        assert polls == 20


def test_a_patch_without_autojump_leaves_sleep_alone(monkeypatch):
    def my_sleep(seconds: float) -> None:
        raise AssertionError("the test's own sleep")

    monkeypatch.setattr(time, "sleep", my_sleep)
    with localbatch.patch():
        assert time.sleep is my_sleep
    assert time.sleep is my_sleep


def test_autojump_restores_whatever_sleep_was_installed_before(monkeypatch):
    calls = []

    def my_sleep(seconds: float) -> None:
        calls.append(seconds)

    monkeypatch.setattr(time, "sleep", my_sleep)
    with time_machine.travel(T0, tick=False), localbatch.patch(autojump=True) as lb:
        time.sleep(5)
        assert lb.now_ms == T0_MS + 5_000
        with localbatch.patch():  # an inner patch without autojump sleeps as before
            time.sleep(1)
        assert calls == [1]
    assert time.sleep is my_sleep


def test_nested_autojump_patches_restore_sleep_once_the_last_stops():
    real_sleep = time.sleep
    outer = localbatch.patch(autojump=True)
    inner = localbatch.patch(autojump=True)
    outer.start()
    inner.start()
    jumping = time.sleep
    assert jumping is not real_sleep
    inner.stop()
    assert time.sleep is jumping
    outer.stop()
    assert time.sleep is real_sleep


# -- resource timestamps -------------------------------------------------------------


def created_at(client, name: str) -> int:
    client.create_consumable_resource(consumableResourceName=name, totalQuantity=1)
    return client.describe_consumable_resource(consumableResource=name)["createdAt"]


def test_created_at_is_the_frozen_time_under_freezegun():
    with freezegun.freeze_time("2022-02-02 02:02:02") as frozen, localbatch.patch():
        t = ms(dt.datetime(2022, 2, 2, 2, 2, 2, tzinfo=UTC))
        client = boto3.client("batch", region_name="us-east-1")
        assert created_at(client, "first") == t
        frozen.tick(dt.timedelta(minutes=5))
        assert created_at(client, "second") == t + 300_000


def test_created_at_is_the_travelled_time_under_time_machine():
    with time_machine.travel(T0, tick=False) as traveller, localbatch.patch() as lb:
        client = boto3.client("batch", region_name="us-east-1")
        assert created_at(client, "first") == T0_MS
        traveller.shift(dt.timedelta(seconds=42))
        assert created_at(client, "second") == T0_MS + 42_000
        lb.advance(3600)
        assert created_at(client, "third") == T0_MS + 42_000 + 3_600_000


def test_re_entering_from_inside_an_event_is_refused_loudly():
    with time_machine.travel(T0, tick=False), localbatch.patch(autojump=True) as lb:
        backend, _, record = recorder(lb)

        def sleeps() -> None:
            record("before sleep")
            time.sleep(10)  # autojump: would advance engine time from inside an event

        entry = backend.schedule_in(1_000, sleeps)
        with pytest.raises(LocalBatchError, match="re-entered"):
            lb.advance(5)
        backend.events.cancel(entry)
        lb.advance(5)  # the engine is usable again
        assert lb.now_ms == T0_MS + 10_000
        client = boto3.client("batch", region_name="us-east-1")

        def calls_batch() -> None:
            client.list_scheduling_policies()

        backend.schedule_in(0, calls_batch)
        with pytest.raises(LocalBatchError, match="re-entered"):
            client.list_scheduling_policies()


# -- autojump: code that times itself sees the skipped time ---------------------


def test_autojump_time_and_monotonic_include_skipped_time():
    with time_machine.travel(1_800_000_000, tick=False), localbatch.patch(autojump=True) as lb:
        wall0, mono0, engine0 = time.time(), time.monotonic(), lb.now_ms
        time.sleep(3600)
        assert lb.now_ms - engine0 == 3_600_000
        assert time.time() - wall0 == pytest.approx(3600)
        assert time.monotonic() - mono0 == pytest.approx(3600)


def test_autojump_deadline_loop_ends_on_a_frozen_clock():
    # A waiter's `while time.time() < deadline: sleep(5)` would spin for ever
    # if sleeps moved engine time but not time.time().
    with time_machine.travel(1_800_000_000, tick=False), localbatch.patch(autojump=True) as lb:
        start = lb.now_ms
        deadline = time.time() + 60
        polls = 0
        while time.time() < deadline:
            time.sleep(5)
            polls += 1
        assert polls == 12
        assert lb.now_ms - start == 60_000


def test_time_functions_restored_and_untouched_without_autojump():
    before = (time.sleep, time.time, time.monotonic)
    with localbatch.patch():
        assert (time.sleep, time.time, time.monotonic) == before
    with localbatch.patch(autojump=True):
        assert time.time is not before[1]
    assert (time.sleep, time.time, time.monotonic) == before
