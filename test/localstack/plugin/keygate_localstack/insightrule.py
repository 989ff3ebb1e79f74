"""AWS::CloudWatch::InsightRule for LocalStack's CloudFormation, and the
CloudWatch API for Contributor Insights rules (community 2026.3.0 has
neither).

LocalStack's CloudWatch provider (v2, the default) answers PutInsightRule,
DescribeInsightRules and DeleteInsightRules with "not implemented". moto,
which LocalStack bundles and its former CloudWatch provider (v1) fell back
to, keeps insight rules: patch_insight_rules gives the v2 provider those
three operations on moto's CloudWatch backend for the caller's account and
region. The resource provider then calls them through the API, as for
AWS, so the deploy test reads a rule back with DescribeInsightRules. Like
moto, LocalStack never evaluates a rule: the rule's syntax and what it
ranks are checked by the template tests (samcheck, test/internal/insights).
Ref is the rule's ARN (the primary identifier of AWS's schema).
"""
from __future__ import annotations

import logging
from pathlib import Path
from typing import TypedDict

import localstack.services.cloudformation.provider_utils as util
from localstack.services.cloudformation.resource_provider import (
    CloudFormationResourceProviderPlugin,
    OperationStatus,
    ProgressEvent,
    ResourceProvider,
    ResourceRequest,
)

LOG = logging.getLogger(__name__)


class CloudWatchInsightRuleProperties(TypedDict):
    Arn: str | None
    RuleName: str | None
    RuleState: str | None
    RuleBody: str | None
    ApplyOnTransformedLogs: bool | None
    Tags: list[dict] | None


def _put(request: ResourceRequest[CloudWatchInsightRuleProperties], model) -> None:
    params = {"RuleName": model["RuleName"], "RuleDefinition": model["RuleBody"], "RuleState": model["RuleState"]}
    if model.get("Tags"):
        params["Tags"] = model["Tags"]
    request.aws_client_factory.cloudwatch.put_insight_rule(**params)


class CloudWatchInsightRuleProvider(ResourceProvider[CloudWatchInsightRuleProperties]):
    TYPE = "AWS::CloudWatch::InsightRule"
    SCHEMA = util.get_schema_path(Path(__file__))

    def create(
        self, request: ResourceRequest[CloudWatchInsightRuleProperties]
    ) -> ProgressEvent[CloudWatchInsightRuleProperties]:
        model = request.desired_state
        _put(request, model)
        model["Arn"] = f"arn:aws:cloudwatch:{request.region_name}:{request.account_id}:insight-rule/{model['RuleName']}"
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model, custom_context=request.custom_context)

    def read(
        self, request: ResourceRequest[CloudWatchInsightRuleProperties]
    ) -> ProgressEvent[CloudWatchInsightRuleProperties]:
        model = request.desired_state
        rules = request.aws_client_factory.cloudwatch.describe_insight_rules()["InsightRules"]
        rule = next(r for r in rules if r["Name"] == model["RuleName"])
        model["RuleBody"], model["RuleState"] = rule["Definition"], rule["State"]
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model)

    def update(
        self, request: ResourceRequest[CloudWatchInsightRuleProperties]
    ) -> ProgressEvent[CloudWatchInsightRuleProperties]:
        # RuleName is create-only: PutInsightRule on the same name replaces
        # the body and the state, as in AWS.
        model = request.desired_state
        before = request.previous_state or {}
        model["RuleName"], model["Arn"] = before.get("RuleName", model.get("RuleName")), before.get("Arn")
        _put(request, model)
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model, custom_context=request.custom_context)

    def delete(
        self, request: ResourceRequest[CloudWatchInsightRuleProperties]
    ) -> ProgressEvent[CloudWatchInsightRuleProperties]:
        model = request.desired_state
        request.aws_client_factory.cloudwatch.delete_insight_rules(RuleNames=[model["RuleName"]])
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model, custom_context=request.custom_context)


class CloudWatchInsightRuleProviderPlugin(CloudFormationResourceProviderPlugin):
    name = "AWS::CloudWatch::InsightRule"

    def __init__(self):
        self.factory: type[ResourceProvider] | None = None

    def load(self):
        self.factory = CloudWatchInsightRuleProvider


def patch_insight_rules():
    """Gives LocalStack's CloudWatch provider PutInsightRule,
    DescribeInsightRules and DeleteInsightRules on moto's backend. Called at
    start-up, before the provider is made: its dispatch table takes the
    class's methods then."""
    from moto.cloudwatch.models import cloudwatch_backends

    from localstack.services.cloudwatch.provider_v2 import CloudwatchProvider

    if getattr(CloudwatchProvider, "_keygate_insight_rules", False):
        return

    def backend(context):
        return cloudwatch_backends[context.account_id][context.region]

    def put_insight_rule(self, context, rule_name, rule_definition, rule_state=None, tags=None, **kwargs):
        backend(context).put_insight_rule(name=rule_name, state=rule_state or "ENABLED", definition=rule_definition, tags=tags)
        return {}

    def describe_insight_rules(self, context, next_token=None, max_results=None, **kwargs):
        rules = [
            {"Name": r.name, "State": r.state, "Schema": r.schema, "Definition": r.definition, "ManagedRule": r.managed_rule}
            for r in backend(context).insight_rules.values()
        ]
        return {"InsightRules": rules}

    def delete_insight_rules(self, context, rule_names, **kwargs):
        return {"Failures": backend(context).delete_insight_rules(rule_names=rule_names)}

    CloudwatchProvider.put_insight_rule = put_insight_rule
    CloudwatchProvider.describe_insight_rules = describe_insight_rules
    CloudwatchProvider.delete_insight_rules = delete_insight_rules
    CloudwatchProvider._keygate_insight_rules = True
    LOG.info("keygate-localstack: CloudWatch: PutInsightRule, DescribeInsightRules, DeleteInsightRules on moto's backend")
