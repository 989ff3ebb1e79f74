"""Prints template.yaml translated by the SAM translator (the transform
CloudFormation applies at deploy time) as JSON, offline.

Usage: python translate.py TEMPLATE OUTPUT.json
"""
import json
import sys

from samtranslator.translator.transform import transform
from samtranslator.yaml_helper import yaml_parse


class NoManagedPolicies:
    """keygate's template names no managed policy: a lookup is an error."""

    def load(self):
        raise SystemExit("the template refers to a managed policy, which needs AWS to look up")


template = yaml_parse(open(sys.argv[1]).read())
# The translator wants code in S3, as after `sam package`; cfn-lint does the same.
for resource in template.get("Resources", {}).values():
    if resource.get("Type") == "AWS::Serverless::Function":
        resource["Properties"]["CodeUri"] = "s3://bucket/code.zip"
translated = transform(template, {"AWS::Region": "us-east-1"}, NoManagedPolicies())
with open(sys.argv[2], "w") as out:
    json.dump(translated, out, indent=1)
