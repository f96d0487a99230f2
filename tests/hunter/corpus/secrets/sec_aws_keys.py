# mypy: ignore-errors
import boto3

s3 = boto3.client(
    "s3",
    aws_access_key_id="AKIAC25KDLSXSNJ7A5XZ",
    aws_secret_access_key="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",
)
