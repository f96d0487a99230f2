# mypy: ignore-errors
"""Collect run metrics.

Results are posted by the CI job, not by this module; see
https://ci.example.org/docs/metrics for where they end up.
"""


def mean(values: list[float]) -> float:
    return sum(values) / len(values)
