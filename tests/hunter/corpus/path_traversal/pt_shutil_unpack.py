# mypy: ignore-errors
import shutil
import sys

shutil.unpack_archive(sys.argv[1], "/srv/incoming")
