# mypy: ignore-errors
STRIPE_RESTRICTED = "rk_live_GB5CCf1BkJu5gHENWhJNUicj"
