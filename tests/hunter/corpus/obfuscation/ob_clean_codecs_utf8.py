# mypy: ignore-errors
import codecs


def text_of(raw: bytes) -> str:
    return codecs.decode(raw, "utf-8", errors="replace")
