# mypy: ignore-errors
def read_settings(path):
    with open(path) as handle:
        return eval(handle.read())


settings = read_settings("settings.txt")
