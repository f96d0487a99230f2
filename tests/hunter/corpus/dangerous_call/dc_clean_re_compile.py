# mypy: ignore-errors
import re

DATE = re.compile(r"(\d{4})-(\d{2})-(\d{2})")
exec_time_ms = 12.5


def years(lines: list[str]) -> list[int]:
    return [int(m.group(1)) for line in lines if (m := DATE.search(line))]
