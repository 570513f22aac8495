package main

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/premetrics/premetrics/batch"
)

const enrichBase = `
server: {listen_address: 127.0.0.1:0}
enrich:
  - {name: kept, source: {file: kept.csv}, key: [id], add: [model]}
  - {name: changes, source: {file: changes.csv}, key: [id], add: [colour]}
aggregations:
  - {name: a, match: x, interval: 1m, by: [model, colour], outputs: [count_samples]}
remote_write:
  - {url: URL}
`

// Unchanged tables keep their Enricher (snapshot and refresh loop); a
// changed one is loaded before the swap and the replaced one stops; a
// required table that cannot be loaded fails the reload and keeps the
// running config.
func TestReloadEnrich(t *testing.T) {
	rw := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }))
	defer rw.Close()
	dir := t.TempDir()
	for name, content := range map[string]string{"kept.csv": "id,model\n1,Aurora\n", "changes.csv": "id,colour\n1,red\n", "other.csv": "id,colour\n1,blue\n"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	file := filepath.Join(dir, "c.yaml")
	write := func(s string) {
		if err := os.WriteFile(file, []byte(strings.ReplaceAll(s, "URL", rw.URL)), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write(enrichBase)
	var logs bytes.Buffer
	log, _ := newLogger(&logs, "info", "logfmt")
	obs := newObservability(log)
	defer obs.stopAllEnrich()
	r := runningFor(t, file, obs)
	if r.c.enrich[0].Table() != nil {
		t.Fatal("compile loaded a table: premetrics check must not read sources")
	}
	if err := obs.startEnrich(r.c.enrich); err != nil {
		t.Fatal(err)
	}
	rl := newReloader(runFlags{configFile: file, shutdownTimeout: 5 * time.Second}, r.cfg, r.c, obs, log)
	for _, q := range r.c.queues {
		q.Start()
	}
	defer func() {
		for _, q := range rl.current().c.queues {
			_ = q.Stop(context.Background())
		}
	}()
	join := func() string {
		b := &batch.Batch{}
		b.StartSeries()
		b.AddLabel(batch.MetricName, "x")
		b.AddLabel("id", "1")
		b.AddSample(1000, 1)
		b.FinishSeries()
		for _, e := range rl.current().c.pipeline.Stages().Enrich {
			e.Apply(b)
		}
		return batch.String(b.Series[0].Labels)
	}
	if got := join(); got != `x{colour="red", id="1", model="Aurora"}` {
		t.Errorf("before reload: %s", got)
	}

	write(strings.Replace(enrichBase, "changes.csv", "other.csv", 1))
	if err := rl.reload(); err != nil {
		t.Fatal(err)
	}
	next := rl.current().c
	if next.enrich[0] != r.c.enrich[0] || next.enrich[1] == r.c.enrich[1] {
		t.Fatalf("kept the unchanged table %v, replaced the changed one %v", next.enrich[0] == r.c.enrich[0], next.enrich[1] != r.c.enrich[1])
	}
	if got := join(); got != `x{colour="blue", id="1", model="Aurora"}` {
		t.Errorf("after reload: %s", got)
	}
	if len(obs.started) != 2 {
		t.Errorf("%d tables refreshing, want 2 (the replaced one stopped)", len(obs.started))
	}

	write(strings.Replace(enrichBase, "changes.csv", "missing.csv", 1))
	err := rl.reload()
	if err == nil || !strings.Contains(err.Error(), `enrich "changes": no snapshot could be loaded`) {
		t.Fatalf("reload with a missing required table: %v", err)
	}
	if rl.current().c != next || len(obs.started) != 2 {
		t.Error("a failed reload changed the running tables")
	}
}
