package jsonevent

import (
	"errors"
	"strings"
	"testing"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
)

func TestDecodeVehicles(t *testing.T) {
	m := compileYAML(t, vehiclesYAML)
	d := decode(t, m, lines(
		`{"eventType": "IC_RPM", "vehicleId": "V0000012345", "region": "UK", "timestamp": 1730621749123, "measurement": 2356}`,
		`{"eventType": "ELECTRIC_RPM", "vehicleId": "V0000012346", "region": "US", "timestamp": 1730621749124, "measurement": -9000}`,
		`{"eventType": "WARNINGS", "vehicleId": "V0000012345", "region": "UK", "timestamp": 1730621750000, "measurement": 2}`,
		`{"eventType": "SPEED", "vehicleId": "V0000012345", "region": "UK", "timestamp": 1730621750000, "measurement": 88}`,
	))
	if d.err != nil {
		t.Fatal(d.err)
	}
	diff(t, "series", d.series, []string{
		`vehicle_rpm{engine="ic", region="UK", vehicle_id="V0000012345"} 2356 @1730621749123`,
		`vehicle_rpm{engine="electric", region="US", vehicle_id="V0000012346"} -9000 @1730621749124`,
		`vehicle_warnings{region="UK", vehicle_id="V0000012345"} 2 @1730621750000`,
	})
	diff(t, "rejections", d.rejections, []string{
		`event 3: unmapped (1): no metric matches the event ("eventType": "SPEED")`,
	})
	if d.res.Items != 4 || d.res.Series != 3 || d.res.Samples != 3 || d.res.RejectedItems != 1 || d.res.RejectedSamples != 1 ||
		d.res.RejectedByReason[outcome.ReasonUnmapped] != 1 || d.accepted != 3 {
		t.Errorf("result %+v, accepted %d", d.res, d.accepted)
	}
	if msg := d.res.Message("json"); !strings.HasPrefix(msg, "json: accepted 3 samples of 3 series; rejected 1 items (1 samples)\nevent 3: unmapped") {
		t.Errorf("message %q", msg)
	}
}

func TestDecodeHostCPU(t *testing.T) {
	m := compileYAML(t, hostsYAML)
	d := decode(t, m, `{"hostname": "sleepy", "cpu": "cpu2", "usage": 87.28, "occurred_at": 1633956783483}`)
	if d.err != nil {
		t.Fatal(d.err)
	}
	diff(t, "series", d.series, []string{`cpu_usage_percent{cpu="cpu2", hostname="sleepy"} 87.28 @1633956783483`})
	diff(t, "rejections", d.rejections, nil)
	if d.res.Items != 1 || d.res.RejectedItems != 0 {
		t.Errorf("result %+v", d.res)
	}
}

func TestDecodeSeveralMetricsPerEvent(t *testing.T) {
	m := compileYAML(t, `
name: hosts
timestamp: {field: occurred_at, unit: ms}
labels: {hostname: hostname, cpu: cpu}
const_labels: {source: agent}
metrics:
  - {name: cpu_usage_percent, value: usage}
  - {name: cpu_idle_percent, value: idle}
  - {name: cpu_throttled, value: throttled, when: {throttled: true}}
`)
	d := decode(t, m, lines(
		`{"hostname": "doc", "cpu": "cpu0", "usage": 12.5, "idle": 87.5, "throttled": false, "occurred_at": 1633956783483}`,
		`{"hostname": "doc", "cpu": "cpu1", "usage": 99, "idle": 1, "throttled": true, "occurred_at": 1633956783484}`,
		`{"hostname": "doc", "cpu": "cpu2", "usage": 50, "occurred_at": 1633956783485}`,
	))
	diff(t, "series", d.series, []string{
		`cpu_usage_percent{cpu="cpu0", hostname="doc", source="agent"} 12.5 @1633956783483`,
		`cpu_idle_percent{cpu="cpu0", hostname="doc", source="agent"} 87.5 @1633956783483`,
		`cpu_usage_percent{cpu="cpu1", hostname="doc", source="agent"} 99 @1633956783484`,
		`cpu_idle_percent{cpu="cpu1", hostname="doc", source="agent"} 1 @1633956783484`,
		`cpu_throttled{cpu="cpu1", hostname="doc", source="agent"} 1 @1633956783484`,
	})
	// The third event matches two metrics and lacks the field of one: the
	// whole event is rejected with both samples.
	diff(t, "rejections", d.rejections, []string{
		`event 2: missing_field (2): field "idle" is missing (the value of cpu_idle_percent)`,
	})
	if d.res.RejectedSamples != 2 || d.res.RejectedByReason[outcome.ReasonMissingField] != 2 {
		t.Errorf("result %+v", d.res)
	}
}

func TestDecodeBodyShapes(t *testing.T) {
	m := compileYAML(t, vehiclesYAML)
	ev0 := `{"eventType": "IC_RPM", "vehicleId": "V1", "region": "UK", "timestamp": 1730621749123, "measurement": 1}`
	ev1 := `{"eventType": "WARNINGS", "vehicleId": "V2", "region": "US", "timestamp": 1730621749124, "measurement": 3}`
	both := []string{
		`vehicle_rpm{engine="ic", region="UK", vehicle_id="V1"} 1 @1730621749123`,
		`vehicle_warnings{region="US", vehicle_id="V2"} 3 @1730621749124`,
	}
	pretty := "{\n  \"eventType\": \"IC_RPM\",\n  \"vehicleId\": \"V1\",\n  \"region\": \"UK\",\n  \"timestamp\": 1730621749123,\n  \"measurement\": 1\n}\n"
	for _, tc := range []struct {
		name, body string
		items      int
		want       []string
	}{
		{"single object", ev0, 1, both[:1]},
		{"single object with newline", ev0 + "\n\n", 1, both[:1]},
		{"pretty single object", pretty, 1, both[:1]},
		{"byte order mark", "\xEF\xBB\xBF" + ev0, 1, both[:1]},
		{"array", "[" + ev0 + "," + ev1 + "]", 2, both},
		{"pretty array", "[\n  " + ev0 + ",\n  " + ev1 + "\n]\n", 2, both},
		{"array of pretty objects", "[" + pretty + "," + ev1 + "]", 2, both},
		{"empty array", " [ ] ", 0, nil},
		{"ndjson", ev0 + "\n" + ev1 + "\n", 2, both},
		{"ndjson without final newline", ev0 + "\n" + ev1, 2, both},
		{"ndjson with CRLF and blank lines", "\r\n" + ev0 + "\r\n\r\n  \t\r\n" + ev1 + "\r\n", 2, both},
		{"ndjson with indented lines", "  " + ev0 + "  \n\t" + ev1, 2, both},
		{"empty body", "", 0, nil},
		{"whitespace body", " \r\n\t\n", 0, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := decode(t, m, tc.body)
			if d.err != nil {
				t.Fatal(d.err)
			}
			diff(t, "series", d.series, tc.want)
			diff(t, "rejections", d.rejections, nil)
			if d.res.Items != tc.items {
				t.Errorf("Items = %d, want %d", d.res.Items, tc.items)
			}
		})
	}
}

// A mixed NDJSON request: every event is kept or rejected on its own.
func TestDecodeMixedRequest(t *testing.T) {
	m := compileYAML(t, vehiclesYAML)
	lim := testLimits
	lim.MaxLineBytes = 200
	d := decodeLim(t, m, lines(
		`{"eventType": "IC_RPM", "vehicleId": "V1", "region": "UK", "timestamp": 1730621749123, "measurement": 1}`,
		`{"eventType": "IC_RPM", "vehicleId": "V2", "region": "UK", "timestamp": 1730621749123}`,
		`{"eventType": "IC_RPM", "vehicleId": "V3", "region": "UK", "timestamp": 1730621749123, "measurement": "fast"}`,
		``,
		`{"eventType": "IC_RPM", "vehicleId": "V4", "region": "UK", "timestamp": "yesterday", "measurement": 1}`,
		`{"eventType": "BRAKES", "vehicleId": "V5", "region": "UK", "timestamp": 1730621749123, "measurement": 1}`,
		`{"eventType": "IC_RPM", "vehicleId": "V6", "region": "UK", "timestamp": 1730621749123, "measurement": 1,}`,
		`["IC_RPM", "V7"]`,
		`{"eventType": "IC_RPM", "vehicleId": "V8", "region": {"name": "UK"}, "timestamp": 1730621749123, "measurement": 1}`,
		`{"eventType": "IC_RPM", "vehicleId": "V9", "region": "UK", "timestamp": 1730621749123, "measurement": 1e999}`,
		`{"eventType": "IC_RPM", "vehicleId": "`+strings.Repeat("9", 200)+`"}`,
		`{"eventType": "IC_RPM", "vehicleId": "`+strings.Repeat("v", 65)+`", "region": "UK", "timestamp": 1730621749123, "measurement": 1}`,
		`{"eventType": "WARNINGS", "vehicleId": "V10", "region": "UK", "timestamp": 1730621749125, "measurement": 0}`,
	), lim)
	if d.err != nil {
		t.Fatal(d.err)
	}
	diff(t, "series", d.series, []string{
		`vehicle_rpm{engine="ic", region="UK", vehicle_id="V1"} 1 @1730621749123`,
		`vehicle_warnings{region="UK", vehicle_id="V10"} 0 @1730621749125`,
	})
	diff(t, "rejections", d.rejections, []string{
		`event 1: missing_field (1): field "measurement" is missing (the value of vehicle_rpm)`,
		`event 2: wrong_type (1): field "measurement": want a number, got a string`,
		`event 3: bad_timestamp (1): field "timestamp": want a number (unit ms), got the string "yesterday"`,
		`event 4: unmapped (1): no metric matches the event ("eventType": "BRAKES")`,
		`event 5: malformed (1): line 7, column 105: invalid JSON: invalid character '}': want a string key in "..."`,
		`event 6: malformed (1): line 8: want a JSON object, got an array`,
		`event 7: wrong_type (1): field "region": want a string, number or bool for label region, got an object`,
		`event 8: bad_value (1): field "measurement": number 1e999 is out of range`,
		`event 9: line_too_long (1): line 11: event is 240 bytes, limit 200`,
		`event 10: label_value_too_long (1): vehicle_rpm{engine="ic", region="UK", vehicle_id="` + strings.Repeat("v", 65) + `"}: value of label "vehicle_id" is 65 bytes, limit 64`,
	})
	if d.res.Items != 12 || d.res.RejectedItems != 10 || d.accepted != 2 || d.res.Series != 2 {
		t.Errorf("result %+v accepted %d", d.res, d.accepted)
	}
	for reason, n := range map[outcome.Reason]int{
		outcome.ReasonMissingField: 1, outcome.ReasonWrongType: 2, outcome.ReasonBadTimestamp: 1, outcome.ReasonUnmapped: 1,
		outcome.ReasonMalformed: 2, outcome.ReasonBadValue: 1, outcome.ReasonLineTooLong: 1, outcome.ReasonLabelValueTooLong: 1,
	} {
		if got := d.res.RejectedByReason[reason]; got != n {
			t.Errorf("RejectedByReason[%s] = %d, want %d", reason, got, n)
		}
	}
}

// Arrays and single objects that are not valid JSON fail as a whole, and
// leave the batch as it was.
func TestDecodeMalformedRequests(t *testing.T) {
	m := compileYAML(t, vehiclesYAML)
	good := `{"eventType": "IC_RPM", "vehicleId": "V1", "region": "UK", "timestamp": 1730621749123, "measurement": 1}`
	for _, tc := range []struct {
		name, body string
		lim        outcome.Limits
		want       string
		tooLarge   bool
	}{
		{name: "array with a bad element", body: "[" + good + `, {"a" 1}]`,
			want: `byte 112: invalid JSON in event 1: invalid character '1': want ':' after an object key`},
		{name: "array not closed", body: "[" + good + ",\n" + good,
			want: `byte 211 (line 2, column 105): invalid JSON in event 2: unexpected end of JSON input`},
		{name: "array with a trailing comma", body: "[" + good + ",]",
			want: `byte 106: invalid JSON in event 1: invalid character ']': want a value`},
		{name: "array with a missing comma", body: "[" + good + " " + good + "]",
			want: `byte 106: invalid JSON in event 1: invalid character '{': want ',' or ']' after an array value`},
		{name: "data after the array", body: "[" + good + "] x",
			want: `byte 107: unexpected data after the JSON array`},
		{name: "single object cut short", body: good[:40],
			want: `byte 40: invalid JSON: unexpected end of JSON input`},
		{name: "pretty object with an error", body: "{\n  \"eventType\": IC_RPM\n}\n",
			want: `byte 17 (line 2, column 16): invalid JSON: invalid character 'I': want a value`},
		{name: "pretty object then more", body: "{\n  \"a\": 1\n}\n{\"b\": 2}\n",
			want: `byte 13 (line 4, column 1): unexpected data after the JSON value (NDJSON takes one event per line)`},
		{name: "not JSON", body: "hello",
			want: `byte 0: invalid JSON: invalid character 'h': want a value`},
		{name: "NaN", body: `{"measurement": NaN}`,
			want: `byte 16: invalid JSON: invalid character 'N': want a value`},
		{name: "control character", body: "{\"a\": \"x\ty\"}",
			want: `byte 8: invalid JSON: control character 0x09 in a string (escape it)`},
		{name: "bad escape", body: `{"a": "x\qy"}`,
			want: `byte 8: invalid JSON: invalid escape sequence in a string`},
		{name: "too deep", body: "[" + strings.Repeat(`{"a":`, MaxDepth+1) + "1" + strings.Repeat("}", MaxDepth+1) + "]",
			want: `byte 321: invalid JSON in event 0: nested deeper than 64 levels`},
		{name: "too large", body: "[" + good + "]", lim: outcome.Limits{MaxDecodedBytes: 50},
			want: `body is 106 bytes, limit 50`, tooLarge: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b := &batch.Batch{}
			b.AppendSeries([]batch.Label{{Name: batch.MetricName, Value: "before"}}, []batch.Sample{{Timestamp: 1, Value: 1}})
			var s Scratch
			var res outcome.Result
			lim := tc.lim
			if lim == (outcome.Limits{}) {
				lim = testLimits
			}
			err := m.Decode([]byte(tc.body), b, lim, now, &s, &res)
			var oe *outcome.Error
			if !errors.As(err, &oe) {
				t.Fatalf("err = %v, want an *outcome.Error", err)
			}
			if err.Error() != tc.want {
				t.Errorf("err = %q\n want %q", err.Error(), tc.want)
			}
			if got := errors.Is(err, outcome.ErrTooLarge); got != tc.tooLarge {
				t.Errorf("errors.Is(err, ErrTooLarge) = %v", got)
			}
			if !tc.tooLarge && !errors.Is(err, outcome.ErrMalformed) {
				t.Errorf("errors.Is(err, ErrMalformed) = false")
			}
			if got := renderBatch(b); len(got) != 1 || got[0] != "before{} 1 @1" {
				t.Errorf("batch after a failed decode: %v", got)
			}
			if res.Items != 0 || res.Series != 0 || res.RejectedItems != 0 || s.AcceptedEvents() != 0 {
				t.Errorf("result after a failed decode: %+v", res)
			}
		})
	}
}
