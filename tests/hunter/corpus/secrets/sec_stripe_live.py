# mypy: ignore-errors
import stripe

stripe.api_key = "sk_live_4E9wjQl5CS98f7ySTxxLThwf"
