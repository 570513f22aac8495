package promrw

import (
	"errors"
	"fmt"
)

// Sentinel errors matched by errors.Is on an *Error.
var (
	// ErrMalformed matches a body that is not valid snappy or protobuf.
	ErrMalformed = errors.New("malformed remote write request")
	// ErrTooLarge matches a body whose decoded size is over the limit.
	ErrTooLarge = errors.New("remote write request too large")
)

// ErrorKind classifies an *Error.
type ErrorKind uint8

// Kinds of *Error.
const (
	KindSnappy   ErrorKind = iota + 1 // the body is not a valid snappy block
	KindProtobuf                      // the decoded body is not a valid WriteRequest
	KindTooLarge                      // the decoded size is over Limits.MaxDecodedBytes
)

// Error is a request-level decoding failure. Nothing of the request was kept.
type Error struct {
	Kind ErrorKind
	// Offset is the byte offset of the problem: in the decoded protobuf
	// message for KindProtobuf, in the compressed body otherwise (0).
	Offset int
	// Path names the protobuf element, e.g. "timeseries[3].labels[1].name";
	// empty when the problem is not inside a field.
	Path string
	// Msg says what is wrong.
	Msg string
}

func (e *Error) Error() string {
	switch e.Kind {
	case KindSnappy:
		return "cannot decompress snappy body: " + e.Msg
	case KindTooLarge:
		return "cannot decode request: " + e.Msg
	}
	if e.Path == "" {
		return fmt.Sprintf("cannot parse WriteRequest at decoded byte %d: %s", e.Offset, e.Msg)
	}
	return fmt.Sprintf("cannot parse WriteRequest: %s at decoded byte %d: %s", e.Path, e.Offset, e.Msg)
}

// Is reports whether target is ErrTooLarge (for KindTooLarge) or
// ErrMalformed (for the other kinds).
func (e *Error) Is(target error) bool {
	if e.Kind == KindTooLarge {
		return target == ErrTooLarge
	}
	return target == ErrMalformed
}
