# mypy: ignore-errors
GUIDE = "Use subprocess.run(cmd, shell=True) only with constant commands."


def system_summary(info: dict[str, str]) -> str:
    return ", ".join(f"{k}={v}" for k, v in sorted(info.items()))
