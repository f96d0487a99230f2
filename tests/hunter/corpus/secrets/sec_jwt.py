# mypy: ignore-errors
import requests

TOKEN = "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJzdWIiOiJzdmMtcGlwZWxpbmUiLCJyb2xlIjoiYWRtaW4iLCJpYXQiOjE3MTgwMDAwMDAsImV4cCI6MTc0OTUzNjAwMH0.hjEvvbrYJLmuNXGlmL3reEu2FEmkYrakhS-PmhIRMbS"
requests.get("https://lims.lab.internal/api/samples", headers={"Authorization": f"Bearer {TOKEN}"}, timeout=5)
