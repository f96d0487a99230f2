# mypy: ignore-errors
from twilio.rest import Client

client = Client("SK522b4398848ceba8a029915f6f9411b4", "8aebcc0e255c3597a1175fc26db57a79", "AC642835fd1a8b0d5788a31e48eb4aa3be")
