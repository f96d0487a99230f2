# mypy: ignore-errors
import os

import ipywidgets as widgets

src = widgets.Text(description="Input image")


def convert(_):
    os.system(f"convert {src.value} thumbnail.png")


go = widgets.Button(description="Convert")
go.on_click(convert)
