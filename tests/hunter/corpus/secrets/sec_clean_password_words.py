# mypy: ignore-errors
PASSWORD_FIELD = "password"
password_prompt = "Enter password: "
PASSWORD_MIN_LENGTH = 12


def check(password: str) -> bool:
    return len(password) >= PASSWORD_MIN_LENGTH
