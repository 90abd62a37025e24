"""The usage page's charts, as pure functions: a history thinned to a few dozen points, drawn as inline SVG on the
server (no script: the CSP forbids it). Each chart is an image with its title and a description saying the range;
the page puts the same figures in a table beside it (the accessible alternative)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence

from markupsafe import Markup, escape

from govcloud_platform.state.usage_samples import MEASURES, Sample, iso, merge, parse

MAX_POINTS = 48
WIDTH, HEIGHT, PAD = 560, 140, 4


def thin(samples: Sequence[Sample], max_points: int = MAX_POINTS) -> list[Sample]:
    """At most `max_points` rows spread over the samples' time span: the samples of each equal slice of it merged
    (means and peaks, as the history's own merging)."""
    if len(samples) <= max_points:
        return list(samples)
    first, last = parse(samples[0].at), parse(samples[-1].at)
    span = max((last - first).total_seconds(), 1.0)
    slices: dict[int, list[Sample]] = {}
    for s in samples:
        index = min(int((parse(s.at) - first).total_seconds() / span * max_points), max_points - 1)
        slices.setdefault(index, []).append(s)
    return [merge(group, group[-1].at) for _, group in sorted(slices.items())]


def points(samples: Sequence[Sample], measure: str) -> list[tuple[float, float]]:
    """The polyline's points (x, y in the SVG's units; y grows down) of one measure over time."""
    assert measure in MEASURES
    if not samples:
        return []
    times = [parse(s.at).timestamp() for s in samples]
    values = [float(getattr(s, measure)) for s in samples]
    t0, span = times[0], max(times[-1] - times[0], 1.0)
    top = max(values) or 1.0
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    return [(round(PAD + (t - t0) / span * inner_w, 1), round(PAD + inner_h - v / top * inner_h, 1))
            for t, v in zip(times, values, strict=True)]


def svg(samples: Sequence[Sample], measure: str, ident: str, title: str, desc: str) -> Markup:
    """One measure's line chart: `role="img"`, labelled by its title and described by its description."""
    found = points(samples, measure)
    line = " ".join(f"{x},{y}" for x, y in found)
    dots = "".join(f'<circle cx="{x}" cy="{y}" r="2"/>' for x, y in found[-1:])
    return Markup(  # noqa: S704 - the title and description are escaped; the rest are our numbers and ids
        f'<svg class="chart" viewBox="0 0 {WIDTH} {HEIGHT}" role="img" aria-labelledby="{ident}-t {ident}-d" '
        f'xmlns="http://www.w3.org/2000/svg"><title id="{ident}-t">{escape(title)}</title>'
        f'<desc id="{ident}-d">{escape(desc)}</desc>'
        f'<rect class="frame" x="0.5" y="0.5" width="{WIDTH - 1}" height="{HEIGHT - 1}"/>'
        f'<polyline class="line" points="{line}"/>{dots}</svg>')


def window(days: int, now: dt.datetime) -> tuple[str, str]:
    return iso(now - dt.timedelta(days=days)), iso(now)
