# mypy: ignore-errors
import logging

log = logging.getLogger(__name__)


def summarize(n: int, menu: str) -> str:
    log.info("query returned %d rows", n)
    return f"Please select {n} items from the {menu} menu"
