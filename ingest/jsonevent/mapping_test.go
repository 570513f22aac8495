package jsonevent

import (
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
)

// caseTable runs single-event bodies through m and compares series and
// rejections.
type eventCase struct {
	name, body string
	series     []string
	rejections []string
}

func runEventCases(t *testing.T, m *Mapping, lim outcome.Limits, cases []eventCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			d := decodeLim(t, m, tc.body, lim)
			if d.err != nil {
				t.Fatal(d.err)
			}
			diff(t, "series", d.series, tc.series)
			diff(t, "rejections", d.rejections, tc.rejections)
		})
	}
}

func TestDecodeRejectsEvents(t *testing.T) {
	m := compileYAML(t, `
name: devices
timestamp: {field: ts, unit: ms}
labels: {device: id}
metrics:
  - {name: temperature, value: temp, when: {kind: climate}}
  - {name: humidity, value: hum, when: {kind: climate}}
  - {name: battery, value: battery.level, labels_from: {cell: battery.cell}, when: {kind: power}}
`)
	lim := outcome.Limits{MaxLabelsPerSeries: 3, MaxLabelNameLength: 8, MaxLabelValueLength: 12, MaxLineBytes: 300}
	runEventCases(t, m, lim, []eventCase{
		{name: "accepted", body: `{"kind": "climate", "id": "d1", "ts": 1730621749123, "temp": 21.5, "hum": 40}`,
			series: []string{`temperature{device="d1"} 21.5 @1730621749123`, `humidity{device="d1"} 40 @1730621749123`}},
		{name: "missing value field", body: `{"kind": "climate", "id": "d1", "ts": 1730621749123, "temp": 21.5}`,
			rejections: []string{`event 0: missing_field (2): field "hum" is missing (the value of humidity)`}},
		{name: "missing label field", body: `{"kind": "climate", "ts": 1730621749123, "temp": 21.5, "hum": 40}`,
			rejections: []string{`event 0: missing_field (2): field "id" is missing (label device of temperature)`}},
		{name: "missing nested label field", body: `{"kind": "power", "id": "d1", "ts": 1730621749123, "battery": {"level": 80}}`,
			rejections: []string{`event 0: missing_field (1): field "battery.cell" is missing (label cell of battery)`}},
		{name: "value is a string", body: `{"kind": "climate", "id": "d1", "temp": "warm", "hum": 40}`,
			rejections: []string{`event 0: wrong_type (2): field "temp": want a number, got a string`}},
		{name: "value is an object", body: `{"kind": "climate", "id": "d1", "temp": {"c": 21}, "hum": 40}`,
			rejections: []string{`event 0: wrong_type (2): field "temp": want a number, got an object`}},
		{name: "value is an array", body: `{"kind": "climate", "id": "d1", "temp": [21], "hum": 40}`,
			rejections: []string{`event 0: wrong_type (2): field "temp": want a number, got an array`}},
		{name: "value is null", body: `{"kind": "climate", "id": "d1", "temp": null, "hum": 40}`,
			rejections: []string{`event 0: wrong_type (2): field "temp": want a number, got null`}},
		{name: "value out of range", body: `{"kind": "climate", "id": "d1", "temp": 21, "hum": -2e308}`,
			rejections: []string{`event 0: bad_value (2): field "hum": number -2e308 is out of range`}},
		{name: "value string out of range", body: `{"kind": "climate", "id": "d1", "temp": "1e400", "hum": 1}`,
			rejections: []string{`event 0: bad_value (2): field "temp": number 1e400 is out of range`}},
		{name: "label is an object", body: `{"kind": "climate", "id": {"serial": 1}, "temp": 21, "hum": 40}`,
			rejections: []string{`event 0: wrong_type (2): field "id": want a string, number or bool for label device, got an object`}},
		{name: "label is an array", body: `{"kind": "climate", "id": ["d1"], "temp": 21, "hum": 40}`,
			rejections: []string{`event 0: wrong_type (2): field "id": want a string, number or bool for label device, got an array`}},
		{name: "timestamp is an object", body: `{"kind": "climate", "id": "d1", "ts": {"ms": 1}, "temp": 21, "hum": 40}`,
			rejections: []string{`event 0: bad_timestamp (2): field "ts": want a number (unit ms), got an object`}},
		{name: "timestamp is a bool", body: `{"kind": "climate", "id": "d1", "ts": true, "temp": 21, "hum": 40}`,
			rejections: []string{`event 0: bad_timestamp (2): field "ts": want a number (unit ms), got a bool`}},
		{name: "timestamp in seconds sent as ms", body: `{"kind": "climate", "id": "d1", "ts": 1730621749, "temp": 21, "hum": 40}`,
			rejections: []string{`event 0: bad_timestamp (2): field "ts": 1730621749 ms is 1970-01-21T00:43:41.749Z, outside 2000-01-01T00:00:00Z..2200-01-01T00:00:00Z`}},
		{name: "timestamp negative", body: `{"kind": "climate", "id": "d1", "ts": -1730621749123, "temp": 21, "hum": 40}`,
			rejections: []string{`event 0: bad_timestamp (2): field "ts": negative timestamp -1730621749123 ms`}},
		{name: "timestamp absurd", body: `{"kind": "climate", "id": "d1", "ts": 1e300, "temp": 21, "hum": 40}`,
			rejections: []string{`event 0: bad_timestamp (2): field "ts": 1e300 ms is after 2200-01-01T00:00:00Z`}},
		{name: "timestamp zero", body: `{"kind": "climate", "id": "d1", "ts": 0, "temp": 21, "hum": 40}`,
			rejections: []string{`event 0: bad_timestamp (2): field "ts": 0 ms is 1970-01-01T00:00:00Z, outside 2000-01-01T00:00:00Z..2200-01-01T00:00:00Z`}},
		{name: "unmapped", body: `{"kind": "door", "id": "d1", "open": true}`,
			rejections: []string{`event 0: unmapped (1): no metric matches the event ("kind": "door")`}},
		{name: "unmapped without the when field", body: `{"id": "d1", "temp": 21}`,
			rejections: []string{`event 0: unmapped (1): no metric matches the event ("kind": absent)`}},
		{name: "unmapped number", body: `{"kind": 7, "id": "d1"}`,
			rejections: []string{`event 0: unmapped (1): no metric matches the event ("kind": 7)`}},
		{name: "not an object", body: `"climate"`,
			rejections: []string{`event 0: malformed (1): want a JSON object, got a string`}},
		{name: "array of non-objects", body: `[1, null, {"kind": "door"}]`,
			rejections: []string{
				`event 0: malformed (1): want a JSON object, got a number`,
				`event 1: malformed (1): want a JSON object, got null`,
				`event 2: unmapped (1): no metric matches the event ("kind": "door")`,
			}},
		{name: "event too long", body: `[{"kind": "climate", "pad": "` + strings.Repeat("x", 300) + `"}]`,
			rejections: []string{`event 0: line_too_long (1): event is 330 bytes, limit 300`}},
		{name: "label value too long", body: `{"kind": "climate", "id": "d123456789012", "temp": 21, "hum": 40}`,
			rejections: []string{`event 0: label_value_too_long (2): temperature{device="d123456789012"}: value of label "device" is 13 bytes, limit 12`}},
		{name: "label value not UTF-8", body: "{\"kind\": \"climate\", \"id\": \"d\xff\", \"temp\": 21, \"hum\": 40}",
			rejections: []string{"event 0: invalid_label_value (2): temperature{device=\"d\xff\"}: value of label \"device\" is not valid UTF-8"}},
	})
	// The battery series has three labels with __name__.
	lim.MaxLabelsPerSeries = 2
	runEventCases(t, m, lim, []eventCase{
		{name: "too many labels", body: `{"kind": "power", "id": "d1", "battery": {"level": 80, "cell": "c1"}}`,
			rejections: []string{`event 0: too_many_labels (1): battery{cell="c1", device="d1"}: 3 labels, limit 2`}},
		{name: "empty values do not count", body: `{"kind": "power", "id": "d1", "battery": {"level": 80, "cell": ""}}`,
			series: []string{`battery{device="d1"} 80 @1730000000000`}},
	})
	lim.MaxLabelsPerSeries, lim.MaxLabelNameLength = 8, 3
	runEventCases(t, m, lim, []eventCase{
		{name: "label name too long", body: `{"kind": "climate", "id": "d1", "temp": 21, "hum": 40}`,
			rejections: []string{`event 0: label_name_too_long (2): temperature{device="d1"}: label name "__name__" is 8 bytes, limit 3`}},
	})
}

func TestDecodeTimestampUnits(t *testing.T) {
	cfg := func(unit string) *Mapping {
		return compileYAML(t, fmt.Sprintf("name: u\ntimestamp: {field: t, unit: %s}\nmetrics: [{name: m, value: v}]\n", unit))
	}
	for _, tc := range []struct {
		unit, t string
		want    string // the sample timestamp, or the rejection detail
	}{
		{"ms", `1730621749123`, "1730621749123"},
		{"ms", `1730621749123.9`, "1730621749123"},
		{"ms", `"1730621749123"`, "1730621749123"},
		{"ms", `1.730621749123e12`, "1730621749123"},
		{"ms", `1730621749123E0`, "1730621749123"},
		{"ms", `null`, "1730000000000"},
		{"s", `1633956783`, "1633956783000"},
		{"s", `1633956783.483`, "1633956783483"},
		{"s", `1633956783.4839999`, "1633956783483"},
		{"s", `"1633956783.483"`, "1633956783483"},
		{"s", `16339567.83483e2`, "1633956783483"},
		{"s", `1633956783483`, `field "t": 1633956783483 s is after 2200-01-01T00:00:00Z`},
		{"us", `1730621749123456`, "1730621749123"},
		{"us", `1730621749123456.7`, "1730621749123"},
		{"ns", `1730621749123456789`, "1730621749123"},
		{"ns", `1730621749123456789123`, `field "t": 1730621749123456789123 ns is after 2200-01-01T00:00:00Z`},
		{"ns", `"abc"`, `field "t": want a number (unit ns), got the string "abc"`},
		{"ms", `946684800000`, "946684800000"},
		{"ms", `946684799999`, `field "t": 946684799999 ms is 1999-12-31T23:59:59.999Z, outside 2000-01-01T00:00:00Z..2200-01-01T00:00:00Z`},
		{"ms", `7258118399999`, "7258118399999"},
		{"ms", `7258118400000`, `field "t": 7258118400000 ms is after 2200-01-01T00:00:00Z`},
		{"ms", `0.5e-3`, `field "t": 0.5e-3 ms is 1970-01-01T00:00:00Z, outside 2000-01-01T00:00:00Z..2200-01-01T00:00:00Z`},
		{"ms", `0e999999999`, `field "t": 0e999999999 ms is 1970-01-01T00:00:00Z, outside 2000-01-01T00:00:00Z..2200-01-01T00:00:00Z`},
		{"ms", `1e999999999`, `field "t": 1e999999999 ms is after 2200-01-01T00:00:00Z`},
		{"rfc3339", `"2024-11-03T08:15:49Z"`, "1730621749000"},
		{"rfc3339", `"2024-11-03T08:15:49.123Z"`, "1730621749123"},
		{"rfc3339", `"2024-11-03T08:15:49.1239Z"`, "1730621749123"},
		{"rfc3339", `"2024-11-03T09:15:49.123+01:00"`, "1730621749123"},
		{"rfc3339", `"2024-11-03T02:45:49.123-05:30"`, "1730621749123"},
		{"rfc3339", `"2024-11-03 08:15:49Z"`, `field "t": "2024-11-03 08:15:49Z" is not an RFC 3339 time like 2024-11-03T08:15:49.123Z`},
		{"rfc3339", `1730621749123`, `field "t": want an RFC 3339 string, got a number`},
		{"rfc3339", `"1970-01-01T00:00:00Z"`, `field "t": "1970-01-01T00:00:00Z" is 1970-01-01T00:00:00Z, outside 2000-01-01T00:00:00Z..2200-01-01T00:00:00Z`},
	} {
		t.Run(tc.unit+" "+tc.t, func(t *testing.T) {
			d := decode(t, cfg(tc.unit), `{"v": 1, "t": `+tc.t+`}`)
			if d.err != nil {
				t.Fatal(d.err)
			}
			if strings.HasPrefix(tc.want, "field") {
				diff(t, "rejections", d.rejections, []string{"event 0: bad_timestamp (1): " + tc.want})
				return
			}
			diff(t, "series", d.series, []string{"m{} 1 @" + tc.want})
		})
	}
	t.Run("absent field", func(t *testing.T) {
		d := decode(t, cfg("ms"), `{"v": 1}`)
		diff(t, "series", d.series, []string{"m{} 1 @1730000000000"})
	})
	t.Run("default unit", func(t *testing.T) {
		m := compileYAML(t, "name: u\ntimestamp: {field: t}\nmetrics: [{name: m, value: v}]\n")
		diff(t, "series", decode(t, m, `{"v": 1, "t": 1730621749123}`).series, []string{"m{} 1 @1730621749123"})
	})
	t.Run("no timestamp config", func(t *testing.T) {
		m := compileYAML(t, "name: u\nmetrics: [{name: m, value: v}]\n")
		diff(t, "series", decode(t, m, `{"v": 1, "timestamp": 1730621749123}`).series, []string{"m{} 1 @1730000000000"})
	})
}

func TestDecodeDottedPaths(t *testing.T) {
	m := compileYAML(t, `
name: nested
timestamp: {field: meta.time.ms}
labels: {site: meta.site.name, first_tag: meta.tags.0}
metrics:
  - {name: reading, value: data.readings.1.v, when: {meta.kind: sensor, data.ok: true}}
`)
	runEventCases(t, m, testLimits, []eventCase{
		{name: "deep fields and array indexes",
			body:   `{"meta": {"kind": "sensor", "site": {"name": "berlin"}, "tags": ["a", "b"], "time": {"ms": 1730621749123}}, "data": {"ok": true, "readings": [{"v": 1}, {"v": 2.5}]}}`,
			series: []string{`reading{first_tag="a", site="berlin"} 2.5 @1730621749123`}},
		{name: "index out of range",
			body:       `{"meta": {"kind": "sensor", "site": {"name": "berlin"}, "tags": ["a"]}, "data": {"ok": true, "readings": [{"v": 1}]}}`,
			rejections: []string{`event 0: missing_field (1): field "data.readings.1.v" is missing (the value of reading)`}},
		{name: "path through a scalar",
			body:       `{"meta": {"kind": "sensor", "site": "berlin", "tags": ["a"]}, "data": {"ok": true, "readings": [{"v": 1}, {"v": 2}]}}`,
			rejections: []string{`event 0: missing_field (1): field "meta.site.name" is missing (label site of reading)`}},
		{name: "a dotted key is not a path",
			body:       `{"meta.kind": "sensor", "data": {"ok": true}}`,
			rejections: []string{`event 0: unmapped (1): no metric matches the event ("data.ok": true, "meta.kind": absent)`}},
	})
}

func TestDecodeWhen(t *testing.T) {
	m := compileYAML(t, `
name: w
metrics:
  - {name: all_fields, value: v, when: {kind: a, level: 2, on: true}}
  - {name: alternatives, value: v, when: {kind: [b, c]}}
  - {name: number_as_string, value: v, when: {code: "42"}}
  - {name: number, value: v, when: {code: 42}}
  - {name: negative_bool, value: v, when: {on: false, kind: d}}
`)
	runEventCases(t, m, testLimits, []eventCase{
		{name: "every field matches", body: `{"kind": "a", "level": 2, "on": true, "v": 1}`,
			series: []string{`all_fields{} 1 @1730000000000`}},
		{name: "numbers compare numerically", body: `{"kind": "a", "level": 2.0e0, "on": true, "v": 1}`,
			series: []string{`all_fields{} 1 @1730000000000`}},
		{name: "one field differs", body: `{"kind": "a", "level": 3, "on": true, "v": 1}`,
			rejections: []string{`event 0: unmapped (1): no metric matches the event ("code": absent, "kind": "a", "level": 3, "on": true)`}},
		{name: "a string is not a number", body: `{"kind": "a", "level": "2", "on": true, "v": 1}`,
			rejections: []string{`event 0: unmapped (1): no metric matches the event ("code": absent, "kind": "a", "level": "2", "on": true)`}},
		{name: "a string is not a bool", body: `{"kind": "a", "level": 2, "on": "true", "v": 1}`,
			rejections: []string{`event 0: unmapped (1): no metric matches the event ("code": absent, "kind": "a", "level": 2, "on": "true")`}},
		{name: "alternative b", body: `{"kind": "b", "v": 1}`, series: []string{`alternatives{} 1 @1730000000000`}},
		{name: "alternative c", body: `{"kind": "c", "v": 1}`, series: []string{`alternatives{} 1 @1730000000000`}},
		{name: "quoted YAML matches the string", body: `{"code": "42", "v": 1}`, series: []string{`number_as_string{} 1 @1730000000000`}},
		{name: "unquoted YAML matches the number", body: `{"code": 42, "v": 1}`, series: []string{`number{} 1 @1730000000000`}},
		{name: "false", body: `{"kind": "d", "on": false, "v": 1}`, series: []string{`negative_bool{} 1 @1730000000000`}},
		{name: "escaped strings are compared unescaped", body: `{"kind": "\u0062", "v": 1}`, series: []string{`alternatives{} 1 @1730000000000`}},
		{name: "the first of duplicate keys counts", body: `{"kind": "b", "kind": "x", "v": 1}`, series: []string{`alternatives{} 1 @1730000000000`}},
	})
}

func TestDecodeLabelAndSampleValues(t *testing.T) {
	m := compileYAML(t, `
name: values
labels: {id: id}
const_labels: {source: test}
metrics:
  - {name: m, value: v, labels: {kind: k}, labels_from: {extra: x}}
`)
	runEventCases(t, m, testLimits, []eventCase{
		{name: "string label", body: `{"id": "a", "x": "b", "v": 1}`, series: []string{`m{extra="b", id="a", kind="k", source="test"} 1 @1730000000000`}},
		{name: "number label is its JSON text", body: `{"id": 1.50, "x": -1e3, "v": 1}`, series: []string{`m{extra="-1e3", id="1.50", kind="k", source="test"} 1 @1730000000000`}},
		{name: "bool labels", body: `{"id": true, "x": false, "v": 1}`, series: []string{`m{extra="false", id="true", kind="k", source="test"} 1 @1730000000000`}},
		{name: "empty and null labels are dropped", body: `{"id": "", "x": null, "v": 1}`, series: []string{`m{kind="k", source="test"} 1 @1730000000000`}},
		{name: "escapes are decoded", body: `{"id": "a\"b\\c\u00e9\n", "x": "\ud83d\ude00", "v": 1}`, series: []string{"m{extra=\"😀\", id=\"a\\\"b\\\\cé\n\", kind=\"k\", source=\"test\"} 1 @1730000000000"}},
		{name: "true is 1", body: `{"id": "a", "x": "b", "v": true}`, series: []string{`m{extra="b", id="a", kind="k", source="test"} 1 @1730000000000`}},
		{name: "false is 0", body: `{"id": "a", "x": "b", "v": false}`, series: []string{`m{extra="b", id="a", kind="k", source="test"} 0 @1730000000000`}},
		{name: "numeric string", body: `{"id": "a", "x": "b", "v": "-87.28e-1"}`, series: []string{`m{extra="b", id="a", kind="k", source="test"} -8.728 @1730000000000`}},
		{name: "string with spaces is not a number", body: `{"id": "a", "x": "b", "v": " 1"}`, rejections: []string{`event 0: wrong_type (1): field "v": want a number, got a string`}},
		{name: "hex string is not a number", body: `{"id": "a", "x": "b", "v": "0x10"}`, rejections: []string{`event 0: wrong_type (1): field "v": want a number, got a string`}},
		{name: "large integer", body: `{"id": "a", "x": "b", "v": 12345678901234567890}`, series: []string{`m{extra="b", id="a", kind="k", source="test"} 1.2345678901234567e+19 @1730000000000`}},
		{name: "negative zero", body: `{"id": "a", "x": "b", "v": -0}`, series: []string{`m{extra="b", id="a", kind="k", source="test"} -0 @1730000000000`}},
		{name: "tiny number", body: `{"id": "a", "x": "b", "v": 1e-400}`, series: []string{`m{extra="b", id="a", kind="k", source="test"} 0 @1730000000000`}},
	})
}

// Labels are copied: neither the body nor the parser's buffers (reused by
// the next request) may be aliased by the batch.
func TestDecodeDoesNotAliasBodyOrParser(t *testing.T) {
	m := compileYAML(t, hostsYAML)
	var s Scratch
	var res outcome.Result
	b1, b2 := &batch.Batch{}, &batch.Batch{}
	body := []byte(`[{"hostname": "sleepy", "cpu": "cpu2", "usage": 1, "occurred_at": 1633956783483}]`)
	if err := m.Decode(body, b1, testLimits, now, &s, &res); err != nil {
		t.Fatal(err)
	}
	for i := range body {
		body[i] = 'x'
	}
	body2 := []byte(`{"hostname": "grumpy", "cpu": "cpu9", "usage": 2, "occurred_at": 1633956783484}`)
	if err := m.Decode(body2, b2, testLimits, now, &s, &res); err != nil {
		t.Fatal(err)
	}
	diff(t, "first batch", renderBatch(b1), []string{`cpu_usage_percent{cpu="cpu2", hostname="sleepy"} 1 @1633956783483`})
	diff(t, "second batch", renderBatch(b2), []string{`cpu_usage_percent{cpu="cpu9", hostname="grumpy"} 2 @1633956783484`})
}

func TestDecodeAppendsToBatch(t *testing.T) {
	m := compileYAML(t, hostsYAML)
	b := &batch.Batch{}
	b.AppendSeries([]batch.Label{{Name: batch.MetricName, Value: "before"}}, []batch.Sample{{Timestamp: 1, Value: 1}})
	var res outcome.Result
	if err := m.Decode([]byte(`{"hostname": "h", "cpu": "c", "usage": 1, "occurred_at": 1633956783483}`), b, testLimits, now, nil, &res); err != nil {
		t.Fatal(err)
	}
	diff(t, "batch", renderBatch(b), []string{"before{} 1 @1", `cpu_usage_percent{cpu="c", hostname="h"} 1 @1633956783483`})
	if res.Series != 1 || res.Samples != 1 {
		t.Errorf("result %+v counts the series that were already there", res)
	}
}

func TestDecodeBoundsRejectionDetails(t *testing.T) {
	m := compileYAML(t, vehiclesYAML)
	var sb strings.Builder
	for i := range 25 {
		fmt.Fprintf(&sb, `{"eventType": "X%d"}`+"\n", i)
	}
	d := decode(t, m, sb.String())
	if len(d.rejections) != outcome.MaxRejectionDetails || d.res.RejectedItems != 25 || d.res.Items != 25 ||
		d.res.RejectedByReason[outcome.ReasonUnmapped] != 25 {
		t.Fatalf("%d details, result %+v", len(d.rejections), d.res)
	}
	if d.rejections[9] != `event 9: unmapped (1): no metric matches the event ("eventType": "X9")` {
		t.Errorf("last detail %q", d.rejections[9])
	}
	if msg := d.res.Message("json"); !strings.HasSuffix(msg, "\n... and 15 more rejected items") {
		t.Errorf("message %q", msg)
	}
}

// A Mapping is shared by concurrent requests, each with its own Scratch
// (run with -race).
func TestDecodeConcurrently(t *testing.T) {
	m := compileYAML(t, vehiclesYAML)
	body := vehicleEvents(300, false)
	var wg sync.WaitGroup
	for g := range 4 {
		wg.Go(func() {
			s := GetScratch()
			defer PutScratch(s)
			b := batch.GetBatch()
			defer batch.PutBatch(b)
			var res outcome.Result
			for range 20 {
				b.Reset()
				if err := m.Decode(body, b, testLimits, now, s, &res); err != nil {
					t.Error(err)
					return
				}
				if res.Series != 300 || res.RejectedItems != 0 {
					t.Errorf("goroutine %d: %+v", g, res)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestDecodeReusesScratchAcrossMappings(t *testing.T) {
	small := compileYAML(t, "name: a\nmetrics: [{name: m, value: v}]\n")
	big := compileYAML(t, vehiclesYAML)
	var s Scratch
	var res outcome.Result
	for range 3 {
		for _, tc := range []struct {
			m    *Mapping
			body string
			want string
		}{
			{small, `{"v": 3}`, "m{} 3 @1730000000000"},
			{big, `{"eventType": "WARNINGS", "vehicleId": "V1", "region": "UK", "timestamp": 1730621749123, "measurement": 2}`,
				`vehicle_warnings{region="UK", vehicle_id="V1"} 2 @1730621749123`},
		} {
			b := &batch.Batch{}
			if err := tc.m.Decode([]byte(tc.body), b, testLimits, now, &s, &res); err != nil {
				t.Fatal(err)
			}
			diff(t, "batch", renderBatch(b), []string{tc.want})
		}
	}
}
