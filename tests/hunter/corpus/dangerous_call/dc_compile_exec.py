# mypy: ignore-errors
import sys
from pathlib import Path

source_text = Path(sys.argv[1]).read_text()
program = compile(source_text, "<plugin>", "exec")
exec(program, {"__name__": "plugin"})
