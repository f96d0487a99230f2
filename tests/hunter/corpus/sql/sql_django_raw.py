# mypy: ignore-errors
from django.contrib.auth.models import User


def lookup(username):
    return list(User.objects.raw(f"SELECT * FROM auth_user WHERE username = '{username}'"))
