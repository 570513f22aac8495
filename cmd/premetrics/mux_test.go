package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/premetrics/premetrics/config"
)

// TestPprofIsOptIn: /debug/pprof/ is served only with --web.enable-pprof.
func TestPprofIsOptIn(t *testing.T) {
	cfg, err := config.LoadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	for _, enabled := range []bool{false, true} {
		obs := newObservability(nil)
		c, err := compile(cfg, obs)
		if err != nil {
			t.Fatal(err)
		}
		var ready atomic.Bool
		srv := httptest.NewServer(newMux(cfg, c, obs, obs.log, &ready, nil, enabled))
		get := func(path string) (int, string) {
			resp, err := http.Get(srv.URL + path)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			body, _ := io.ReadAll(resp.Body)
			return resp.StatusCode, string(body)
		}
		for _, path := range []string{"/debug/pprof/", "/debug/pprof/heap?debug=1", "/debug/pprof/cmdline", "/debug/pprof/symbol"} {
			code, body := get(path)
			switch {
			case enabled && code != http.StatusOK:
				t.Errorf("pprof enabled: GET %s = %d %s", path, code, body)
			case !enabled && code != http.StatusNotFound:
				t.Errorf("pprof disabled: GET %s = %d, want 404", path, code)
			}
		}
		if code, body := get("/debug/pprof/"); enabled && !strings.Contains(body, "profile") {
			t.Errorf("pprof index: %d %s", code, body)
		}
		if code, _ := get("/-/healthy"); code != http.StatusOK {
			t.Errorf("/-/healthy = %d", code)
		}
		srv.Close()
	}
}

func TestRunRejectsBadMemoryLimit(t *testing.T) {
	var out, errOut strings.Builder
	if code := dispatch([]string{"run", "--memory.limit=lots"}, &out, &errOut); code != 2 {
		t.Fatalf("exit %d, want 2", code)
	}
	if !strings.Contains(errOut.String(), `--memory.limit: want a size like 2GiB, 512MB or 75%, got "lots"`) {
		t.Fatalf("stderr: %s", errOut.String())
	}
}
