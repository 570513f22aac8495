package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/premetrics/premetrics/config"
)

const reloadBase = `
server: {listen_address: 127.0.0.1:0}
aggregations:
  - {name: same, match: x, interval: 1m, outputs: [count_samples], input_relabel_configs: [{source_labels: [a], regex: 'v.*', action: keep}]}
  - {name: changes, match: x, interval: 1m, outputs: [count_samples]}
remote_write:
  - {url: URL, name: same}
  - {url: URL, name: changes}
`

func TestReloadReusesUnchangedAndRejectsInvalid(t *testing.T) {
	rw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer rw.Close()
	file := writeFile(t, strings.ReplaceAll(reloadBase, "URL", rw.URL))
	write := func(s string) {
		if err := os.WriteFile(file, []byte(strings.ReplaceAll(s, "URL", rw.URL)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var logs bytes.Buffer
	log, _ := newLogger(&logs, "info", "logfmt")
	obs := newObservability(log)
	rl, r := reloaderFor(t, file, obs)

	// Unchanged file: everything is reused.
	if err := rl.reload(); err != nil {
		t.Fatal(err)
	}
	now := rl.current().c
	if now.aggs[0] != r.c.aggs[0] || now.aggs[1] != r.c.aggs[1] || now.queues[0] != r.c.queues[0] || now.queues[1] != r.c.queues[1] {
		t.Fatal("an unchanged reload replaced a component")
	}

	write(strings.NewReplacer("interval: 1m, outputs: [count_samples]}\nremote", "interval: 2m, outputs: [count_samples]}\n  - {name: added, interval: 1m, outputs: [sum_samples]}\nremote",
		"{url: URL, name: changes}", "{url: URL, name: changes, remote_timeout: 7s}",
		"127.0.0.1:0", "127.0.0.1:1").Replace(reloadBase))
	if err := rl.reload(); err != nil {
		t.Fatal(err)
	}
	next := rl.current().c
	if len(next.aggs) != 3 || next.aggs[0] != r.c.aggs[0] || next.aggs[1] == r.c.aggs[1] {
		t.Fatalf("aggregations after reload: kept the unchanged one %v, replaced the changed one %v, count %d",
			next.aggs[0] == r.c.aggs[0], next.aggs[1] != r.c.aggs[1], len(next.aggs))
	}
	if next.queues[0] != r.c.queues[0] || next.queues[1] == r.c.queues[1] {
		t.Fatal("remote write: the unchanged queue must be kept and the changed one replaced")
	}
	if next.pipeline != r.c.pipeline || next.pipeline.Stages().Aggregations[2] != next.aggs[2] {
		t.Fatal("the pipeline was not swapped in place")
	}
	if !strings.Contains(logs.String(), "requires a restart: server.listen_address") {
		t.Errorf("no restart notice for server.listen_address in:\n%s", logs.String())
	}
	if got := rl.current().cfg.Server.ListenAddress; got != "127.0.0.1:0" {
		t.Errorf("server.listen_address = %s, want the running 127.0.0.1:0", got)
	}

	// Invalid: rejected with premetrics check's text, the old config stays.
	write("aggregations: [{name: bad, interval: -1m}]\n")
	err := rl.reload()
	var checkOut, checkErr bytes.Buffer
	dispatch([]string{"check", file}, &checkOut, &checkErr)
	if err == nil || err.Error() != checkErr.String() {
		t.Fatalf("reload error:\n%v\nwant the check output:\n%s", err, checkErr.String())
	}
	if rl.current().c != next {
		t.Fatal("a failed reload replaced the running components")
	}
	for name, want := range map[string]float64{"success": 2, "failure": 1} {
		if got := testutil.ToFloat64(rl.reloads.WithLabelValues(name)); got != want {
			t.Errorf("reloads_total{result=%q} = %g, want %g", name, got, want)
		}
	}
	if got := testutil.ToFloat64(rl.successful); got != 0 {
		t.Errorf("last_reload_successful = %g, want 0", got)
	}

	// Valid YAML that premetrics check rejects against the pipeline is
	// refused too.
	write(mismatchedDerive)
	if err := rl.reload(); err == nil || !strings.Contains(err.Error(), "reads inputs that close at different times") {
		t.Fatalf("reload of a derive record over mismatched windows: %v", err)
	}
	if rl.current().c != next {
		t.Fatal("a reload refused by the pipeline check replaced the running components")
	}
	write("aggregations: [{name: bad, interval: -1m}]\n")

	// Over HTTP: 400 with the same text.
	rec := httptest.NewRecorder()
	rl.reloadHandler(rec, httptest.NewRequest(http.MethodPost, "/-/reload", nil))
	if rec.Code != http.StatusBadRequest || rec.Body.String() != checkErr.String() {
		t.Fatalf("POST /-/reload = %d %q", rec.Code, rec.Body.String())
	}
	write(reloadBase)
	rec = httptest.NewRecorder()
	rl.reloadHandler(rec, httptest.NewRequest(http.MethodPost, "/-/reload", nil))
	if rec.Code != http.StatusOK || testutil.ToFloat64(rl.successful) != 1 {
		t.Fatalf("POST /-/reload = %d %q", rec.Code, rec.Body.String())
	}
}

// reloaderFor compiles file into what run would start and returns a
// reloader over it with it, its remote write queues started (stopped
// when the test ends).
func reloaderFor(t *testing.T, file string, obs *observability) (*reloader, running) {
	t.Helper()
	r := runningFor(t, file, obs)
	rl := newReloader(runFlags{configFile: file, shutdownTimeout: 5 * time.Second}, r.cfg, r.c, obs, obs.log)
	for _, q := range r.c.queues {
		q.Start()
	}
	t.Cleanup(func() {
		for _, q := range rl.current().c.queues {
			_ = q.Stop(context.Background())
		}
	})
	return rl, r
}

func runningFor(t *testing.T, file string, obs *observability) running {
	t.Helper()
	cfg, err := loadForTest(file)
	if err != nil {
		t.Fatal(err)
	}
	c, err := compile(cfg, obs)
	if err != nil {
		t.Fatal(err)
	}
	return running{cfg: cfg, c: c}
}

func loadForTest(file string) (*config.Config, error) { return config.LoadFile(file) }

// A reload that removes an aggregation or a derive record deletes their
// self-metric series; those it keeps, changed or not, keep theirs.
func TestReloadForgetsRemovedMetricSeries(t *testing.T) {
	rw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer rw.Close()
	const base = `
server: {listen_address: 127.0.0.1:0}
aggregations:
  - {name: kept, match: x, interval: 1m, by: [a], outputs: [sum_samples]}
  - {name: gone, match: y, interval: 1m, by: [a], outputs: [sum_samples]}
derive:
  - {record: kept_ratio, expr: "x:1m_by_a_sum_samples / 2"}
  - {record: gone_ratio, expr: "y:1m_by_a_sum_samples / 2"}
remote_write:
  - {url: URL}
`
	file := writeFile(t, strings.ReplaceAll(base, "URL", rw.URL))
	obs := newObservability(nil)
	rl, _ := reloaderFor(t, file, obs)
	// labelled returns the metric families with a series labelled name=value.
	labelled := func(name, value string) []string {
		mfs, err := obs.reg.Gather()
		if err != nil {
			t.Fatal(err)
		}
		var out []string
		for _, mf := range mfs {
			for _, m := range mf.GetMetric() {
				for _, lp := range m.GetLabel() {
					if lp.GetName() == name && lp.GetValue() == value {
						out = append(out, mf.GetName())
					}
				}
			}
		}
		return out
	}
	for _, c := range [][2]string{{"aggregation", "kept"}, {"aggregation", "gone"}, {"record", "kept_ratio"}, {"record", "gone_ratio"}} {
		if len(labelled(c[0], c[1])) == 0 {
			t.Fatalf("before the reload: no series with %s=%q", c[0], c[1])
		}
	}

	next := strings.NewReplacer(
		"  - {name: gone, match: y, interval: 1m, by: [a], outputs: [sum_samples]}\n", "",
		"  - {record: gone_ratio, expr: \"y:1m_by_a_sum_samples / 2\"}\n", "",
		"outputs: [sum_samples]}", "outputs: [sum_samples, max]}", // kept, but changed
		"URL", rw.URL).Replace(base)
	if err := os.WriteFile(file, []byte(next), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := rl.reload(); err != nil {
		t.Fatal(err)
	}
	for _, c := range [][2]string{{"aggregation", "gone"}, {"record", "gone_ratio"}} {
		if got := labelled(c[0], c[1]); len(got) != 0 {
			t.Errorf("after the reload: %s=%q still on %v", c[0], c[1], got)
		}
	}
	for _, c := range [][2]string{{"aggregation", "kept"}, {"record", "kept_ratio"}} {
		if len(labelled(c[0], c[1])) == 0 {
			t.Errorf("after the reload: the series with %s=%q are gone", c[0], c[1])
		}
	}
}
