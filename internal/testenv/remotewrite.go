package testenv

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sort"
	"testing"
	"time"

	"github.com/golang/snappy"
	"github.com/prometheus/prometheus/prompb"

	"github.com/premetrics/premetrics/batch"
)

// NewTimeSeries builds a remote-write series from labels (include
// "__name__") and points, with labels sorted by name as the protocol
// requires.
func NewTimeSeries(labels map[string]string, points ...Point) prompb.TimeSeries {
	ts := prompb.TimeSeries{
		Labels:  make([]prompb.Label, 0, len(labels)),
		Samples: make([]prompb.Sample, 0, len(points)),
	}
	for name, value := range labels {
		ts.Labels = append(ts.Labels, prompb.Label{Name: name, Value: value})
	}
	sort.Slice(ts.Labels, func(i, j int) bool { return ts.Labels[i].Name < ts.Labels[j].Name })
	for _, p := range points {
		ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: p.Timestamp.UnixMilli(), Value: p.Value})
	}
	return ts
}

// WriteRequestOf returns series (float samples only) as a remote write
// 1.0 request.
func WriteRequestOf(series []batch.Series) *prompb.WriteRequest {
	req := &prompb.WriteRequest{}
	for _, s := range series {
		ts := prompb.TimeSeries{}
		for _, l := range s.Labels {
			ts.Labels = append(ts.Labels, prompb.Label{Name: l.Name, Value: l.Value})
		}
		for _, x := range s.Samples {
			ts.Samples = append(ts.Samples, prompb.Sample{Timestamp: x.Timestamp, Value: x.Value})
		}
		req.Timeseries = append(req.Timeseries, ts)
	}
	return req
}

// EncodeRemoteWrite encodes req as a remote write 1.0 body: protobuf
// (gogo prompb.WriteRequest), snappy block format.
func EncodeRemoteWrite(req *prompb.WriteRequest) ([]byte, error) {
	raw, err := req.Marshal()
	if err != nil {
		return nil, fmt.Errorf("cannot marshal write request: %w", err)
	}
	return snappy.Encode(nil, raw), nil
}

// PostRemoteWrite sends req to url as a remote write 1.0 request and
// returns the response status code and body. Only transport errors fail
// the test, so tests can assert rejections.
func PostRemoteWrite(t testing.TB, url string, req *prompb.WriteRequest) (status int, body string) {
	t.Helper()
	payload, err := EncodeRemoteWrite(req)
	if err != nil {
		t.Fatal(err)
	}
	httpReq, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(payload))
	if err != nil {
		t.Fatalf("cannot build remote write request: %v", err)
	}
	httpReq.Header.Set("Content-Type", "application/x-protobuf")
	httpReq.Header.Set("Content-Encoding", "snappy")
	httpReq.Header.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	httpReq.Header.Set("User-Agent", "premetrics-testenv")
	client := &http.Client{Timeout: 30 * time.Second}
	resp, err := client.Do(httpReq)
	if err != nil {
		t.Fatalf("cannot send remote write request to %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("cannot read remote write response from %s: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

// PushRemoteWrite sends series to url as one remote write 1.0 request and
// fails the test unless the answer is 2xx.
func PushRemoteWrite(t testing.TB, url string, series ...prompb.TimeSeries) {
	t.Helper()
	status, body := PostRemoteWrite(t, url, &prompb.WriteRequest{Timeseries: series})
	if status/100 != 2 {
		t.Fatalf("remote write to %s answered %d: %s", url, status, body)
	}
}
