package jsonevent

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
)

// The two inputs of SCENARIOS.md, as a user writes them.
const (
	vehiclesYAML = `
name: vehicles
timestamp: {field: timestamp, unit: ms}
labels: {vehicle_id: vehicleId, region: region}
metrics:
  - {name: vehicle_rpm, value: measurement, labels: {engine: ic}, when: {eventType: IC_RPM}}
  - {name: vehicle_rpm, value: measurement, labels: {engine: electric}, when: {eventType: ELECTRIC_RPM}}
  - {name: vehicle_warnings, value: measurement, when: {eventType: WARNINGS}}
`
	hostsYAML = `
name: hosts
timestamp: {field: occurred_at, unit: ms}
labels: {hostname: hostname, cpu: cpu}
metrics:
  - {name: cpu_usage_percent, value: usage}
`
)

var testLimits = outcome.Limits{MaxLabelsPerSeries: 8, MaxLabelNameLength: 32, MaxLabelValueLength: 64, MaxDecodedBytes: 1 << 20, MaxLineBytes: 4096}

// now is the receive time the tests pass to Decode.
const now int64 = 1730000000000

// parseConfig decodes one input strictly, as the config package does.
func parseConfig(t testing.TB, text string) Config {
	t.Helper()
	var c Config
	dec := yaml.NewDecoder(strings.NewReader(text))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		t.Fatalf("cannot decode YAML: %v", err)
	}
	return c
}

func compileYAML(t testing.TB, text string) *Mapping {
	t.Helper()
	m, err := Compile(parseConfig(t, text))
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// decoded is what one Decode call produced, rendered for comparison.
type decoded struct {
	series     []string
	rejections []string
	res        outcome.Result
	accepted   int
	err        error
}

func decode(t testing.TB, m *Mapping, body string) decoded {
	t.Helper()
	return decodeLim(t, m, body, testLimits)
}

func decodeLim(t testing.TB, m *Mapping, body string, lim outcome.Limits) decoded {
	t.Helper()
	b := &batch.Batch{}
	var s Scratch
	var d decoded
	d.err = m.Decode([]byte(body), b, lim, now, &s, &d.res)
	d.series = renderBatch(b)
	d.rejections = renderRejections(t, d.res.Rejected)
	d.accepted = s.AcceptedEvents()
	if d.err == nil {
		checkResult(t, b, &d.res, s.AcceptedEvents())
	}
	return d
}

// checkResult asserts the invariants of every successful Decode.
func checkResult(t testing.TB, b *batch.Batch, res *outcome.Result, accepted int) {
	t.Helper()
	if res.Series != b.Len() || res.Samples != b.SampleCount() {
		t.Fatalf("result says %d series, %d samples; batch has %d, %d", res.Series, res.Samples, b.Len(), b.SampleCount())
	}
	if accepted+res.RejectedItems != res.Items {
		t.Fatalf("%d accepted + %d rejected events != %d events seen", accepted, res.RejectedItems, res.Items)
	}
	sum := 0
	for _, n := range res.RejectedByReason {
		sum += n
	}
	if sum != res.RejectedSamples || res.RejectedByReason[outcome.ReasonNone] != 0 {
		t.Fatalf("rejected samples by reason %v do not add up to %d", res.RejectedByReason, res.RejectedSamples)
	}
	if len(res.Rejected) > outcome.MaxRejectionDetails || len(res.Rejected) > res.RejectedItems {
		t.Fatalf("%d rejection details for %d rejected events", len(res.Rejected), res.RejectedItems)
	}
}

// renderBatch renders each series as `name{labels} value @timestamp`.
func renderBatch(b *batch.Batch) []string {
	var out []string
	for _, s := range b.Series {
		for _, smp := range s.Samples {
			out = append(out, fmt.Sprintf("%s %s @%d", batch.String(s.Labels), strconv.FormatFloat(smp.Value, 'g', -1, 64), smp.Timestamp))
		}
	}
	return out
}

// renderRejections renders each rejection as
// `event N: reason (samples): [series: ]detail`.
func renderRejections(t testing.TB, rs []outcome.Rejection) []string {
	t.Helper()
	var out []string
	for _, r := range rs {
		if r.ItemKind != ItemKind {
			t.Fatalf("rejection %+v: ItemKind %q, want %q", r, r.ItemKind, ItemKind)
		}
		line := fmt.Sprintf("event %d: %s (%d): ", r.Item, r.Reason, r.Samples)
		if r.Series != "" {
			line += r.Series + ": "
		}
		out = append(out, line+r.Detail)
	}
	return out
}

func lines(ls ...string) string { return strings.Join(ls, "\n") }

func diff(t testing.TB, what string, got, want []string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("%s:\n got:\n  %s\nwant:\n  %s", what, strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

// vehicleEvents returns n NDJSON or array events like the fleet sends.
func vehicleEvents(n int, array bool) []byte {
	regions := []string{"US", "Canada", "Mexico", "UK", "Germany", "France", "Italy", "Spain"}
	types := []string{"IC_RPM", "ELECTRIC_RPM", "WARNINGS"}
	var buf bytes.Buffer
	if array {
		buf.WriteByte('[')
	}
	for i := range n {
		if array && i > 0 {
			buf.WriteString(",\n")
		}
		fmt.Fprintf(&buf, `{"eventType": %q, "vehicleId": "V%010d", "region": %q, "timestamp": %d, "measurement": %d}`,
			types[i%3], 12345+i/3, regions[(i/3)%len(regions)], 1730621749123+int64(i)*7, (i*37)%3000)
		if !array {
			buf.WriteByte('\n')
		}
	}
	if array {
		buf.WriteByte(']')
	}
	return buf.Bytes()
}
