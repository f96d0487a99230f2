# mypy: ignore-errors
from mako.template import Template


def render(body: str, user: str) -> str:
    return Template(body).render(user=user)
