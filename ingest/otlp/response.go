package otlp

import (
	"strconv"

	"github.com/premetrics/premetrics/ingest/internal/protoscan"
	"github.com/premetrics/premetrics/ingest/outcome"
)

// Encoding is the encoding of an OTLP/HTTP request and of its response.
type Encoding uint8

const (
	Protobuf Encoding = iota // application/x-protobuf
	JSON                     // application/json
)

// ContentType is the Content-Type of a response in encoding e.
func (e Encoding) ContentType() string {
	if e == JSON {
		return "application/json"
	}
	return "application/x-protobuf"
}

// Protocol is the name this package reports in messages and that the
// transport uses as the "protocol" metric label.
const Protocol = "otlp"

// AppendResponse appends to dst the body of the HTTP 200 answer to a
// request that res describes: an ExportMetricsServiceResponse in
// encoding enc. It is empty (no bytes in protobuf, "{}" in JSON) when
// nothing was rejected. Otherwise it carries partial_success with
// rejected_data_points = res.RejectedItems and error_message =
// res.Message(Protocol): OTLP answers a partly (or wholly) rejected
// well-formed request with 200 and a partial success, which the sender
// must not retry, rather than with 400.
func AppendResponse(dst []byte, enc Encoding, res *outcome.Result) []byte {
	if res.RejectedItems == 0 {
		if enc == JSON {
			return append(dst, "{}"...)
		}
		return dst
	}
	msg := res.Message(Protocol)
	if enc == JSON {
		dst = append(dst, `{"partialSuccess":{"rejectedDataPoints":"`...)
		dst = strconv.AppendInt(dst, int64(res.RejectedItems), 10)
		dst = append(dst, `","errorMessage":`...)
		dst = appendJSONString(dst, []byte(msg))
		return append(dst, "}}"...)
	}
	// ExportMetricsServiceResponse{1 partial_success
	// ExportMetricsPartialSuccess{1 rejected_data_points int64,
	// 2 error_message string}}.
	var ps []byte
	ps = appendVarint(ps, 1<<3|protoscan.VarintType)
	ps = appendVarint(ps, uint64(res.RejectedItems))
	ps = appendBytesField(ps, 2, []byte(msg))
	return appendBytesField(dst, 1, ps)
}

// AppendStatus appends to dst a google.rpc.Status{code, message} in
// encoding enc: the body OTLP/HTTP asks for with a 4xx or 5xx answer
// (code is a gRPC status code, e.g. 3 INVALID_ARGUMENT for 400,
// 8 RESOURCE_EXHAUSTED for 413 and 429, 14 UNAVAILABLE for 503).
func AppendStatus(dst []byte, enc Encoding, code int32, msg string) []byte {
	if enc == JSON {
		dst = append(dst, `{"code":`...)
		dst = strconv.AppendInt(dst, int64(code), 10)
		dst = append(dst, `,"message":`...)
		dst = appendJSONString(dst, []byte(msg))
		return append(dst, '}')
	}
	if code != 0 {
		dst = appendVarint(dst, 1<<3|protoscan.VarintType)
		dst = appendVarint(dst, uint64(int64(code))) // int32: negative values sign-extend
	}
	if msg != "" {
		dst = appendBytesField(dst, 2, []byte(msg))
	}
	return dst
}
