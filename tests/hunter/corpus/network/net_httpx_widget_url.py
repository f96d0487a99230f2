# mypy: ignore-errors
import httpx
import ipywidgets as widgets

target = widgets.Text(description="URL")


def fetch(_):
    print(httpx.get(target.value, timeout=10).text[:500])
