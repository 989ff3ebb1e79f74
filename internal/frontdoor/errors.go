package frontdoor

import (
	"encoding/base64"
	"errors"
	"net/http"
	"net/url"
	"strconv"
	"strings"

	"github.com/aws/aws-lambda-go/events"

	"github.com/keygate/keygate/handler"
)

// These messages reach logs; none repeats event content, which may hold a
// key in the wrong place.
var (
	errUnknownEvent  = errors.New("event is not from API Gateway (REST or HTTP API), a Function URL or an ALB: invoke the function through one of them, or with a file from events/")
	errDecode        = errors.New("event does not decode as its front door's JSON shape")
	errConvert       = errors.New("event could not be converted to an HTTP request (bad base64 body?)")
	errRequestLine   = errors.New("event has an invalid HTTP method, path, host or query string")
	errDuplicateName = errors.New("event names a JSON member twice in one object, which no front door sends: its meaning depends on the parser, so it is refused")
)

// check rejects what would make the proxy fail to build a request: a bad
// request line, a body flagged base64 that does not decode.
func check(method, path, host, rawQuery string, isBase64 bool, body string) error {
	if err := checkRequestLine(method, path, host, rawQuery); err != nil {
		return err
	}
	return checkBody(isBase64, body)
}

// checkRequestLine rejects what would make the proxy's http.NewRequest
// fail, by making the same url.Parse call it will make. The proxy prints the
// method and path of such events to stdout, outside our logger, and a path
// may hold a misplaced key: so they must never reach it.
func checkRequestLine(method, path, host, rawQuery string) error {
	if !isToken(method) {
		return errRequestLine
	}
	if !strings.HasPrefix(path, "/") {
		path = "/" + path
	}
	u := "https://" + host + path
	if rawQuery != "" {
		u += "?" + rawQuery
	}
	if _, err := url.Parse(u); err != nil {
		return errRequestLine
	}
	return nil
}

// checkBody rejects a base64 flag on a body that does not decode: the
// proxy would log the decode error with the standard logger, a line
// outside keygate's JSON log.
func checkBody(isBase64 bool, body string) error {
	if !isBase64 {
		return nil
	}
	if _, err := base64.StdEncoding.DecodeString(body); err != nil {
		return errConvert
	}
	return nil
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c <= ' ' || c >= 0x7f || strings.IndexByte(`"(),/:;<=>?@[\]{}`, c) >= 0 {
			return false
		}
	}
	return true
}

func statusLine(code int) string {
	return strconv.Itoa(code) + " " + http.StatusText(code)
}

// badRequest is a 400 in the shape the front door expects (for an ALB in
// multi-value mode, in multiValueHeaders); for an unknown event the REST
// shape, which every proxy integration understands.
func badRequest(kind Kind, albMulti bool) any {
	hdr := make(map[string]string, len(handler.SecurityHeaders))
	for k, v := range handler.SecurityHeaders {
		hdr[k] = v
	}
	body := string(handler.MsgBadRequest)
	switch kind {
	case HTTPAPI, FunctionURL:
		return events.APIGatewayV2HTTPResponse{StatusCode: http.StatusBadRequest, Headers: hdr, Body: body}
	case ALB:
		resp := events.ALBTargetGroupResponse{StatusCode: http.StatusBadRequest, StatusDescription: statusLine(http.StatusBadRequest), Headers: hdr, Body: body}
		if albMulti {
			resp.Headers, resp.MultiValueHeaders = nil, multiHeaders(hdr)
		}
		return resp
	}
	return events.APIGatewayProxyResponse{StatusCode: http.StatusBadRequest, Headers: hdr, Body: body}
}
