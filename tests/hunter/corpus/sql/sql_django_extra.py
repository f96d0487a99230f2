# mypy: ignore-errors
from myapp.models import Sample


def by_owner(owner):
    return Sample.objects.extra(where=["owner = '%s'" % owner])
