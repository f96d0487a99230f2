# mypy: ignore-errors
MAPS_KEY = "AIzaeHWKDutAJTAg8SsDcbgKmpAQllD7rm6Mzpd"
url = f"https://maps.googleapis.com/maps/api/geocode/json?address=Oslo&key={MAPS_KEY}"
