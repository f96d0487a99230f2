# mypy: ignore-errors
import os


def whois(domain: str) -> str:
    return os.popen("whois " + domain).read()


print(whois(input("domain: ")))
