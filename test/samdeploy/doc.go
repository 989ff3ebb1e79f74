// Package samdeploy runs the real `sam deploy` of template.yaml, with
// samconfig.toml as it is (the prompt aside), against LocalStack in host
// mode (package localstack), and asserts on every resource it created
// through the AWS APIs with the AWS SDK for Go: the default parameters,
// then a redeploy with RotationDays, EnableFunctionUrl and AlarmEmail,
// then one with BackendUrl (the guarded REST API behind keygate as its
// Lambda authorizer) and AlarmTopicArn, the others turned off again, then
// `sam delete`. The alarms, the dashboard and the Contributor Insights
// rules are read back with CloudWatch's API (keygate's LocalStack plugin
// adds the two resource types LocalStack lacks). A success line
// alone proves nothing (moto's CloudFormation prints one while ignoring
// the SAM transform), so each stack resource must be found and checked,
// and a resource type without a check fails the test.
//
// What LocalStack does not do is said where it is checked: a value it
// drops (log retention, stage throttling, the conditions of the Function
// URL's permissions, the operator policy's description, the REST API's
// name) is a logged gap when it is absent and an error when it is wrong;
// the rotation schedule's resource is a no-op there; its HTTP API
// (apigatewayv2) is LocalStack Pro's, so EnableHttpApi stays off and a
// deploy with it must fail (CFN_IGNORE_UNSUPPORTED_RESOURCE_TYPES=0):
// that door is left to `sam validate --lint` and cfn-lint (samcheck).
// LocalStack runs no function code here: make test-sam runs the function.
//
// The tests build with the tag samdeploy and run through `make
// test-deploy` (part of `make test`), which installs .venv-localstack.
package samdeploy
