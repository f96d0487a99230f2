# mypy: ignore-errors
import tempfile

scratch = tempfile.mktemp(suffix=".csv")
with open(scratch, "w") as handle:
    handle.write("a,b\n1,2\n")
