package ingest

import (
	"context"
	"errors"
	"time"

	"github.com/premetrics/premetrics/batch"
)

// Pipeline is what ingest hands decoded data to.
type Pipeline interface {
	// Admit reports whether the pipeline can take more data now. When it
	// cannot, retryAfter is the hint sent to the client as Retry-After
	// (rounded up to whole seconds, at least 1).
	Admit() (retryAfter time.Duration, ok bool)
	// Ingest runs b through the pipeline synchronously. b stays owned by
	// the caller: the pipeline must not keep b, its series or its label
	// strings after returning. A returned error means the data was not
	// (fully) accepted and the client should retry: an error wrapping
	// ErrBackoff is answered with 429, any other with 503, both with
	// Retry-After. An error with a method RetryAfter() time.Duration sets
	// that hint; otherwise it is DefaultRetryAfter.
	Ingest(ctx context.Context, b *batch.Batch) error
}

// ErrBackoff marks a Pipeline.Ingest error as "busy, retry later" (429).
var ErrBackoff = errors.New("pipeline is busy")

// DefaultRetryAfter is the Retry-After hint when no better one is known.
const DefaultRetryAfter = time.Second

// retryAfterOf returns the hint carried by err, or DefaultRetryAfter.
func retryAfterOf(err error) time.Duration {
	var h interface{ RetryAfter() time.Duration }
	if errors.As(err, &h) {
		return h.RetryAfter()
	}
	return DefaultRetryAfter
}

// IdentIndexer is a Pipeline that keeps state per series by batch.Ident
// and offers it to decoders (batch.IdentIndex): the remote write 1.0
// decoder then prefetches it and leaves the labels of series it knows
// undecoded. The remote write handler uses it when its Pipeline has it.
type IdentIndexer interface {
	IdentIndex() batch.IdentIndex
}
