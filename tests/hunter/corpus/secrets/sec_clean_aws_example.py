# mypy: ignore-errors
"""Configure boto3.

The AWS documentation uses these example values:
    aws_access_key_id = AKIAIOSFODNN7EXAMPLE
    aws_secret_access_key = wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY
Put your real keys in ~/.aws/credentials, never in code.
"""

import boto3

s3 = boto3.client("s3")
