# mypy: ignore-errors
import builtins

f = getattr(builtins, "\x65\x78\x65\x63")
f("print('hello')")
