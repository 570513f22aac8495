// Package protoscan reads the protobuf wire format in place, for the
// hand-written decoders of ingest (promrw: remote write 1.0 and 2.0;
// otlp: ExportMetricsServiceRequest). It knows no message: a decoder
// walks its message's fields with Tag, reads a field's value with
// Uvarint, Fixed64 or BytesField, checks a known field's wire type with
// WantType and passes over the rest with Skip.
//
//	i            next          start                 end
//	▼             ▼              ▼                     ▼
//	┌─────────────┬──────────────┬─────────────────────┐
//	│ key         │ length n     │ content (n bytes)   │ a bytes field
//	└─────────────┴──────────────┴─────────────────────┘
//	Tag(data, i)  BytesField(data, next)
//	→ num, wt,    → start, end: the next field's key is at end
//	  next
//
// Offsets. Every reader takes data and an offset i into it and returns
// the offset after what it read; it never reads outside data, keeps no
// reference to it and does not allocate unless it fails. A bytes field
// is read as the bounds [start, end) of its content, so a nested message
// is read in place: by walking data from start to end (errors then carry
// offsets in data), or as data[start:end] (the caller then adds start to
// an error's Off).
//
// Errors. A function that fails returns an *Error: the offset in data
// where the bad element starts and a message in the decoders' words
// ("truncated varint", "field labels has wire type 0, want 2"). It is
// not an outcome.Error: the caller adds the message name and the
// protobuf path and decides what the request's error says. Errors are
// built out of line (Errorf is not inlined), so the functions stay
// cheap on the path where nothing fails.
//
// Not here: encoding (otlp appends its few response fields itself), and
// fast paths that depend on one message's layout (promrw's sample
// timestamp).
package protoscan
