"""Charts as PNG bytes, drawn with matplotlib's object API (no pyplot, no global state).

Each function builds its own :class:`~matplotlib.figure.Figure` on an Agg
canvas, so charts can be redrawn from any refresh without touching a
notebook's plotting state; the widgets show the bytes in an
``ipywidgets.Image`` and replace them in place.
"""

from __future__ import annotations

import datetime as dt
import io
from collections.abc import Mapping, Sequence

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, MaxNLocator

from grace_widgets._shape import TimeSeries

__all__ = ["COLORS", "bars", "line", "stacked"]

COLORS = {
    "critical": "#7f1d1d",
    "high": "#dc2626",
    "medium": "#f59e0b",
    "low": "#60a5fa",
    "allow": "#16a34a",
    "require_approval": "#f59e0b",
    "deny": "#dc2626",
}
_OTHER = ("#6b7280", "#a855f7", "#0ea5e9", "#84cc16")
_SIZE = (7.0, 2.8)


def _png(figure: Figure) -> bytes:
    FigureCanvasAgg(figure)
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=100, bbox_inches="tight")
    return buffer.getvalue()


def _label(at: float, width: float) -> str:
    moment = dt.datetime.fromtimestamp(at, tz=dt.UTC)
    if width >= 86_400:
        return moment.strftime("%m-%d")
    if width < 600:
        return moment.strftime("%H:%M:%S")
    return moment.strftime("%m-%d %H:%M")


def stacked(series: TimeSeries, *, title: str, ylabel: str = "count") -> bytes:
    """Stacked bars per time bucket, one colour per key (UTC labels)."""
    figure = Figure(figsize=_SIZE)
    axes = figure.add_subplot()
    positions = list(range(len(series.starts)))
    bottom = [0] * len(positions)
    other = iter(_OTHER * 4)
    for key, counts in series.counts.items():
        if not any(counts):
            continue
        axes.bar(
            positions,
            counts,
            bottom=bottom,
            label=key.replace("_", " "),
            color=COLORS.get(key) or next(other),
        )
        bottom = [b + c for b, c in zip(bottom, counts, strict=True)]
    step = max(1, len(positions) // 8)
    axes.set_xticks(positions[::step])
    axes.set_xticklabels([_label(s, series.width) for s in series.starts[::step]], fontsize=8)
    axes.set_title(title, fontsize=10)
    axes.set_ylabel(ylabel, fontsize=8)
    axes.yaxis.set_major_locator(MaxNLocator(integer=True))
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def bars(pairs: Sequence[tuple[str, int | float]], *, title: str, xlabel: str = "count") -> bytes:
    """Horizontal bars, the first pair on top."""
    figure = Figure(figsize=(_SIZE[0], max(1.6, 0.32 * len(pairs) + 0.8)))
    axes = figure.add_subplot()
    labels = [p[0] for p in pairs][::-1]
    values = [p[1] for p in pairs][::-1]
    axes.barh(labels, values, color="#2563eb")
    if all(isinstance(v, int) for v in values):
        axes.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes.set_title(title, fontsize=10)
    axes.set_xlabel(xlabel, fontsize=8)
    axes.tick_params(labelsize=8)
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)


def line(
    points: Sequence[tuple[float, float]],
    *,
    title: str,
    ylabel: str,
    marks: Mapping[str, Sequence[tuple[float, float]]] | None = None,
) -> bytes:
    """A step line over time (UTC), with optional marked points (e.g. checkpoints)."""
    figure = Figure(figsize=_SIZE)
    axes = figure.add_subplot()
    xs = [t for t, _ in points]
    axes.step(xs, [v for _, v in points], where="post", color="#2563eb", label=ylabel)
    for (name, marked), color in zip((marks or {}).items(), _OTHER, strict=False):
        axes.scatter(
            [t for t, _ in marked],
            [v for _, v in marked],
            color=color,
            zorder=3,
            s=18,
            label=name,
        )
    axes.set_title(title, fontsize=10)
    axes.set_ylabel(ylabel, fontsize=8)
    axes.tick_params(labelsize=8)
    span = (max(xs) - min(xs)) if xs else 0.0
    axes.xaxis.set_major_locator(MaxNLocator(nbins=6))
    axes.xaxis.set_major_formatter(FuncFormatter(lambda x, _pos: _label(x, span)))
    figure.autofmt_xdate()
    axes.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.0, 1.0), frameon=False)
    axes.spines[["top", "right"]].set_visible(False)
    return _png(figure)
