# mypy: ignore-errors
import tarfile

with tarfile.open("datasets/mnist.tar.gz") as archive:
    archive.extractall("data", filter="data")
