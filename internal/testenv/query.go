package testenv

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"sort"
	"strconv"
	"testing"
	"time"

	"github.com/prometheus/common/model"
)

// Sample is one element of an instant vector.
type Sample struct {
	Labels    map[string]string // includes __name__ when the result has it
	Value     float64
	Timestamp time.Time // millisecond precision, as stored
}

// Series is one series of a matrix: every point, oldest first.
type Series struct {
	Labels map[string]string
	Points []Point
}

// Point is one stored or evaluated sample of a Series.
type Point struct {
	Timestamp time.Time // millisecond precision
	Value     float64
}

// Query runs the instant query q at ts (the zero time means the server's
// now) and returns the vector, sorted by labels. A scalar result becomes
// one Sample with no labels. API errors, and matrix results (use
// RawSamples), fail the test.
func (p *Prometheus) Query(t testing.TB, q string, ts time.Time) []Sample {
	t.Helper()
	form := url.Values{"query": {q}}
	if !ts.IsZero() {
		form.Set("time", formatTime(ts))
	}
	resultType, raw := p.api(t, "/api/v1/query", form)
	switch resultType {
	case "vector":
		var v model.Vector
		if err := json.Unmarshal(raw, &v); err != nil {
			t.Fatalf("cannot decode vector result of %q: %v", q, err)
		}
		out := make([]Sample, 0, len(v))
		for _, s := range v {
			out = append(out, Sample{Labels: labelMap(s.Metric), Value: float64(s.Value), Timestamp: msTime(s.Timestamp)})
		}
		sort.Slice(out, func(i, j int) bool { return labelKey(out[i].Labels) < labelKey(out[j].Labels) })
		return out
	case "scalar":
		var s model.Scalar
		if err := json.Unmarshal(raw, &s); err != nil {
			t.Fatalf("cannot decode scalar result of %q: %v", q, err)
		}
		return []Sample{{Labels: map[string]string{}, Value: float64(s.Value), Timestamp: msTime(s.Timestamp)}}
	default:
		t.Fatalf("query %q returned a %s; Query wants a vector or scalar (use RawSamples or QueryRange for matrices)", q, resultType)
		return nil
	}
}

// RawSamples returns every sample stored for the series that selector (a
// series selector such as `m{job="x"}`, no functions) matches with a
// timestamp in [start, end], exact as stored: no lookback, no
// interpolation, no steps. It evaluates the range selector
// `selector[<end-start>ms]` as an instant query at end; in Prometheus 2.x
// both ends of that range are inclusive. Stale markers are not returned.
func (p *Prometheus) RawSamples(t testing.TB, selector string, start, end time.Time) []Series {
	t.Helper()
	rng := end.Truncate(time.Millisecond).Sub(start.Truncate(time.Millisecond)).Milliseconds()
	if rng <= 0 {
		t.Fatalf("RawSamples: end %v must be after start %v", end, start)
	}
	q := fmt.Sprintf("%s[%dms]", selector, rng)
	resultType, raw := p.api(t, "/api/v1/query", url.Values{"query": {q}, "time": {formatTime(end)}})
	if resultType != "matrix" {
		t.Fatalf("query %q returned a %s, want a matrix; is %q a plain series selector?", q, resultType, selector)
	}
	return decodeMatrix(t, q, raw)
}

// QueryRange runs q as a range query from start to end every step and
// returns the matrix, sorted by labels.
func (p *Prometheus) QueryRange(t testing.TB, q string, start, end time.Time, step time.Duration) []Series {
	t.Helper()
	form := url.Values{
		"query": {q},
		"start": {formatTime(start)},
		"end":   {formatTime(end)},
		"step":  {strconv.FormatFloat(step.Seconds(), 'f', -1, 64)},
	}
	resultType, raw := p.api(t, "/api/v1/query_range", form)
	if resultType != "matrix" {
		t.Fatalf("range query %q returned a %s, want a matrix", q, resultType)
	}
	return decodeMatrix(t, q, raw)
}

// SeriesLabels returns the label sets of the series that match selector
// and have samples in [start, end] (/api/v1/series), sorted.
func (p *Prometheus) SeriesLabels(t testing.TB, selector string, start, end time.Time) []map[string]string {
	t.Helper()
	form := url.Values{"match[]": {selector}, "start": {formatTime(start)}, "end": {formatTime(end)}}
	var sets []map[string]string
	p.call(t, "/api/v1/series", form, &sets)
	sort.Slice(sets, func(i, j int) bool { return labelKey(sets[i]) < labelKey(sets[j]) })
	return sets
}

func decodeMatrix(t testing.TB, q string, raw json.RawMessage) []Series {
	t.Helper()
	var m model.Matrix
	if err := json.Unmarshal(raw, &m); err != nil {
		t.Fatalf("cannot decode matrix result of %q: %v", q, err)
	}
	out := make([]Series, 0, len(m))
	for _, ss := range m {
		s := Series{Labels: labelMap(ss.Metric), Points: make([]Point, 0, len(ss.Values))}
		for _, v := range ss.Values {
			s.Points = append(s.Points, Point{Timestamp: msTime(v.Timestamp), Value: float64(v.Value)})
		}
		out = append(out, s)
	}
	sort.Slice(out, func(i, j int) bool { return labelKey(out[i].Labels) < labelKey(out[j].Labels) })
	return out
}

// api calls a query endpoint and returns the result type and raw result.
func (p *Prometheus) api(t testing.TB, path string, form url.Values) (resultType string, result json.RawMessage) {
	t.Helper()
	var data struct {
		ResultType string          `json:"resultType"`
		Result     json.RawMessage `json:"result"`
	}
	p.call(t, path, form, &data)
	return data.ResultType, data.Result
}

// call POSTs form to an HTTP API endpoint and decodes its data into dst,
// failing the test on transport errors and error responses.
func (p *Prometheus) call(t testing.TB, path string, form url.Values, dst any) {
	t.Helper()
	resp, err := p.client.PostForm(p.url+path, form)
	if err != nil {
		t.Fatalf("cannot call %s %v: %v", path, form, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("cannot read %s response: %v", path, err)
	}
	var env struct {
		Status    string          `json:"status"`
		Data      json.RawMessage `json:"data"`
		ErrorType string          `json:"errorType"`
		Error     string          `json:"error"`
		Warnings  []string        `json:"warnings"`
	}
	if err := json.Unmarshal(body, &env); err != nil {
		t.Fatalf("cannot decode %s response (%s): %v: %.500s", path, resp.Status, err, body)
	}
	if env.Status != "success" {
		t.Fatalf("%s %v failed (%s): %s: %s", path, form, resp.Status, env.ErrorType, env.Error)
	}
	for _, w := range env.Warnings {
		t.Logf("%s %v: warning: %s", path, form, w)
	}
	if err := json.Unmarshal(env.Data, dst); err != nil {
		t.Fatalf("cannot decode %s data: %v: %.500s", path, err, env.Data)
	}
}

// formatTime formats ts for the HTTP API, exact to the millisecond.
func formatTime(ts time.Time) string {
	return ts.UTC().Truncate(time.Millisecond).Format(time.RFC3339Nano)
}

func msTime(ts model.Time) time.Time { return time.UnixMilli(int64(ts)) }

func labelMap(m model.Metric) map[string]string {
	out := make(map[string]string, len(m))
	for k, v := range m {
		out[string(k)] = string(v)
	}
	return out
}

// labelKey renders labels as {a="1", b="2"} with sorted names.
func labelKey(ls map[string]string) string {
	m := make(model.Metric, len(ls))
	for k, v := range ls {
		m[model.LabelName(k)] = model.LabelValue(v)
	}
	return m.String()
}

// readError describes a non-2xx response with the start of its body.
func readError(resp *http.Response) string {
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return fmt.Sprintf("%s: %s", resp.Status, body)
}
