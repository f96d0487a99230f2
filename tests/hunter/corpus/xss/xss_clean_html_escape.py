# mypy: ignore-errors
import html


def row(label: str, value: float) -> str:
    return f"<tr><td>{html.escape(label)}</td><td>{value:.2f}</td></tr>"
