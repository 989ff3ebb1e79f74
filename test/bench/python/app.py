"""The seed (test/bench/flask/app.py) as a Lambda function in Python, the
way most people would port it: boto3 reads the key from Secrets Manager
once, at import (the cold start), and the handler answers API Gateway REST
events: GET / with the right x-api-key gets 200 {"message":"OK: Authorized"},
anything else 401 {"message":"ERROR: Unauthorized"}. A row of `make bench`'s
cold-start model, run under awslambdaric (requirements.txt beside this file).
"""

import hmac
import json
import os

import boto3

_KEY = boto3.client("secretsmanager").get_secret_value(
    SecretId=os.environ["API_KEY_SECRET_ID"])["SecretString"].encode()


def _answer(status, message):
    return {"statusCode": status, "headers": {"Content-Type": "application/json"},
            "body": json.dumps({"message": message})}


def handler(event, context):
    given = ""
    for name, value in (event.get("headers") or {}).items():
        if name.lower() == "x-api-key":
            given = value or ""
    # Constant-time, like keygate and the seed.
    if event.get("httpMethod") == "GET" and event.get("path") == "/" and \
            hmac.compare_digest(given.encode(), _KEY):
        return _answer(200, "OK: Authorized")
    return _answer(401, "ERROR: Unauthorized")
