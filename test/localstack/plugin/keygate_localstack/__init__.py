"""keygate's LocalStack plugin: what `make test-deploy` needs from LocalStack
(localstack-core 2026.3.0, community, host mode, offline) beyond what it has.

1. A Lambda runtime executor that runs nothing (LAMBDA_RUNTIME_EXECUTOR=refuse).
   The default executor downloads LocalStack's Lambda runtime from the
   internet before a function version becomes Active, then runs the code in
   a container. Offline and without Docker neither works: the function stays
   Pending, then Failed, and CloudFormation waits on it. This one prepares
   nothing, so functions become Active at once, and refuses every invocation
   with a message that says why. The deploy test checks configuration, not
   behaviour: that is make test-sam's.

2. Four fixes to the CloudFormation v2 engine (patch_cfn_v2, at start-up,
   with 3 and 4; KEYGATE_LS_CFN_FIX=0 turns them all off). Without them
   every update of keygate's stack fails:
   - Fn::Equals compares its operands as CloudFormation does, as strings. The
     engine compares raw values, and a Number parameter resolves to an int on
     one side of a change set and to its stored string on the other, so
     RotationEnabled (!Not [!Equals [!Ref RotationDays, 0]]) is true before
     an update that keeps RotationDays 0: DescribeChangeSet answers 500 "No
     deployed instances of resource 'KeygateRotationFunctionLogGroup'".
   - When a condition flips from false to true (RotationDays 0 -> 30, or
     BackendUrl set), the engine resolves the "before" side of expressions
     that only the new condition makes live: a GetAtt there to a resource
     that did not exist before raises "Unresolved resource dependencies",
     and a ${Resource} in a Fn::Sub (the operator policy's
     FlushCachedDecisions statement, under !If GuardEnabled) "Undefined
     variable name in Fn::Sub". On the before side such a GetAtt is
     nothing, and such a Sub gets a placeholder for the absent resource
     (its !If picks the other branch before anyway). The after side is
     untouched: a reference that does not resolve after still fails.
   - The other way round (RotationDays 30 -> 0), Fn::If visits the branch
     its condition picks before for both sides, so the after side of a
     reference there to a resource that goes (the dashboard's
     ${RotationErrorsAlarm.Arn} under !If RotationEnabled) raises
     "Unresolved resource dependencies". Fn::If now lets a branch that
     serves one side only be nothing on the other (with a placeholder in a
     Fn::Sub); a branch both sides pick is resolved strictly on both.
   - When a condition flips from true to false (RotationDays 30 -> 0), the
     change set says Remove, but the executor skips every resource whose
     condition is false after, so nothing is deleted and the stack keeps
     listing it. It now skips only those that were not deployed before, and
     visits the others for their removal (their after side, GetAtts to
     other removed resources included, is nothing).

3. With CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES=0, a resource the stack deploys
   whose type has no resource provider fails ("Resource type ... not
   supported") instead of being "deployed as a fallback" that creates
   nothing. LocalStack also checks every type of the template up front, with
   a catalog of supported types it downloads from its platform: offline it
   has none and refuses every type (AWS::S3::Bucket too), and it counts
   resources whose condition is false (the HTTP API's, with EnableHttpApi
   false). patch_cfn_v2 turns that up-front check off, so the check is the
   deployment's own, for the resources really deployed.

4. AWS::ApiGateway::Method's RequestParameters is a map of booleans, and
   CloudFormation takes "true" and "false" for them (template.yaml writes
   method.request.path.proxy: "true"). LocalStack passes the strings on to
   PutMethod, which refuses them; the Method provider now gets booleans.
   AWS::ApiGateway::RestApi's ApiKeySourceType (UsagePlans: AUTHORIZER)
   reaches CreateRestApi: the provider read it as ApiKeySource and dropped
   it. (Its update, which turning UsagePlans on for a stack needs, is still
   missing: 5 makes it fail.)

5. An update of a resource whose provider has no update handler fails.
   LocalStack logs a warning and reports success with the old state: the
   stack says UPDATE_COMPLETE and nothing changed (a silent fake of the kind
   the deploy test must not be fooled by).

6. AWS::IAM::ManagedPolicy gets the update handler it lacks: a new policy
   document becomes the policy's new default version (the oldest other
   version goes when there are five), and attachments follow the template.
   The operator policy gains its FlushCachedDecisions statement when
   BackendUrl is set, which is an update.

7. The AWS::ApiGateway::Authorizer resource (module authorizer), which the
   community edition's CloudFormation lacks (its API Gateway has the API):
   the guarded REST API of BackendUrl needs it.

8. AWS::CloudWatch::Alarm gets the update handler it lacks (with the fixes
   of 2): PutMetricAlarm again under the alarm's name, which replaces the
   whole alarm as in AWS. The alarms' actions change when AlarmEmail or
   AlarmTopicArn does, which is an update.

9. The AWS::CloudWatch::Dashboard resource (module dashboard), on
   LocalStack's own dashboard API, and the AWS::CloudWatch::InsightRule
   resource (module insightrule), with the insight rule operations its
   CloudWatch provider lacks, on the moto backend LocalStack bundles
   (patch_cloudwatch, at start-up, always on).
"""
import json
import logging
import os

from localstack.runtime import hooks
from localstack.services.lambda_.invocation.plugins import RuntimeExecutorPlugin
from localstack.services.lambda_.invocation.runtime_executor import (
    LambdaRuntimeException,
    RuntimeExecutor,
)

LOG = logging.getLogger(__name__)

MESSAGE = (
    "keygate-localstack: this LocalStack runs no Lambda code "
    "(offline host mode, LAMBDA_RUNTIME_EXECUTOR=refuse)"
)


class RefuseRuntimeExecutor(RuntimeExecutor):
    def start(self, env_vars):
        LOG.warning("%s: refused to start %s", MESSAGE, self.function_version.qualified_arn)
        raise LambdaRuntimeException(MESSAGE)

    def stop(self):
        pass

    def get_address(self):
        return "127.0.0.1"

    def get_endpoint_from_executor(self):
        return "127.0.0.1"

    def get_runtime_endpoint(self):
        return "http://127.0.0.1:0/_localstack_lambda/refused"

    def invoke(self, payload):
        raise LambdaRuntimeException(MESSAGE)

    def get_logs(self):
        return MESSAGE + "\n"

    @classmethod
    def prepare_version(cls, function_version):
        LOG.info("keygate-localstack: prepared %s (nothing to do)", function_version.qualified_arn)

    @classmethod
    def cleanup_version(cls, function_version):
        pass

    @classmethod
    def validate_environment(cls):
        return True


class RefuseRuntimeExecutorPlugin(RuntimeExecutorPlugin):
    name = "refuse"

    def load(self, *args, **kwargs):
        return RefuseRuntimeExecutor


class UpdateNotImplemented(Exception):
    pass


def _managed_policy_update(self, request):
    from localstack.services.cloudformation.provider_utils import remove_none_values
    from localstack.services.cloudformation.resource_provider import OperationStatus, ProgressEvent

    model, before = request.desired_state, request.previous_state or {}
    iam = request.aws_client_factory.iam
    arn = before["Id"]
    model["Id"] = arn
    model["ManagedPolicyName"] = before.get("ManagedPolicyName")

    def document(m):
        doc = m.get("PolicyDocument")
        return doc if isinstance(doc, str) else json.dumps(remove_none_values(doc), sort_keys=True)

    if document(model) != document(before):
        versions = iam.list_policy_versions(PolicyArn=arn)["Versions"]
        others = sorted((v for v in versions if not v["IsDefaultVersion"]), key=lambda v: v["CreateDate"])
        if len(versions) >= 5 and others:
            iam.delete_policy_version(PolicyArn=arn, VersionId=others[0]["VersionId"])
        iam.create_policy_version(PolicyArn=arn, PolicyDocument=document(model), SetAsDefault=True)
    for key, attach, detach, name in (
        ("Roles", iam.attach_role_policy, iam.detach_role_policy, "RoleName"),
        ("Users", iam.attach_user_policy, iam.detach_user_policy, "UserName"),
        ("Groups", iam.attach_group_policy, iam.detach_group_policy, "GroupName"),
    ):
        old, new = set(before.get(key) or []), set(model.get(key) or [])
        for x in new - old:
            attach(**{name: x, "PolicyArn": arn})
        for x in old - new:
            detach(**{name: x, "PolicyArn": arn})
    return ProgressEvent(status=OperationStatus.SUCCESS, resource_model=model)


def _alarm_update(self, request):
    # AlarmName is create-only; create puts the alarm and reads back its ARN.
    request.desired_state["AlarmName"] = (request.previous_state or {}).get("AlarmName") or request.desired_state.get("AlarmName")
    return self.create(request)


@hooks.on_infra_start()
def patch_cloudwatch():
    from keygate_localstack.insightrule import patch_insight_rules

    patch_insight_rules()


def _cfn_scalar(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return str(value)
    return value


@hooks.on_infra_start()
def patch_cfn_v2():
    if os.environ.get("KEYGATE_LS_CFN_FIX", "1") in ("0", "false"):
        LOG.info("keygate-localstack: CloudFormation v2 fixes off")
        return
    from localstack.services.cloudformation.engine.v2 import change_set_model_preproc as preproc

    cls = preproc.ChangeSetModelPreproc
    if getattr(cls, "_keygate_patched", False):
        return

    def visit_node_intrinsic_function_fn_equals(self, node_intrinsic_function):
        def _compute_fn_equals(args):
            return _cfn_scalar(args[0]) == _cfn_scalar(args[1])

        arguments_delta = self.visit(node_intrinsic_function.arguments)
        if isinstance(arguments_delta.after, list) and len(arguments_delta.after) != 2:
            raise preproc.ValidationError(
                "Template error: every Fn::Equals object requires a list of 2 string parameters."
            )
        return self._cached_apply(
            scope=node_intrinsic_function.scope,
            arguments_delta=arguments_delta,
            resolver=_compute_fn_equals,
        )

    cls.visit_node_intrinsic_function_fn_equals = visit_node_intrinsic_function_fn_equals

    orig_resolve_attribute = cls._resolve_attribute

    def _resolve_attribute(self, arguments, select_before):
        try:
            return orig_resolve_attribute(self, arguments=arguments, select_before=select_before)
        except preproc.ValidationError as e:
            removing = getattr(self, "_keygate_removing", False)
            unneeded_after = getattr(self, "_keygate_unneeded", None) == "after"
            if (select_before or removing or unneeded_after) and "Unresolved resource dependencies" in str(e):
                return preproc.Nothing
            raise

    cls._resolve_attribute = _resolve_attribute

    def visit_node_intrinsic_function_fn_if(self, node_intrinsic_function):
        # As LocalStack's, but a branch that serves one side only is
        # visited with _keygate_unneeded naming the other side.
        args = node_intrinsic_function.arguments.array
        if len(args) != 3:
            raise ValueError(f"Incorrectly constructed Fn::If usage, expected 3 arguments, found {len(args)}")
        condition_delta = self.visit(args[0])
        picked = {}
        for side in ("before", "after"):
            name = getattr(condition_delta, side)
            if preproc.is_nothing(name):
                continue
            node_condition = self._get_node_condition_if_exists(condition_name=name)
            if preproc.is_nothing(node_condition):
                raise preproc.ValidationError(f"Template error: unresolved condition dependency {name} in Fn::If")
            picked[side] = args[1] if getattr(self.visit(node_condition), side) else args[2]
        if_delta = preproc.PreprocEntityDelta()
        for side, branch in picked.items():
            other = "after" if side == "before" else "before"
            previous = getattr(self, "_keygate_unneeded", None)
            self._keygate_unneeded = other if picked.get(other) is not branch else None
            try:
                setattr(if_delta, side, getattr(self.visit(branch), side))
            finally:
                self._keygate_unneeded = previous
        return if_delta

    cls.visit_node_intrinsic_function_fn_if = visit_node_intrinsic_function_fn_if

    def visit_node_resources(self, node_resources):
        for node_resource in node_resources.resources:
            if not preproc.is_nothing(node_resource.condition_reference):
                delta = self._resolve_resource_condition_reference(node_resource.condition_reference)
                if delta.after is False:
                    if delta.before is not True:
                        continue
                    # Visited for its removal: its after side is nothing,
                    # and references there to other removed resources too.
                    self._keygate_removing = True
                    try:
                        self.visit(node_resource)
                    finally:
                        self._keygate_removing = False
                    continue
            self.visit(node_resource)

    cls.visit_node_resources = visit_node_resources

    orig_fn_sub = cls.visit_node_intrinsic_function_fn_sub
    absent = "<keygate-localstack: absent on this side of the change set>"

    def visit_node_intrinsic_function_fn_sub(self, node_intrinsic_function):
        try:
            return orig_fn_sub(self, node_intrinsic_function)
        except RuntimeError as e:
            if "Undefined variable name in Fn::Sub" not in str(e):
                raise
        # Once more, with a placeholder for the before side of a resource
        # that is only in the after side, and for the after side of one
        # that is only before, in a branch of Fn::If the after side does
        # not pick.
        orig_ref, orig_att = self._resolve_reference, self._resolve_attribute
        unneeded_after = getattr(self, "_keygate_unneeded", None) == "after"

        def ref(logical_id):
            delta = orig_ref(logical_id=logical_id)
            if preproc.is_nothing(delta.before) and not preproc.is_nothing(delta.after):
                return preproc.PreprocEntityDelta(before=absent, after=delta.after)
            if unneeded_after and preproc.is_nothing(delta.after) and not preproc.is_nothing(delta.before):
                return preproc.PreprocEntityDelta(before=delta.before, after=absent)
            return delta

        def att(arguments, select_before):
            value = orig_att(arguments=arguments, select_before=select_before)
            return absent if (select_before or unneeded_after) and preproc.is_nothing(value) else value

        self._resolve_reference, self._resolve_attribute = ref, att
        try:
            return orig_fn_sub(self, node_intrinsic_function)
        finally:
            del self._resolve_reference, self._resolve_attribute

    cls.visit_node_intrinsic_function_fn_sub = visit_node_intrinsic_function_fn_sub

    from localstack.services.apigateway.resource_providers import aws_apigateway_method as method

    def booleans(fn):
        def wrapper(self, request):
            params = (request.desired_state or {}).get("RequestParameters") or {}
            for k, v in params.items():
                if isinstance(v, str) and v.lower() in ("true", "false"):
                    params[k] = v.lower() == "true"
            return fn(self, request)

        return wrapper

    for op in ("create", "update"):
        setattr(method.ApiGatewayMethodProvider, op, booleans(getattr(method.ApiGatewayMethodProvider, op)))

    from localstack.services.apigateway.resource_providers import aws_apigateway_restapi as restapi

    orig_restapi_create = restapi.ApiGatewayRestApiProvider.create

    def restapi_create(self, request):
        # CloudFormation's property is ApiKeySourceType; the provider reads
        # ApiKeySource, so the template's value never reached CreateRestApi.
        model = request.desired_state or {}
        if "ApiKeySourceType" in model:
            model["ApiKeySource"] = model["ApiKeySourceType"]
        return orig_restapi_create(self, request)

    restapi.ApiGatewayRestApiProvider.create = restapi_create

    from localstack.services.cloudformation import resource_provider as rp

    orig_execute_action = rp.ResourceProviderExecutor.execute_action

    def execute_action(self, resource_provider, raw_payload):
        if raw_payload.get("action") in ("Modify", "Dynamic"):
            orig_update = resource_provider.update
            resource_type = raw_payload.get("resourceType")

            def update(request):
                try:
                    return orig_update(request)
                except NotImplementedError:
                    raise UpdateNotImplemented(
                        f"keygate-localstack: LocalStack cannot update {resource_type} "
                        f"{request.logical_resource_id} (its provider has no update handler); it would "
                        "have reported success and changed nothing"
                    ) from None

            resource_provider.update = update
        return orig_execute_action(self, resource_provider, raw_payload)

    rp.ResourceProviderExecutor.execute_action = execute_action

    from localstack.services.iam.resource_providers import aws_iam_managedpolicy as managedpolicy

    managedpolicy.IAMManagedPolicyProvider.update = _managed_policy_update

    from localstack.services.cloudwatch.resource_providers import aws_cloudwatch_alarm as alarm

    alarm.CloudWatchAlarmProvider.update = _alarm_update

    from localstack.services.cloudformation.engine.v2 import change_set_resource_support_checker as checker
    from localstack.utils.catalog.common import CloudFormationResourcesSupportAtRuntime

    def _resource_support_status(self, resource_type):
        return CloudFormationResourcesSupportAtRuntime.AVAILABLE

    checker.ChangeSetResourceSupportChecker._resource_support_status = _resource_support_status
    cls._keygate_patched = True
    LOG.info(
        "keygate-localstack: CloudFormation v2: Fn::Equals compares strings; a before-side GetAtt "
        "or Sub of a resource absent before is nothing, and so is the side of a Fn::If branch that side does not pick; unsupported types fail when deployed, not up "
        "front; Method RequestParameters are booleans; a condition turned false removes its resources; "
        "an update without a handler fails; ManagedPolicy and Alarm updates"
    )
