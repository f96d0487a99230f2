# mypy: ignore-errors
import anthropic

client = anthropic.Anthropic(api_key="sk-ant-api03-W1OTshTRkh6tUUeiHCD5DZoMTONqzg641n82NWLZWRqKYGstssFkmUrwzZ46Rq4Kk5QpxkOEmi66sNAQZeFFIYUOKod3GAA")
