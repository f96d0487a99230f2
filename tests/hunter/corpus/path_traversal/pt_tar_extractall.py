# mypy: ignore-errors
import sys
import tarfile

with tarfile.open(sys.argv[1]) as archive:
    archive.extractall("/srv/datasets")
