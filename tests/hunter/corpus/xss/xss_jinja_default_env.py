# mypy: ignore-errors
import jinja2

env = jinja2.Environment(loader=jinja2.FileSystemLoader("templates"))


def render(comment: str) -> str:
    return env.get_template("comment.html").render(comment=comment)
