package influx

import "github.com/premetrics/premetrics/ingest/internal/decodertest"

// dec is Decode under the checks shared with the other line decoders:
// dec.Check(t, body, opts) decodes a table test's body.
var dec = decodertest.Decoder[Options]{Decode: Decode, ItemKind: ItemKind}
