"""AWS::CloudWatch::Dashboard for LocalStack's CloudFormation (community
2026.3.0 has the CloudWatch API for dashboards, not the resource).

Create, read, update and delete call LocalStack's own CloudWatch
(PutDashboard, GetDashboard, DeleteDashboards), so what the stack holds is a
real dashboard that the deploy test reads back with GetDashboard. Ref is the
dashboard's name, as in AWS.
"""
from __future__ import annotations

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


class CloudWatchDashboardProperties(TypedDict):
    DashboardName: str | None
    DashboardBody: str | None


class CloudWatchDashboardProvider(ResourceProvider[CloudWatchDashboardProperties]):
    TYPE = "AWS::CloudWatch::Dashboard"
    SCHEMA = util.get_schema_path(Path(__file__))

    def create(
        self, request: ResourceRequest[CloudWatchDashboardProperties]
    ) -> ProgressEvent[CloudWatchDashboardProperties]:
        model = request.desired_state
        if not model.get("DashboardName"):
            model["DashboardName"] = util.generate_default_name(request.stack_name, request.logical_resource_id)
        request.aws_client_factory.cloudwatch.put_dashboard(
            DashboardName=model["DashboardName"], DashboardBody=model["DashboardBody"]
        )
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model, custom_context=request.custom_context)

    def read(
        self, request: ResourceRequest[CloudWatchDashboardProperties]
    ) -> ProgressEvent[CloudWatchDashboardProperties]:
        model = request.desired_state
        got = request.aws_client_factory.cloudwatch.get_dashboard(DashboardName=model["DashboardName"])
        model["DashboardBody"] = got["DashboardBody"]
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model)

    def update(
        self, request: ResourceRequest[CloudWatchDashboardProperties]
    ) -> ProgressEvent[CloudWatchDashboardProperties]:
        # DashboardName is create-only: a new name is a replacement, which
        # CloudFormation does with create and delete.
        model = request.desired_state
        model["DashboardName"] = (request.previous_state or {}).get("DashboardName") or model.get("DashboardName")
        request.aws_client_factory.cloudwatch.put_dashboard(
            DashboardName=model["DashboardName"], DashboardBody=model["DashboardBody"]
        )
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model, custom_context=request.custom_context)

    def delete(
        self, request: ResourceRequest[CloudWatchDashboardProperties]
    ) -> ProgressEvent[CloudWatchDashboardProperties]:
        model = request.desired_state
        request.aws_client_factory.cloudwatch.delete_dashboards(DashboardNames=[model["DashboardName"]])
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model, custom_context=request.custom_context)


class CloudWatchDashboardProviderPlugin(CloudFormationResourceProviderPlugin):
    name = "AWS::CloudWatch::Dashboard"

    def __init__(self):
        self.factory: type[ResourceProvider] | None = None

    def load(self):
        self.factory = CloudWatchDashboardProvider
