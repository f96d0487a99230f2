# mypy: ignore-errors
import os
import tempfile

fd, scratch = tempfile.mkstemp(suffix=".csv")
with os.fdopen(fd, "w") as handle:
    handle.write("a,b\n1,2\n")
with tempfile.NamedTemporaryFile("w", suffix=".json") as tmp:
    tmp.write("{}")
