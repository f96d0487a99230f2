# mypy: ignore-errors
import random
import string


def new_session_token() -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(random.choice(alphabet) for _ in range(32))
