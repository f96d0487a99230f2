"""The pieces every dashboard widget is made of: a panel that refreshes in place,
an HTML table, a browser-side timer and the refresh bar that drives them."""

from __future__ import annotations

import abc
import datetime as dt
import html
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import anywidget
import ipywidgets as widgets
import traitlets

from grace_kernel.errors import GraceError
from grace_widgets._source import WorkspaceView

__all__ = ["Panel", "RefreshBar", "Ticker", "table", "utc"]

_TABLE_STYLE = (
    "<style>.grace-table{border-collapse:collapse;font-size:12px;width:100%}"
    ".grace-table th,.grace-table td{border-bottom:1px solid #e5e7eb;padding:3px 8px;"
    "text-align:left;vertical-align:top}.grace-table th{background:#f3f4f6}"
    ".grace-sev-critical,.grace-sev-high,.grace-bad{color:#b91c1c;font-weight:600}"
    ".grace-sev-medium{color:#b45309}.grace-ok{color:#15803d;font-weight:600}</style>"
)


def utc(at: float | None) -> str:
    """Seconds since the epoch as ``YYYY-MM-DD HH:MM:SS`` UTC (``-`` for none)."""
    if at is None:
        return "-"
    return dt.datetime.fromtimestamp(at, tz=dt.UTC).strftime("%Y-%m-%d %H:%M:%S")


def table(
    columns: Sequence[str],
    rows: Iterable[Sequence[Any]],
    *,
    classes: Callable[[int, Any], str | None] | None = None,
) -> str:
    """An HTML table; every cell is escaped.  ``classes(column, value)`` may style a cell."""
    head = "".join(f"<th>{html.escape(c)}</th>" for c in columns)
    body = []
    for row in rows:
        cells = []
        for i, value in enumerate(row):
            css = classes(i, value) if classes else None
            attr = f' class="{html.escape(css)}"' if css else ""
            cells.append(f"<td{attr}>{html.escape(str(value))}</td>")
        body.append("<tr>" + "".join(cells) + "</tr>")
    return (
        f'{_TABLE_STYLE}<table class="grace-table"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table>"
    )


class _AbstractWidget(type(widgets.VBox), abc.ABCMeta):  # type: ignore[misc]
    """ipywidgets' metaclass with ABC's: a panel without build/update cannot be made."""


class Panel(widgets.VBox, metaclass=_AbstractWidget):  # type: ignore[misc]  # untyped ipywidgets
    """A titled box that reads the workspace and redraws its children in place.

    Subclasses implement :meth:`update`; :meth:`refresh` calls it and turns a
    Grace error (a damaged or locked database) into a message in the panel,
    so one broken reader never takes the dashboard down.  ``empty`` is the
    text shown when there is nothing to show yet.
    """

    title = "Panel"
    empty = "Nothing recorded yet."

    def __init__(self, view: WorkspaceView, *, title: str | None = None) -> None:
        self.view = view
        self.title = title or self.title
        self.heading = widgets.HTML(f"<h3 style='margin:4px 0'>{html.escape(self.title)}</h3>")
        self.message = widgets.HTML()
        self.body = self.build()
        super().__init__([self.heading, self.message, self.body])
        self.add_class("grace-panel")
        self.refreshed_at: float | None = None
        self.refresh()

    @abc.abstractmethod
    def build(self) -> widgets.Widget:
        """The widget(s) :meth:`update` fills; built once, changed in place."""

    @abc.abstractmethod
    def update(self) -> bool:
        """Read and redraw; False when there is nothing to show (the empty state)."""

    def refresh(self) -> None:
        try:
            shown = self.update()
        except GraceError as exc:
            self._say(f"Cannot read the workspace: {exc.message}", error=True)
            self.body.layout.display = "none"
            return
        self.refreshed_at = time.time()
        if shown:
            self.message.value = ""
            self.body.layout.display = None
        else:
            self._say(self.empty)
            self.body.layout.display = "none"

    def _say(self, text: str, *, error: bool = False) -> None:
        color = "#b91c1c" if error else "#6b7280"
        self.message.value = (
            f"<p class='grace-empty' style='color:{color};margin:2px 0'>{html.escape(text)}</p>"
        )


class PlotPanel(Panel):
    """A panel whose body is one chart (PNG bytes in an ``ipywidgets.Image``)."""

    def build(self) -> widgets.Widget:
        return widgets.Image(format="png", layout=widgets.Layout(max_width="720px"))

    def show(self, png: bytes) -> None:
        if self.png != png:
            self.body.value = png

    @property
    def png(self) -> bytes:
        """The chart shown now (empty before the first one)."""
        return bytes(self.body.value)


class TablePanel(Panel):
    def build(self) -> widgets.Widget:
        return widgets.HTML()

    def show(self, markup: str) -> None:
        self.body.value = markup


class Ticker(anywidget.AnyWidget):
    """A timer that runs in the browser and sends ``{"type": "tick"}`` every ``interval`` s.

    The browser drives it, so the kernel needs no thread or event-loop timer,
    and it stops by itself when the page closes (then the kernel goes idle
    and Voila's culler can reclaim it).  ``interval`` 0 pauses it.
    """

    _esm = """
    function render({ model, el }) {
      let timer = null;
      const start = () => {
        clearInterval(timer);
        const seconds = model.get("interval");
        if (seconds > 0) {
          timer = setInterval(() => model.send({ type: "tick" }), seconds * 1000);
        }
      };
      start();
      model.on("change:interval", start);
      el.classList.add("grace-ticker");
      return () => {
        clearInterval(timer);
        model.off("change:interval", start);
      };
    }
    export default { render };
    """
    interval = traitlets.Float(30.0, min=0.0).tag(sync=True)

    def __init__(self, on_tick: Callable[[], None], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self._on_tick = on_tick
        self.on_msg(self._message)

    def _message(self, _widget: object, content: Any, _buffers: object) -> None:
        if isinstance(content, dict) and content.get("type") == "tick":
            self._on_tick()


class RefreshBar(widgets.HBox):  # type: ignore[misc]  # ipywidgets has no type information
    """A "Refresh" button, an auto-refresh interval and the time of the last refresh,
    for a group of panels.  ``interval`` seconds (0: only by hand)."""

    def __init__(self, panels: Sequence[Panel], *, interval: float = 30.0) -> None:
        self.panels = list(panels)
        self.button = widgets.Button(
            description="Refresh", icon="refresh", tooltip="Read the workspace again"
        )
        self.button.on_click(lambda _b: self.refresh())
        self.auto = widgets.Dropdown(
            options=[
                ("auto: off", 0.0),
                ("every 10 s", 10.0),
                ("every 30 s", 30.0),
                ("every 2 min", 120.0),
            ],
            value=interval if interval in (0.0, 10.0, 30.0, 120.0) else 30.0,
            layout=widgets.Layout(width="130px"),
        )
        self.ticker = Ticker(self.refresh, interval=self.auto.value)
        self.auto.observe(self._interval, names="value")
        self.stamp = widgets.HTML()
        self.refreshes = 0
        super().__init__([self.button, self.auto, self.stamp, self.ticker])
        self._stamp()

    def _interval(self, change: dict[str, Any]) -> None:
        self.ticker.interval = float(change["new"])

    def refresh(self) -> None:
        for panel in self.panels:
            panel.refresh()
        self.refreshes += 1
        self._stamp()

    def _stamp(self) -> None:
        self.stamp.value = (
            f"<span class='grace-stamp' style='color:#6b7280;font-size:12px'>"
            f"updated {utc(time.time())} UTC</span>"
        )
