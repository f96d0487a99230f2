# mypy: ignore-errors
from lxml import etree


def parse_feed(payload: bytes):
    return etree.fromstring(payload)
