// Package promname holds the Prometheus legacy (Prometheus 2, pre-UTF-8)
// name rules that the text decoders of ingest share (influx: line
// protocol; promtext: the Prometheus text format), and the sanitizing
// that turns any other name into one:
//
//	metric name  [a-zA-Z_:][a-zA-Z0-9_:]*     colonOK = true
//	label name   [a-zA-Z_][a-zA-Z0-9_]*       colonOK = false
//
//	"disk.io"  ─ SanitizeInto ─►  "disk_io"     each byte outside the set,
//	"ünï"      ─────────────────► "_n_"         and each multi-byte rune or
//	"1st"      ─ PrefixDigit ───► "_1st"        invalid UTF-8 byte, is one '_'
//
// The functions are pure and do not allocate: SanitizeInto and
// PrefixDigit write into a buffer the caller owns (the batch arena), so
// a decoder keeps a name that is already valid as it is and builds
// only the ones it must change. A sanitized name can still clash with
// another (a.b and a_b): detecting that is the decoder's.
//
// Not here: OTLP naming (package otlp), which collapses runs of
// separators and adds unit suffixes after Prometheus' OTLP translator;
// it uses IsDigit and IsNameByte for the same character set.
package promname
