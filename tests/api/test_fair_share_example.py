"""examples/fair_share.py tells the story its docstring says: a burst, then
decay letting the other teams catch up, then the split the weights ask for."""

from __future__ import annotations

import importlib.util
from pathlib import Path

import pytest
import time_machine

import localbatch
from tests.api.test_jobs import T0

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "fair_share.py"


def load_example():
    spec = importlib.util.spec_from_file_location("fair_share_example", EXAMPLE)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_burst_then_catch_up_then_the_weights(capsys, monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    example = load_example()
    with time_machine.travel(T0 / 1000, tick=False), localbatch.patch() as lb:
        lb.on_job("*", duration=4 * example.MINUTE)
        rows = example.main(lb)
    printed = capsys.readouterr().out
    assert "analytics" in printed and "research*" in printed
    shares = [tuple(round(row[team], 2) for team in example.TEAMS) for row in rows]
    assert shares[0] == shares[1] == (1.0, 0.0, 0.0)  # analytics' burst has the queue to itself
    # Once the others arrive, analytics' recent usage sends them first: it drops well below its 25 %.
    assert shares[3][0] < 0.15 and shares[3][1] > 0.5
    # Decayed, the split is the weights': ml (0.5) twice analytics (1.0), the research* groups (2.0) half each.
    assert shares[-1] == pytest.approx((0.25, 0.5, 0.25), abs=0.01)
    assert shares[-2] == pytest.approx((0.25, 0.5, 0.25), abs=0.01)
