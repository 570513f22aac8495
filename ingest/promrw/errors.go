package promrw

import (
	"fmt"

	"github.com/premetrics/premetrics/ingest/internal/protoscan"
	"github.com/premetrics/premetrics/ingest/outcome"
)

// Protobuf message names, as request-level errors name them.
const (
	msgV1 = "WriteRequest"
	msgV2 = "io.prometheus.write.v2.Request"
)

// Request-level errors are *outcome.Error with an empty Where: the
// message itself says where (the protobuf path and the byte offset in
// the decoded body), in the form senders have always logged.

func snappyError(msg string) error {
	return &outcome.Error{Kind: outcome.KindMalformed, Msg: "cannot decompress snappy body: " + msg}
}

func tooLargeError(n, limit int) error {
	return &outcome.Error{Kind: outcome.KindTooLarge, Msg: fmt.Sprintf("cannot decode request: decoded body would be %d bytes, limit %d", n, limit)}
}

// protoError reports werr inside the message named msg; path names the
// protobuf element ("timeseries[3].labels[1]"), or is empty.
func protoError(msg string, werr *protoscan.Error, path string) error {
	if path == "" {
		return &outcome.Error{Kind: outcome.KindMalformed, Msg: fmt.Sprintf("cannot parse %s at decoded byte %d: %s", msg, werr.Off, werr.Msg)}
	}
	return &outcome.Error{Kind: outcome.KindMalformed, Msg: fmt.Sprintf("cannot parse %s: %s at decoded byte %d: %s", msg, path, werr.Off, werr.Msg)}
}
