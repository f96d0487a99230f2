# mypy: ignore-errors
import ipywidgets as widgets

box = widgets.Textarea(description="Code")


def on_click(_button):
    exec(box.value)


button = widgets.Button(description="Run")
button.on_click(on_click)
