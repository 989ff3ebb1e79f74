"""AWS::ApiGateway::Authorizer for LocalStack's CloudFormation (community
2026.3.0 has the API Gateway API for authorizers, not the resource).

Create, read, update and delete call LocalStack's own API Gateway
(CreateAuthorizer, GetAuthorizer, UpdateAuthorizer, DeleteAuthorizer), so
what the stack holds is a real authorizer of that REST API, which the
methods' AuthorizerId refers to and the deploy test reads back with
GetAuthorizer. Ref is the authorizer's ID, as in AWS.
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


class ApiGatewayAuthorizerProperties(TypedDict):
    RestApiId: str | None
    AuthorizerId: str | None
    AuthType: str | None
    AuthorizerCredentials: str | None
    AuthorizerResultTtlInSeconds: int | None
    AuthorizerUri: str | None
    IdentitySource: str | None
    IdentityValidationExpression: str | None
    Name: str | None
    ProviderARNs: list[str] | None
    Type: str | None


# CloudFormation property -> UpdateAuthorizer patch path.
_PATCHABLE = {
    "Name": "/name",
    "Type": "/type",
    "AuthType": "/authType",
    "AuthorizerUri": "/authorizerUri",
    "AuthorizerCredentials": "/authorizerCredentials",
    "IdentitySource": "/identitySource",
    "IdentityValidationExpression": "/identityValidationExpression",
    "AuthorizerResultTtlInSeconds": "/authorizerResultTtlInSeconds",
}


class ApiGatewayAuthorizerProvider(ResourceProvider[ApiGatewayAuthorizerProperties]):
    TYPE = "AWS::ApiGateway::Authorizer"
    SCHEMA = util.get_schema_path(Path(__file__))

    def create(
        self, request: ResourceRequest[ApiGatewayAuthorizerProperties]
    ) -> ProgressEvent[ApiGatewayAuthorizerProperties]:
        model = request.desired_state
        apigw = request.aws_client_factory.apigateway
        shape = apigw.meta.service_model.operation_model("CreateAuthorizer").input_shape
        params = {k: v for k, v in model.items() if k != "AuthorizerId" and v is not None}
        created = apigw.create_authorizer(**util.convert_request_kwargs(params, shape))
        model["AuthorizerId"] = created["id"]
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model, custom_context=request.custom_context)

    def read(
        self, request: ResourceRequest[ApiGatewayAuthorizerProperties]
    ) -> ProgressEvent[ApiGatewayAuthorizerProperties]:
        model = request.desired_state
        apigw = request.aws_client_factory.apigateway
        apigw.get_authorizer(restApiId=model["RestApiId"], authorizerId=model["AuthorizerId"])
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model)

    def update(
        self, request: ResourceRequest[ApiGatewayAuthorizerProperties]
    ) -> ProgressEvent[ApiGatewayAuthorizerProperties]:
        model = request.desired_state
        before = request.previous_state or {}
        model["AuthorizerId"] = before.get("AuthorizerId") or model.get("AuthorizerId")
        ops = []
        for prop, path in _PATCHABLE.items():
            if model.get(prop) != before.get(prop):
                if model.get(prop) is None:
                    ops.append({"op": "remove", "path": path})
                else:
                    ops.append({"op": "replace", "path": path, "value": str(model[prop])})
        if ops:
            request.aws_client_factory.apigateway.update_authorizer(
                restApiId=model["RestApiId"], authorizerId=model["AuthorizerId"], patchOperations=ops
            )
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model, custom_context=request.custom_context)

    def delete(
        self, request: ResourceRequest[ApiGatewayAuthorizerProperties]
    ) -> ProgressEvent[ApiGatewayAuthorizerProperties]:
        model = request.desired_state
        apigw = request.aws_client_factory.apigateway
        try:
            apigw.delete_authorizer(restApiId=model["RestApiId"], authorizerId=model["AuthorizerId"])
        except apigw.exceptions.NotFoundException:
            pass
        return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model, custom_context=request.custom_context)


class ApiGatewayAuthorizerProviderPlugin(CloudFormationResourceProviderPlugin):
    name = "AWS::ApiGateway::Authorizer"

    def __init__(self):
        self.factory: type[ResourceProvider] | None = None

    def load(self):
        self.factory = ApiGatewayAuthorizerProvider
