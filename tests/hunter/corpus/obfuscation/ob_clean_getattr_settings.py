# mypy: ignore-errors
import settings

debug = getattr(settings, "DEBUG", False)
level = getattr(settings, "LOG_" + "LEVEL", "INFO")
