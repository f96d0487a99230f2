# mypy: ignore-errors
import requests

API = "https://api.openalex.org"


def work(doi: str) -> dict:
    return requests.get(API + "/works/doi:" + doi, timeout=10).json()
