package smapi

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"strings"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
)

// Cause is why a Secrets Manager call failed, as far as the error tells.
type Cause int

const (
	Other           Cause = iota // none of the below
	NotFound                     // no such secret (or version stage) in the region
	AccessDenied                 // the caller's identity lacks a permission
	DecryptFailed                // no kms:Decrypt on the secret's key
	EncryptFailed                // no kms:GenerateDataKey on the secret's key
	Refused                      // the request is invalid now: the secret is scheduled for deletion
	Throttled                    // ThrottlingException
	TooManyVersions              // LimitExceededException
	BadCredentials               // credentials the service rejected (unknown, expired, bad signature)
	NoCredentials                // the SDK found no credentials to sign with
	TimedOut                     // the call's deadline passed, or it was cancelled
	Untrusted                    // the endpoint's certificate does not chain to a trusted root
	Unreachable                  // no answer from the service: DNS, connection, TLS
	ServerError                  // the service answered 5xx
)

// Diagnose returns the cause of err, an error from the SDK client.
func Diagnose(err error) Cause {
	var api smithy.APIError
	if errors.As(err, &api) {
		switch api.ErrorCode() {
		case "ResourceNotFoundException":
			return NotFound
		case "AccessDeniedException":
			return AccessDenied
		case "DecryptionFailure":
			return DecryptFailed
		case "EncryptionFailure":
			return EncryptFailed
		case "InvalidRequestException":
			return Refused
		case "ThrottlingException":
			return Throttled
		case "LimitExceededException":
			return TooManyVersions
		case "UnrecognizedClientException", "InvalidSignatureException", "ExpiredTokenException":
			return BadCredentials
		}
		var re *awshttp.ResponseError
		if errors.As(err, &re) && re.HTTPStatusCode() >= 500 {
			return ServerError
		}
		return Other
	}
	// The SDK wraps a failed credential lookup in a plain error ("get
	// identity: get credentials: failed to refresh cached credentials, no
	// EC2 IMDS role found"); its message is the only mark it leaves, and it
	// comes before a deadline that the lookup itself may have run into.
	msg := err.Error()
	for _, mark := range []string{"get credentials:", "retrieve credentials", "failed to refresh cached credentials"} {
		if strings.Contains(msg, mark) {
			return NoCredentials
		}
	}
	var unknownCA x509.UnknownAuthorityError
	var verify *tls.CertificateVerificationError
	if errors.As(err, &unknownCA) || errors.As(err, &verify) {
		return Untrusted
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(err, context.Canceled) {
		return TimedOut
	}
	return Unreachable
}
