# mypy: ignore-errors
from pathlib import Path

from werkzeug.utils import secure_filename

UPLOADS = Path("/srv/uploads")


def store(upload) -> Path:
    target = UPLOADS / secure_filename(upload.filename)
    upload.save(target)
    return target
