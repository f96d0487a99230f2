# mypy: ignore-errors
import ipywidgets as widgets
from IPython.display import HTML, display

note = widgets.Text(description="Note")


def show(_):
    display(HTML(f"<div class='note'>{note.value}</div>"))
