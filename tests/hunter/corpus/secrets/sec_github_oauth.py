# mypy: ignore-errors
oauth_token = "gho_7zhQQY5RXgLXj8PKtlGWfyJjJewqzAOvD0OH"
