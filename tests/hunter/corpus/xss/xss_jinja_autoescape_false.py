# mypy: ignore-errors
from jinja2 import Environment, FileSystemLoader

env = Environment(loader=FileSystemLoader("templates"), autoescape=False)
page = env.get_template("report.html")
