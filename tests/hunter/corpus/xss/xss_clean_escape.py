# mypy: ignore-errors
from markupsafe import Markup, escape


def badge(name: str) -> Markup:
    return Markup("<span class='badge'>{}</span>").format(name)


def cell(value: str) -> str:
    return f"<td>{escape(value)}</td>"
