# mypy: ignore-errors
TOKEN_URL = "https://oauth2.googleapis.com/token"
token_type = "Bearer"
SECRET_NAME = "prod/lims/api-key"
secret_ref = "arn:aws:secretsmanager:eu-west-1:123456789012:secret:prod/lims"
