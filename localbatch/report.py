"""`lb.report(path)`: one self-contained HTML page of what the engine did.

A Gantt chart of jobs over engine time, one section per job queue (each job
a row, coloured by status: waiting, RUNNABLE, STARTING, RUNNING, and how it
ended) and one per compute environment (each attempt a bar where it ran).
Inline SVG and CSS only — no network, no scripts — so the file opens
anywhere and can be attached to a CI run. Hovering a bar shows its job,
status and times (SVG <title>).

Jobs of fair-share queues (container and SAGEMAKER_TRAINING) and of quota
shares carry a chip in their share's colour, and each such queue gets a
stacked chart of what each share held over time, as its scheduler counts
it: vCPUs of STARTING + RUNNING container jobs, instances of SCHEDULED +
STARTING + RUNNING service jobs. A service job's preempted attempts are
marked on its row where the preemption stopped them (spec §3.5).
"""

from __future__ import annotations

import html
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any

COLOURS = {
    "SUBMITTED": "#c9ced6",
    "PENDING": "#c9ced6",
    "RUNNABLE": "#f2d477",
    "SCHEDULED": "#f6b26b",
    "STARTING": "#f0964a",
    "RUNNING": "#4a8fd9",
}
ENDED = {"SUCCEEDED": "#2e9e5b", "FAILED": "#d64541"}
PREEMPTED = "#7b2cbf"
MAX_ROWS = 400  # per section: a page of 100,000 rows helps nobody
LABEL_W, PLOT_W, ROW_H, AXIS_H = 260, 900, 16, 24
SHARE_PALETTE = (
    "#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b",
    "#e377c2", "#7f7f7f", "#bcbd22", "#17becf", "#393b79", "#ad494a",
)
CHART_H = 140
HOLDING = ("STARTING", "RUNNING")
SERVICE_HOLDING = ("SCHEDULED", "STARTING", "RUNNING")


@dataclass
class Row:
    label: str
    tooltip: str
    bars: list[tuple[int, int, str, str]] = field(default_factory=list)  # (start, end, colour, tooltip)
    end_mark: tuple[int, str] | None = None  # (time, colour) of a final status
    share: str | None = None  # shareIdentifier of a fair-share job, or the name of a job's quota share
    marks: list[tuple[int, str]] = field(default_factory=list)  # (time, tooltip) of each preemption


def _segments(rows: list[dict[str, Any]], now_ms: int) -> dict[str, list[tuple[str, int, int]]]:
    """job id -> [(status, from_ms, to_ms)], from the timeline's transitions."""
    by_job: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for row in rows:
        by_job[row["job_id"]].append(row)
    out: dict[str, list[tuple[str, int, int]]] = {}
    for job_id, moves in by_job.items():
        spans = []
        for move, following in zip(moves, moves[1:] + [None]):
            end = following["time_ms"] if following else now_ms
            spans.append((move["to"], move["time_ms"], end))
        out[job_id] = spans
    return out


def _name_of(arn: str | None) -> str:
    return (arn or "?").rpartition("/")[2]


def _ms(t: int, t0: int) -> str:
    return f"{(t - t0) / 1000:.3f} s"


def collect(lb: Any) -> tuple[dict[str, list[Row]], dict[str, list[Row]], int, int, list[dict[str, Any]]]:
    rows = lb.timeline()
    now = lb.now_ms
    segments = _segments(rows, now)
    names = {r["job_id"]: r["job_name"] for r in rows}
    t0 = min((r["time_ms"] for r in rows), default=now)
    t1 = max(now, t0 + 1)
    queues: dict[str, list[Row]] = defaultdict(list)
    environments: dict[str, list[Row]] = defaultdict(list)
    for backend in lb.backends():
        stores = _stores(backend)
        if not stores:
            continue
        for job_id, spans in segments.items():
            job = _find(stores, job_id)
            if job is None:
                continue
            label = f"{names[job_id]} ({job_id[:8]})"
            share = _share_of(job)
            tooltip = f"{names[job_id]} {job_id}" + (f", share {share}" if share else "")
            row = Row(label, tooltip, share=share)
            for status, start, end in spans:
                if status in COLOURS and end > start:
                    tip = f"{names[job_id]}: {status} {_ms(start, t0)} – {_ms(end, t0)}"
                    row.bars.append((start, end, COLOURS[status], tip))
                elif status in ENDED:
                    row.end_mark = (start, ENDED[status])
            for attempt in getattr(job, "attempts", ()):
                if getattr(attempt, "preempted", False) and attempt.stopped_at is not None:
                    row.marks.append((attempt.stopped_at, f"{names[job_id]} preempted at "
                                      f"{_ms(attempt.stopped_at, t0)}: {attempt.status_reason or ''}"))
            queues[_name_of(job.queue_arn)].append(row)
            for attempt in getattr(job, "attempts", ()):
                start = attempt.started_at
                # Service jobs' attempts run on SageMaker, in no compute environment.
                if start is None or getattr(attempt, "compute_environment", None) is None:
                    continue
                stop = attempt.stopped_at if attempt.stopped_at is not None else now
                ok = attempt.exit_code == 0
                colour = ENDED["SUCCEEDED"] if ok else (ENDED["FAILED"] if attempt.stopped_at else COLOURS["RUNNING"])
                tip = f"{names[job_id]} attempt {attempt.number}: {_ms(start, t0)} – {_ms(stop, t0)}"
                if attempt.exit_code is not None:
                    tip += f", exit code {attempt.exit_code}"
                environments[_name_of(attempt.compute_environment)].append(
                    Row(f"{label} #{attempt.number}", tip, [(start, max(stop, start), colour, tip)], share=share)
                )
    return queues, environments, t0, t1, rows


def _stores(backend: Any) -> list[Any]:
    """The container and service job stores of a backend (service jobs have their own)."""
    return [store for store in (getattr(backend, "jobs", None), getattr(backend, "service_jobs", None))
            if store is not None]


def _find(stores: list[Any], job_id: str) -> Any:
    for store in stores:
        job = store.get(job_id)
        if job is not None:
            return job
    return None


def _share_of(job: Any) -> str | None:
    spec = getattr(job, "spec", None)
    if spec is None:  # a service job: its fair share, or its quota share
        quota_share = getattr(job, "quota_share", None)
        if quota_share is not None:
            return quota_share.rpartition("/")[2]
        return getattr(job, "share_identifier", None)
    return getattr(spec, "share_identifier", None)


def _held_units(job: Any) -> tuple[tuple[str, ...], float, str]:
    """(statuses in which a job holds capacity, what it holds, the unit) as its fair-share scheduler counts."""
    spec = getattr(job, "spec", None)
    if spec is None:  # a service job: instances, from SCHEDULED (spec §3.5)
        return SERVICE_HOLDING, float(job.instances), "instances"
    return HOLDING, float(spec.vcpus), "vCPUs"


def share_colours(identifiers: Any) -> dict[str, str]:
    """A colour per share identifier, by sorted identifier, so reruns colour alike."""
    return {s: SHARE_PALETTE[i % len(SHARE_PALETTE)] for i, s in enumerate(sorted(set(identifiers)))}


def share_usage(lb: Any, units: dict[str, str] | None = None) -> dict[str, dict[str, list[tuple[int, int, float]]]]:
    """queue name -> share -> [(from_ms, to_ms, units)] for every span a job held
    capacity: vCPUs (container jobs), instances (service jobs); `units`, when
    given, receives queue name -> the unit's name."""
    rows = lb.timeline()
    segments = _segments(rows, lb.now_ms)
    out: dict[str, dict[str, list[tuple[int, int, float]]]] = defaultdict(lambda: defaultdict(list))
    for backend in lb.backends():
        stores = _stores(backend)
        if not stores:
            continue
        for job_id, spans in segments.items():
            job = _find(stores, job_id)
            share = None if job is None or getattr(job, "is_node", False) else _share_of(job)
            if share is None:
                continue
            holding, amount, unit = _held_units(job)
            queue = _name_of(job.queue_arn)
            if units is not None:
                units[queue] = unit
            for status, start, end in spans:
                if status in holding and end > start:
                    out[queue][share].append((start, end, amount))
    return out


def _steps(spans: list[tuple[int, int, float]]) -> list[tuple[int, float]]:
    """[(time, units held from then on)] of one share, merged and in time order."""
    changes: dict[int, float] = defaultdict(float)
    for start, end, units in spans:
        changes[start] += units
        changes[end] -= units
    level, out = 0.0, []
    for t in sorted(changes):
        level += changes[t]
        out.append((t, max(level, 0.0)))
    return out


def _share_chart(usage: dict[str, list[tuple[int, int, float]]], colours: dict[str, str], t0: int, t1: int,
                 unit: str = "vCPUs") -> str:
    """Stacked step areas: each share's vCPUs (or instances) over time, shares stacked in identifier order."""
    shares = sorted(usage)
    steps = {s: _steps(usage[s]) for s in shares}
    times = sorted({t for s in shares for t, _ in steps[s]} | {t0, t1})
    level_at: dict[str, list[float]] = {}
    for s in shares:
        levels, i, current = [], 0, 0.0
        for t in times:
            while i < len(steps[s]) and steps[s][i][0] <= t:
                current = steps[s][i][1]
                i += 1
            levels.append(current)
        level_at[s] = levels
    totals = [sum(level_at[s][k] for s in shares) for k in range(len(times))]
    top = max(totals, default=0.0) or 1.0
    height = AXIS_H + CHART_H + 4

    def y(units: float) -> float:
        return AXIS_H + CHART_H - units / top * CHART_H

    parts = [f'<svg width="{LABEL_W + PLOT_W + 40}" height="{height}" xmlns="http://www.w3.org/2000/svg">']
    for i in range(6):
        t = t0 + (t1 - t0) * i // 5
        x = _x(t, t0, t1)
        parts.append(f'<line x1="{x:.1f}" y1="{AXIS_H - 4}" x2="{x:.1f}" y2="{height}" class="grid"/>')
        parts.append(f'<text x="{x:.1f}" y="{AXIS_H - 8}" class="tick">{(t - t0) / 1000:g} s</text>')
    parts.append(f'<text x="4" y="{AXIS_H + 10}" class="label">{top:g} {_unit_label(unit)}</text>')
    parts.append(f'<text x="4" y="{AXIS_H + CHART_H}" class="label">0</text>')
    below = [0.0] * len(times)
    for s in shares:
        above = [below[k] + level_at[s][k] for k in range(len(times))]
        upper, lower = [], []
        for k in range(len(times) - 1):
            x0, x1 = _x(times[k], t0, t1), _x(times[k + 1], t0, t1)
            upper += [(x0, y(above[k])), (x1, y(above[k]))]
            lower += [(x0, y(below[k])), (x1, y(below[k]))]
        points = " ".join(f"{x:.1f},{v:.1f}" for x, v in upper + lower[::-1])
        held = max(level_at[s], default=0.0)
        tip = f"share {s}: up to {held:g} {_unit_label(unit)}"
        parts.append(f'<polygon class="share" data-share="{html.escape(s)}" points="{points}" '
                     f'fill="{colours.get(s, "#888888")}" fill-opacity="0.85"><title>{html.escape(tip)}</title></polygon>')
        below = above
    parts.append("</svg>")
    return "".join(parts)


def _unit_label(unit: str) -> str:
    return "vCPU" if unit == "vCPUs" else unit


def _share_legend(colours: dict[str, str]) -> str:
    return "".join(f'<span class="key"><i style="background:{c}"></i>share {html.escape(s)}</span>'
                   for s, c in colours.items())


def _x(t: int, t0: int, t1: int) -> float:
    return LABEL_W + (t - t0) / (t1 - t0) * PLOT_W


def _svg(rows: list[Row], t0: int, t1: int, colours: dict[str, str] | None = None) -> str:
    shown = rows[:MAX_ROWS]
    height = AXIS_H + ROW_H * len(shown) + 4
    parts = [f'<svg width="{LABEL_W + PLOT_W + 40}" height="{height}" xmlns="http://www.w3.org/2000/svg">']
    for i in range(6):  # axis ticks
        t = t0 + (t1 - t0) * i // 5
        x = _x(t, t0, t1)
        parts.append(f'<line x1="{x:.1f}" y1="{AXIS_H - 4}" x2="{x:.1f}" y2="{height}" class="grid"/>')
        parts.append(f'<text x="{x:.1f}" y="{AXIS_H - 8}" class="tick">{(t - t0) / 1000:g} s</text>')
    for i, row in enumerate(shown):
        y = AXIS_H + i * ROW_H
        parts.append(f'<text x="4" y="{y + ROW_H - 4}" class="label"><title>{html.escape(row.tooltip)}</title>'
                     f"{html.escape(row.label[:40])}</text>")
        if row.share is not None and colours:
            parts.append(f'<rect class="share-chip" data-share="{html.escape(row.share)}" x="{LABEL_W - 12}" '
                         f'y="{y + 3}" width="8" height="{ROW_H - 6}" fill="{colours[row.share]}">'
                         f"<title>share {html.escape(row.share)}</title></rect>")
        for start, end, colour, tip in row.bars:
            x0, x1 = _x(start, t0, t1), _x(end, t0, t1)
            parts.append(f'<rect x="{x0:.1f}" y="{y + 2}" width="{max(x1 - x0, 1.5):.1f}" height="{ROW_H - 4}" '
                         f'fill="{colour}"><title>{html.escape(tip)}</title></rect>')
        for at, tip in row.marks:
            x = _x(at, t0, t1)
            parts.append(f'<path class="preempted" d="M{x - 4:.1f},{y + 1} L{x + 4:.1f},{y + 1} L{x:.1f},{y + 8}" '
                         f'fill="{PREEMPTED}"><title>{html.escape(tip)}</title></path>')
        if row.end_mark:
            x = _x(row.end_mark[0], t0, t1)
            parts.append(f'<rect x="{x - 1.5:.1f}" y="{y + 1}" width="3" height="{ROW_H - 2}" fill="{row.end_mark[1]}"/>')
    parts.append("</svg>")
    if len(rows) > MAX_ROWS:
        parts.append(f'<p class="note">First {MAX_ROWS} of {len(rows)} rows shown.</p>')
    return "".join(parts)


def _legend() -> str:
    items = [(s, c) for s, c in COLOURS.items() if s != "PENDING"] + list(ENDED.items()) + [("preempted", PREEMPTED)]
    return "".join(f'<span class="key"><i style="background:{c}"></i>{html.escape(s)}</span>' for s, c in items)


def render(lb: Any) -> str:
    queues, environments, t0, t1, rows = collect(lb)
    finals: dict[str, int] = defaultdict(int)
    last: dict[str, str] = {}
    for row in rows:
        last[row["job_id"]] = row["to"]
    for status in last.values():
        finals[status] += 1
    summary = ", ".join(f"{s} {n}" for s, n in sorted(finals.items())) or "no jobs"
    body = [f"<h1>localbatch timeline</h1><p>{len(last)} jobs: {html.escape(summary)}. "
            f"Engine time {_ms(t1, t0)} from the first job.</p><p>{_legend()}</p>"]
    colours = share_colours(r.share for rows_ in queues.values() for r in rows_ if r.share is not None)
    if colours:
        body.append(f"<p>{_share_legend(colours)}</p>")
    for title, sections in (("Job queue", queues), ("Compute environment", environments)):
        for name in sorted(sections):
            body.append(f"<h2>{title} {html.escape(name)}</h2>{_svg(sections[name], t0, t1, colours)}")
    units: dict[str, str] = {}
    for name, usage in sorted(share_usage(lb, units).items()):
        unit = units.get(name, "vCPUs")
        body.append(f"<h2>Job queue {html.escape(name)}: {unit} held by each share</h2>"
                    f"<p>{_share_legend({s: colours[s] for s in sorted(usage) if s in colours})}</p>"
                    f"{_share_chart(usage, colours, t0, t1, unit)}")
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>localbatch timeline</title>
<style>
body{{font:14px system-ui,sans-serif;margin:24px;color:#222}} h2{{font-size:15px;margin:24px 0 4px}}
.label{{font:11px monospace;fill:#333}} .tick{{font:10px sans-serif;fill:#777;text-anchor:middle}}
.grid{{stroke:#eee}} .key{{margin-right:14px;white-space:nowrap}}
.key i{{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:-2px}} .note{{color:#777}}
</style></head><body>
{"".join(body)}
</body></html>
"""


def write_report(lb: Any, path: str) -> None:
    with open(path, "w", encoding="utf-8") as f:
        f.write(render(lb))
