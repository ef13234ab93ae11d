package faults

import (
	"bytes"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"hash/crc32"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// APIError answers a call with an AWS JSON-protocol error, as the real service sends one:
// an HTTP status (400 unless Status says otherwise), a body {"__type":...,"message":...},
// the X-Amzn-ErrorType header, the service's JSON content type and, for DynamoDB, the
// X-Amz-Crc32 checksum header. The SDK decodes it into its typed error.
type APIError struct {
	// Kinesis is the __type sent to Kinesis calls, e.g. "ProvisionedThroughputExceededException".
	Kinesis string
	// DynamoDB is the __type sent to DynamoDB calls, with its namespace as DynamoDB sends it,
	// e.g. "com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException".
	// A call to a service whose type is empty gets the other one.
	DynamoDB string
	// Message is the error message; empty gives a short one naming the fault as injected.
	Message string
	// Status is the HTTP status; 0 means 400.
	Status int
	// Forward sends the request to the emulator first and replaces its answer with the
	// error: the call takes effect but the caller is told it failed. False (the default)
	// answers without the emulator ever seeing the request, as a real throttle does.
	Forward bool
}

const dynamoNS = "com.amazonaws.dynamodb.v20120810#"

// Throttle is ProvisionedThroughputExceededException, from Kinesis or DynamoDB.
func Throttle() APIError {
	return APIError{Kinesis: "ProvisionedThroughputExceededException", DynamoDB: dynamoNS + "ProvisionedThroughputExceededException"}
}

// LimitExceeded is LimitExceededException (Kinesis: too many control-plane or
// SubscribeToShard calls).
func LimitExceeded() APIError {
	return APIError{Kinesis: "LimitExceededException", DynamoDB: dynamoNS + "LimitExceededException"}
}

// ResourceInUse is ResourceInUseException (Kinesis: e.g. a second SubscribeToShard within
// 5 s, or a stream being resharded).
func ResourceInUse() APIError {
	return APIError{Kinesis: "ResourceInUseException", DynamoDB: dynamoNS + "ResourceInUseException"}
}

// ResourceNotFound is ResourceNotFoundException, from Kinesis or DynamoDB.
func ResourceNotFound() APIError {
	return APIError{Kinesis: "ResourceNotFoundException", DynamoDB: dynamoNS + "ResourceNotFoundException"}
}

// AccessDenied is AccessDeniedException, a permanent error (HTTP 400).
func AccessDenied() APIError {
	return APIError{Kinesis: "AccessDeniedException", DynamoDB: "com.amazon.coral.service#AccessDeniedException"}
}

// ExpireIterator answers (GetRecords) with ExpiredIteratorException without forwarding the
// request, as if the iterator had outlived its 5 minutes.
func ExpireIterator() APIError {
	return APIError{Kinesis: "ExpiredIteratorException"}
}

// InternalFailure is a server-side error: Kinesis InternalFailureException or DynamoDB
// InternalServerError, HTTP 500.
func InternalFailure() APIError {
	return APIError{Kinesis: "InternalFailureException", DynamoDB: dynamoNS + "InternalServerError", Status: http.StatusInternalServerError}
}

// Throttling is DynamoDB's ThrottlingException (request rate too high for the table or
// account; also control-plane throttling).
func Throttling() APIError {
	return APIError{DynamoDB: "com.amazon.coral.availability#ThrottlingException"}
}

// RequestLimitExceeded is DynamoDB's RequestLimitExceeded (account-level throughput limit).
func RequestLimitExceeded() APIError {
	return APIError{DynamoDB: dynamoNS + "RequestLimitExceeded"}
}

// AfterForward returns e with Forward set: the emulator handles the call, the caller gets the error.
func (e APIError) AfterForward() APIError {
	e.Forward = true
	return e
}

// WithMessage returns e with its message set.
func (e APIError) WithMessage(msg string) APIError {
	e.Message = msg
	return e
}

// Inject implements Fault.
func (e APIError) Inject(call Call, req *http.Request, next http.RoundTripper) (*http.Response, error) {
	if !e.Forward {
		closeBody(req)
		return e.Response(call, req), nil
	}
	resp, err := next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	// The emulator's answer is read to its end, so the call has fully happened.
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return e.Response(call, req), nil
}

// String names the fault in Call.Fault.
func (e APIError) String() string {
	s := shortType(e.Kinesis)
	if s == "" {
		s = shortType(e.DynamoDB)
	} else if d := shortType(e.DynamoDB); d != "" && d != s {
		s += "/" + d
	}
	if e.Forward {
		s += " after forward"
	}
	return s
}

// Response is the HTTP response that answers call.
func (e APIError) Response(call Call, req *http.Request) *http.Response {
	typ, contentType := e.Kinesis, "application/x-amz-json-1.1"
	if call.Service == ServiceDynamoDB {
		typ, contentType = e.DynamoDB, "application/x-amz-json-1.0"
	}
	if typ == "" {
		typ = e.Kinesis + e.DynamoDB // the one that is set
	}
	status := e.Status
	if status == 0 {
		status = http.StatusBadRequest
	}
	msg := e.Message
	if msg == "" {
		msg = defaultMessage(shortType(typ), call)
	}
	body, _ := json.Marshal(struct {
		Type    string `json:"__type"`
		Message string `json:"message"`
	}{typ, msg})

	h := make(http.Header)
	h.Set("Content-Type", contentType)
	h.Set("Content-Length", strconv.Itoa(len(body)))
	h.Set("X-Amzn-ErrorType", shortType(typ))
	h.Set("X-Amzn-Requestid", requestID())
	if call.Service == ServiceDynamoDB {
		h.Set("X-Amz-Crc32", strconv.FormatUint(uint64(crc32.ChecksumIEEE(body)), 10))
	}
	return &http.Response{
		Status:        fmt.Sprintf("%d %s", status, http.StatusText(status)),
		StatusCode:    status,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        h,
		Body:          io.NopCloser(bytes.NewReader(body)),
		ContentLength: int64(len(body)),
		Request:       req,
	}
}

// shortType strips a namespace ("ns#Name") and a trailing ":..." as the SDK does.
func shortType(typ string) string {
	if i := strings.LastIndexByte(typ, '#'); i >= 0 {
		typ = typ[i+1:]
	}
	typ, _, _ = strings.Cut(typ, ":")
	return typ
}

func defaultMessage(typ string, call Call) string {
	var what string
	switch typ {
	case "ProvisionedThroughputExceededException":
		what = "rate exceeded"
		if call.Shard != "" {
			what += " for shard " + call.Shard
		}
		if call.Stream != "" {
			what += " in stream " + call.Stream
		}
		if call.Table != "" {
			what += " for table " + call.Table
		}
	case "ExpiredIteratorException":
		what = "iterator expired"
	case "AccessDeniedException":
		what = "not authorized to perform " + call.Op
	default:
		what = typ
	}
	return what + " (injected by internal/faults)"
}

func requestID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}
