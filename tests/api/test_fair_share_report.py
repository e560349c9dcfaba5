"""The HTML report of a fair-share run: jobs carry their share's colour and
each fair-share queue gets a chart of the vCPUs each share held over time."""

from __future__ import annotations

import re

import boto3
import pytest
import time_machine

import localbatch
from localbatch.report import SHARE_PALETTE, render, share_colours, share_usage
from tests.api.test_fair_share import fair_queue, held, submit
from tests.api.test_jobs import T0


@pytest.fixture
def fair_run():
    with time_machine.travel(T0 / 1000, tick=False), localbatch.patch() as lb:
        batch = boto3.client("batch", region_name="us-east-1")
        fair_queue(batch, max_vcpus=6)
        lb.on_job("*", duration=10)
        with held(batch):
            for i in range(6):
                submit(batch, f"a{i}")
                submit(batch, f"b{i}")
        lb.run_until_idle()
        yield lb, render(lb)


def test_share_colours_are_stable_and_distinct():
    colours = share_colours(["b", "a", "research1", "a"])
    assert colours == {"a": SHARE_PALETTE[0], "b": SHARE_PALETTE[1], "research1": SHARE_PALETTE[2]}
    assert len(set(share_colours(f"s{i:02d}" for i in range(12)).values())) == 12


def test_every_fair_share_job_has_a_chip_in_its_share_colour(fair_run):
    _, page = fair_run
    colours = {"a": SHARE_PALETTE[0], "b": SHARE_PALETTE[1]}
    chips = re.findall(r'<rect class="share-chip" data-share="(\w+)"[^>]*fill="(#[0-9a-f]{6})"', page)
    # 12 jobs in the queue section, 12 attempts in the compute environment section.
    assert len(chips) == 24
    assert all(colours[share] == colour for share, colour in chips)
    assert sum(share == "b" for share, _ in chips) == 12
    assert f'<i style="background:{colours["a"]}"></i>share a</span>' in page


def test_capacity_by_share_is_plotted(fair_run):
    lb, page = fair_run
    assert "<h2>Job queue q: vCPUs held by each share</h2>" in page
    polygons = re.findall(r'<polygon class="share" data-share="(\w+)" points="([^"]+)" fill="(#[0-9a-f]{6})"', page)
    assert [(share, colour) for share, _, colour in polygons] == [("a", SHARE_PALETTE[0]), ("b", SHARE_PALETTE[1])]
    assert "<title>share a: up to 4 vCPU</title>" in page  # a got 2, then 4 once b ran out
    assert "<title>share b: up to 4 vCPU</title>" in page
    # The spans behind the chart: 1 vCPU per job while it held capacity, b twice a's at first (weight 0.5).
    usage = share_usage(lb)["q"]
    assert sorted(usage) == ["a", "b"]
    assert sum(end - start for start, end, _ in usage["a"]) == sum(end - start for start, end, _ in usage["b"])
    first = [span for span in usage["b"] if span[0] == T0]
    assert len(first) == 4 and all(span == (T0, T0 + 10_000, 1.0) for span in first)
    assert len([span for span in usage["a"] if span[0] == T0]) == 2


def test_stacked_bands_are_the_shares_levels(fair_run):
    _, page = fair_run
    polygons = dict(re.findall(r'<polygon class="share" data-share="(\w+)" points="([^"]+)"', page))
    chart_top, chart_height = 24, 140  # AXIS_H, CHART_H: 6 vCPU at the top

    def band(share: str) -> float:
        # the first segment of the band: from y(lower) up to y(upper), in vCPU
        points = [tuple(map(float, p.split(","))) for p in polygons[share].split()]
        upper_y, lower_y = points[0][1], points[-1][1]
        return (lower_y - upper_y) / chart_height * 6

    assert band("a") == pytest.approx(2.0, abs=0.05)  # t=0: a holds 2, b holds 4 above it
    assert band("b") == pytest.approx(4.0, abs=0.05)
    assert chart_top + chart_height == 164


def test_fifo_runs_have_no_share_section():
    with time_machine.travel(T0 / 1000, tick=False), localbatch.patch() as lb:
        from tests.api.test_jobs import environment

        batch = boto3.client("batch", region_name="us-east-1")
        environment(batch)
        batch.submit_job(jobName="x", jobQueue="q", jobDefinition="jd")
        page = render(lb)
    assert "held by each share" not in page and "share-chip" not in page
