# mypy: ignore-errors
import os
import sys

dataset = sys.argv[1]
os.system("aws s3 sync s3://lab-bucket/{} ./data".format(dataset))
