package smapi_test

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"net/http"
	"testing"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"

	"github.com/keygate/keygate/internal/smapi"
)

func TestDiagnose(t *testing.T) {
	api := func(code string) error {
		return fmt.Errorf("operation error Secrets Manager: GetSecretValue: %w", &smithy.GenericAPIError{Code: code, Message: "m"})
	}
	status := func(code int) error {
		return &awshttp.ResponseError{ResponseError: &smithyhttp.ResponseError{
			Response: &smithyhttp.Response{Response: &http.Response{StatusCode: code}},
			Err:      &smithy.GenericAPIError{Code: "UnknownError"},
		}}
	}
	tests := []struct {
		err  error
		want smapi.Cause
	}{
		{api("ResourceNotFoundException"), smapi.NotFound},
		{api("AccessDeniedException"), smapi.AccessDenied},
		{api("DecryptionFailure"), smapi.DecryptFailed},
		{api("EncryptionFailure"), smapi.EncryptFailed},
		{api("InvalidRequestException"), smapi.Refused},
		{api("ThrottlingException"), smapi.Throttled},
		{api("LimitExceededException"), smapi.TooManyVersions},
		{api("ExpiredTokenException"), smapi.BadCredentials},
		{api("UnrecognizedClientException"), smapi.BadCredentials},
		{api("SomethingElse"), smapi.Other},
		{status(503), smapi.ServerError},
		{status(400), smapi.Other},
		{errors.New("operation error Secrets Manager: GetSecretValue, get identity: get credentials: failed to refresh cached credentials, no EC2 IMDS role found"), smapi.NoCredentials},
		{fmt.Errorf("get identity: get credentials: %w", context.DeadlineExceeded), smapi.NoCredentials},
		{fmt.Errorf("read: %w", context.DeadlineExceeded), smapi.TimedOut},
		{errors.New("dial tcp 127.0.0.1:1: connect: connection refused"), smapi.Unreachable},
		{fmt.Errorf("send request: %w", &tls.CertificateVerificationError{Err: x509.UnknownAuthorityError{}}), smapi.Untrusted},
		{fmt.Errorf("send request: %w", x509.UnknownAuthorityError{}), smapi.Untrusted},
	}
	for _, tt := range tests {
		if got := smapi.Diagnose(tt.err); got != tt.want {
			t.Errorf("Diagnose(%v) = %d, want %d", tt.err, got, tt.want)
		}
	}
}
