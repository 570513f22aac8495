package rwtest

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/premetrics/premetrics/batch"
)

func body(t *testing.T, series ...prompb.TimeSeries) []byte {
	t.Helper()
	raw, err := (&prompb.WriteRequest{Timeseries: series}).Marshal()
	if err != nil {
		t.Fatal(err)
	}
	return snappy.Encode(nil, raw)
}

func ts(name, host string, samples ...int64) prompb.TimeSeries {
	s := prompb.TimeSeries{Labels: []prompb.Label{{Name: "__name__", Value: name}, {Name: "host", Value: host}}}
	for _, t := range samples {
		s.Samples = append(s.Samples, prompb.Sample{Timestamp: t, Value: float64(t)})
	}
	return s
}

type answer struct {
	status     int
	retryAfter string
	body       string
}

func post(t *testing.T, url string, b []byte, mod func(*http.Request)) answer {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Encoding", "snappy")
	req.Header.Set("Content-Type", "application/x-protobuf")
	if mod != nil {
		mod(req)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	msg, _ := io.ReadAll(resp.Body)
	return answer{resp.StatusCode, resp.Header.Get("Retry-After"), strings.TrimSpace(string(msg))}
}

func TestScriptThenDefault(t *testing.T) {
	r := New(t)
	r.Script(Response{Status: 500, Body: "boom"}, Response{Status: 429, RetryAfter: "7"})
	req := body(t, ts("up", "a", 1, 2))
	for i, want := range []answer{{500, "", "boom"}, {429, "7", ""}, {204, "", ""}, {204, "", ""}} {
		if got := post(t, r.URL(), req, nil); got != want {
			t.Errorf("request %d: got %+v, want %+v", i, got, want)
		}
	}
	if got := r.Samples(`up{host="a"}`); len(got) != 4 || got[0] != (batch.Sample{Timestamp: 1, Value: 1}) {
		t.Errorf("stored %v, want the two 2xx requests' samples", got)
	}
	if r.SampleCount() != 4 || len(r.Requests()) != 4 || r.Requests()[0].Status != 500 {
		t.Errorf("count %d requests %v", r.SampleCount(), r.Requests())
	}
	r.SetDefault(Response{Status: 503})
	if got := post(t, r.URL(), req, nil); got.status != 503 {
		t.Errorf("default 503: got %+v", got)
	}
	if r.SampleCount() != 4 {
		t.Error("a 503 request was stored")
	}
}

func TestRejectSeries(t *testing.T) {
	r := New(t)
	r.RejectSeries(`up{host="bad"}`, Response{})
	r.RejectSeries(`up{host="limited"}`, Response{Status: 429, RetryAfter: "1"})
	if got := post(t, r.URL(), body(t, ts("up", "a", 1), ts("up", "bad", 1)), nil); got.status != 400 || got.body != `rejected series up{host="bad"}` {
		t.Errorf("got %+v", got)
	}
	if got := post(t, r.URL(), body(t, ts("up", "limited", 1)), nil); got.status != 429 || got.retryAfter != "1" {
		t.Errorf("got %+v", got)
	}
	if got := post(t, r.URL(), body(t, ts("up", "a", 1)), nil); got.status != 204 {
		t.Errorf("got %+v", got)
	}
	stored := r.Stored()
	if len(stored) != 1 || stored[0].Name != `up{host="a"}` || len(stored[0].Samples) != 1 {
		t.Errorf("stored %+v", stored)
	}
}

func TestMalformedRequests(t *testing.T) {
	r := New(t)
	good := body(t, ts("up", "a", 1))
	unsorted := body(t, prompb.TimeSeries{Labels: []prompb.Label{{Name: "z", Value: "1"}, {Name: "a", Value: "2"}}})
	for _, tc := range []struct {
		name string
		body []byte
		mod  func(*http.Request)
		want int
		msg  string
	}{
		{"encoding", good, func(q *http.Request) { q.Header.Set("Content-Encoding", "gzip") }, 415, "Content-Encoding"},
		{"type", good, func(q *http.Request) { q.Header.Set("Content-Type", "application/json") }, 415, "Content-Type"},
		{"method", good, func(q *http.Request) { q.Method = http.MethodPut }, 405, "method"},
		{"snappy", []byte("not snappy"), nil, 400, "snappy"},
		{"protobuf", snappy.Encode(nil, []byte{0x0a, 0xff}), nil, 400, "WriteRequest"},
		{"unsorted", unsorted, nil, 400, "not sorted"},
		{"path", good, func(q *http.Request) { q.URL.Path = "/write" }, 404, "path"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := post(t, r.URL(), tc.body, tc.mod)
			if got.status != tc.want || !strings.Contains(got.body, tc.msg) {
				t.Errorf("got %+v, want %d with %q", got, tc.want, tc.msg)
			}
		})
	}
	if r.SampleCount() != 0 {
		t.Error("a malformed request was stored")
	}
	for _, q := range r.Requests() {
		if q.Error == "" {
			t.Errorf("request %v has no error", q)
		}
	}
}

func TestWait(t *testing.T) {
	r := New(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Millisecond)
	defer cancel()
	if err := r.WaitSamples(ctx, 1); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("WaitSamples on an idle receiver = %v", err)
	}
	done := make(chan error)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		done <- r.WaitSamples(ctx, 3)
	}()
	post(t, r.URL(), body(t, ts("up", "a", 1)), nil)
	post(t, r.URL(), body(t, ts("up", "a", 2, 3)), nil)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}
