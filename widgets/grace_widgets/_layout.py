"""A dashboard page: a heading, one refresh bar, and the panels in rows."""

from __future__ import annotations

import html
from collections.abc import Sequence

import ipywidgets as widgets

from grace_widgets._source import WorkspaceView
from grace_widgets._ui import Panel, RefreshBar

__all__ = ["Dashboard"]


class Dashboard(widgets.VBox):  # type: ignore[misc]  # ipywidgets has no type information
    """``rows`` of panels under a title and a :class:`RefreshBar` that refreshes them all.

    A row with several panels lays them side by side (wrapping on narrow screens).
    """

    def __init__(
        self,
        title: str,
        rows: Sequence[Sequence[Panel]],
        *,
        view: WorkspaceView,
        interval: float = 30.0,
    ) -> None:
        self.panels = [panel for row in rows for panel in row]
        self.bar = RefreshBar(self.panels, interval=interval)
        where = (
            f"workspace <code>{html.escape(str(view.home))}</code>"
            if view.exists
            else f"no workspace at <code>{html.escape(str(view.home))}</code> yet "
            "(run <code>grace init</code>): everything below is empty"
        )
        header = widgets.HTML(
            f"<h2 style='margin:0'>Grace · {html.escape(title)}</h2>"
            f"<p style='color:#6b7280;margin:2px 0 8px'>{where}</p>"
        )
        boxes: list[widgets.Widget] = [header, self.bar]
        for row in rows:
            if len(row) == 1:
                boxes.append(row[0])
                continue
            for panel in row:
                panel.layout.flex = "1 1 420px"
            boxes.append(widgets.HBox(list(row), layout=widgets.Layout(flex_flow="row wrap")))
        super().__init__(boxes)
        self.add_class("grace-dashboard")

    def refresh(self) -> None:
        self.bar.refresh()
