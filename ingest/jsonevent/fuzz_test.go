package jsonevent

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
)

// fuzzLimits are small so the fuzzer reaches every rejection.
var fuzzLimits = outcome.Limits{MaxLabelsPerSeries: 5, MaxLabelNameLength: 16, MaxLabelValueLength: 24, MaxDecodedBytes: 1 << 16, MaxLineBytes: 512}

// kitchenSinkYAML uses every feature: nested paths, array indexes,
// number/bool/list `when`, labels_from, several metrics per event, unit s.
const kitchenSinkYAML = `
name: sink
timestamp: {field: t.s, unit: s}
labels: {id: id, n: meta.0}
const_labels: {src: fuzz}
metrics:
  - {name: a, value: v, when: {k: [x, 1, true]}}
  - {name: b, value: w.x, labels: {kind: b}, labels_from: {extra: e}, when: {k: x}}
  - {name: c, value: v}
`

func fuzzSeeds() []string {
	return []string{
		string(vehicleEvents(4, false)),
		string(vehicleEvents(4, true)),
		`{"hostname": "sleepy", "cpu": "cpu2", "usage": 87.28, "occurred_at": 1633956783483}`,
		`{"k": "x", "id": "i", "meta": [1, "m"], "t": {"s": 1633956783.483}, "v": 1, "w": {"x": "2"}, "e": true}`,
		`[{"k": 1, "v": true, "id": 5}, {"k": true, "v": "1e3", "id": null}, 3, null]`,
		"{\"eventType\": \"IC_RPM\"}\n\n{bad}\n[1]\n{\"k\": \"x\", \"v\": 1e999}\r\n",
		"{\n  \"k\": \"x\",\n  \"v\": 1\n}\n",
		`{"id": "` + strings.Repeat("v", 30) + `", "v": 1}`,
		"", "[", "[]", "{}", "\xEF\xBB\xBF{}", `{"a": "\ud800"}`, "{\"id\": \"\xff\", \"v\": 1}",
	}
}

func FuzzDecode(f *testing.F) {
	for _, s := range fuzzSeeds() {
		f.Add([]byte(s))
	}
	mappings := []*Mapping{compileYAML(f, vehiclesYAML), compileYAML(f, hostsYAML), compileYAML(f, kitchenSinkYAML)}
	var s Scratch // reused across inputs, as in production
	f.Fuzz(func(t *testing.T, body []byte) {
		for _, m := range mappings {
			fuzzOne(t, m, body, &s)
		}
	})
}

func fuzzOne(t *testing.T, m *Mapping, body []byte, s *Scratch) {
	in := bytes.Clone(body) // Decode may not retain it: scribbled over below
	b := &batch.Batch{}
	var res outcome.Result
	err := m.Decode(in, b, fuzzLimits, now, s, &res)
	if err != nil {
		var oe *outcome.Error
		if !errors.As(err, &oe) || !(errors.Is(err, outcome.ErrMalformed) || errors.Is(err, outcome.ErrTooLarge)) {
			t.Fatalf("untyped error %T: %v", err, err)
		}
		if b.Len() != 0 {
			t.Fatalf("failed decode left %d series", b.Len())
		}
		return
	}
	checkResult(t, b, &res, s.AcceptedEvents())
	if res.Series < s.AcceptedEvents() || res.Series > s.AcceptedEvents()*len(m.metrics) {
		t.Fatalf("%d series from %d accepted events", res.Series, s.AcceptedEvents())
	}
	for i := range b.Series {
		ser := &b.Series[i]
		if reason, detail := fuzzLimits.CheckSeries(ser.Labels); reason != outcome.ReasonNone {
			t.Fatalf("appended series %v fails CheckSeries: %s %s", ser.Labels, reason, detail)
		}
		if !slices.IsSortedFunc(ser.Labels, func(a, b batch.Label) int { return strings.Compare(a.Name, b.Name) }) {
			t.Fatalf("labels not sorted: %v", ser.Labels)
		}
		for _, l := range ser.Labels {
			if l.Value == "" {
				t.Fatalf("empty label value: %v", ser.Labels)
			}
		}
		if len(ser.Samples) != 1 {
			t.Fatalf("%d samples", len(ser.Samples))
		}
		if ts := ser.Samples[0].Timestamp; ts != now && (ts < MinTimestamp || ts >= MaxTimestamp) {
			t.Fatalf("timestamp %d out of range", ts)
		}
	}
	last := -1
	for _, r := range res.Rejected {
		if r.Reason == outcome.ReasonNone || r.Reason >= outcome.NumReasons || r.Detail == "" || r.ItemKind != ItemKind ||
			r.Item <= last || r.Item >= res.Items || r.Samples < 1 || r.Samples > len(m.metrics) {
			t.Fatalf("bad rejection %+v (items %d)", r, res.Items)
		}
		if strings.Contains(r.Detail, "cannot parse the event") {
			t.Fatalf("fastjson refused what the scanner accepted: %+v", r)
		}
		last = r.Item
	}
	// Events counted as encoding/json sees them.
	trimmed := bytes.TrimLeft(bytes.TrimPrefix(body, utf8BOM), " \t\r\n")
	if len(trimmed) > 0 && trimmed[0] == '[' {
		var elems []json.RawMessage
		if json.Unmarshal(trimmed, &elems) == nil && len(elems) != res.Items {
			t.Fatalf("%d events, encoding/json sees %d", res.Items, len(elems))
		}
	}
	// Label strings do not alias the body.
	before := renderBatch(b)
	for i := range in {
		in[i] = '#'
	}
	if after := renderBatch(b); !slices.Equal(before, after) {
		t.Fatalf("batch changed with the body:\n%v\n%v", before, after)
	}
}
