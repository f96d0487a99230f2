# mypy: ignore-errors
HELP = """
Never call eval() or exec() on text that came from a user; use
ast.literal_eval for literals and json.loads for data.
"""


def evaluation_report(scores: list[float]) -> str:
    return f"mean score {sum(scores) / len(scores):.3f}"
