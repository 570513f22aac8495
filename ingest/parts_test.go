package ingest

import (
	"bytes"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/iotest"
	"time"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/prompb"
	"gopkg.in/yaml.v3"
)

func TestParseRemoteWriteType(t *testing.T) {
	tests := []struct {
		in    string
		want  rwFormat
		proto string
	}{
		{"", rwV1, ""},
		{"application/x-protobuf", rwV1, ""},
		{"Application/X-Protobuf", rwV1, ""},
		{"application/x-protobuf;proto=prometheus.WriteRequest", rwV1, protoV1},
		{`application/x-protobuf; charset=binary; proto="prometheus.WriteRequest"`, rwV1, protoV1},
		{"application/x-protobuf;proto=io.prometheus.write.v2.Request", rwV2, protoV2},
		{"application/x-protobuf ; PROTO = io.prometheus.write.v2.Request", rwV2, protoV2},
		{"application/x-protobuf;proto=foo", rwBadProto, "foo"},
		{"application/json", rwBadMedia, ""},
		{"text/plain; proto=prometheus.WriteRequest", rwBadMedia, ""},
		{"application/x-protobuf-foo", rwBadMedia, ""},
	}
	for _, tc := range tests {
		got, proto := parseRemoteWriteType(tc.in)
		if got != tc.want || proto != tc.proto {
			t.Errorf("%q: got %d %q, want %d %q", tc.in, got, proto, tc.want, tc.proto)
		}
	}
}

func TestReadBody(t *testing.T) {
	data := bytes.Repeat([]byte("0123456789"), 1000)
	n := int64(len(data))
	for _, hint := range []int64{-1, 0, 10, n} {
		got, err := readBody(make([]byte, 3, 5), iotest.OneByteReader(bytes.NewReader(data)), hint, n)
		if err != nil || !bytes.Equal(got, data) {
			t.Errorf("hint %d: %d bytes, err %v", hint, len(got), err)
		}
	}
	buf := make([]byte, 0, len(data)+1)
	got, err := readBody(buf, bytes.NewReader(data), n, n)
	if err != nil || &got[0] != &buf[:1][0] {
		t.Errorf("a buffer with room was not reused (err %v)", err)
	}
	boom := errors.New("boom")
	if _, err := readBody(nil, iotest.ErrReader(boom), -1, n); !errors.Is(err, boom) {
		t.Errorf("got %v", err)
	}
	// A body longer than its Content-Length is not read beyond it.
	if got, err := readBody(nil, bytes.NewReader(data), 10, 10); !errors.Is(err, errBodyTooLong) || len(got) > len(data) {
		t.Errorf("longer body: %d bytes, err %v", len(got), err)
	}
}

func TestConfigYAML(t *testing.T) {
	type file struct {
		Server Config `yaml:"server"`
		Other  int    `yaml:"other"`
	}
	decode := func(doc string) (file, error) {
		var f file
		dec := yaml.NewDecoder(strings.NewReader(doc))
		dec.KnownFields(true)
		err := dec.Decode(&f)
		return f, err
	}
	f, err := decode("server:\n  listen_address: 127.0.0.1:9999\n  request_queue_timeout: 250ms\n  max_labels_per_series: 10\n")
	if err != nil {
		t.Fatal(err)
	}
	want := DefaultConfig()
	want.ListenAddress = "127.0.0.1:9999"
	want.RequestQueueTimeout = model.Duration(250 * time.Millisecond)
	want.MaxLabelsPerSeries = 10
	if f.Server != want {
		t.Errorf("got %+v, want %+v", f.Server, want)
	}
	if err := f.Server.Validate(); err != nil {
		t.Error(err)
	}

	if _, err := decode("server:\n  max_request_byte: 1\n"); err == nil || !strings.Contains(err.Error(), "field max_request_byte not found") {
		t.Errorf("unknown key: got %v", err)
	}

	// An explicit zero is an error, not a default.
	f, err = decode("server:\n  max_concurrent_requests: 0\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Server.Validate(); err == nil || err.Error() != "max_concurrent_requests: must be > 0, got 0" {
		t.Errorf("explicit zero: got %v", err)
	}

	// No server block: all defaults.
	f, err = decode("other: 1\n")
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Server.Validate(); err != nil || f.Server != DefaultConfig() {
		t.Errorf("absent block: %v, %+v", err, f.Server)
	}
}

func TestHandlerWithUnvalidatedConfig(t *testing.T) {
	h := NewRemoteWriteHandler(Config{}, &fakePipeline{}, nil, nil)
	body := encodeRequest(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{series("__name__", "a")}})
	w := httptest.NewRecorder()
	h.ServeHTTP(w, newRemoteWriteRequest(body))
	if w.Code != http.StatusNoContent {
		t.Errorf("got %d %s", w.Code, w.Body)
	}
}

// TestRemoteWriteOverHTTP runs the handler behind a real listener, as
// Prometheus talks to it.
func TestRemoteWriteOverHTTP(t *testing.T) {
	p := &fakePipeline{}
	srv := httptest.NewServer(NewRemoteWriteHandler(testConfig(), p, nil, nil))
	defer srv.Close()
	body := encodeRequest(t, &prompb.WriteRequest{Timeseries: []prompb.TimeSeries{series("__name__", "a", "b", "c")}})
	for _, chunked := range []bool{false, true} {
		var rd io.Reader = bytes.NewReader(body)
		if chunked {
			rd = io.MultiReader(rd) // hides the length: chunked transfer encoding
		}
		req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, srv.URL+RemoteWritePath, rd)
		if err != nil {
			t.Fatal(err)
		}
		req.Header.Set("Content-Type", "application/x-protobuf")
		req.Header.Set("Content-Encoding", "snappy")
		resp, err := srv.Client().Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent {
			t.Errorf("chunked=%v: status %d", chunked, resp.StatusCode)
		}
	}
	if got := p.ingested(); len(got) != 2 || got[0] != `a{b="c"} 00:00:01.000=1 00:00:02.000=2` {
		t.Errorf("ingested %q", got)
	}
	resp, err := srv.Client().Post(srv.URL+RemoteWritePath, "application/x-protobuf", bytes.NewReader(make([]byte, 10000)))
	if err != nil {
		t.Fatal(err)
	}
	_ = resp.Body.Close()
	if resp.StatusCode != http.StatusRequestEntityTooLarge {
		t.Errorf("oversized body: status %d", resp.StatusCode)
	}
}
