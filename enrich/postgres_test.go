//go:build unix

package enrich

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/premetrics/premetrics/internal/testenv"
)

// SCENARIOS.md 2: per-host CPU thresholds from a real PostgreSQL table.
func TestPostgresSource(t *testing.T) {
	pg := testenv.StartPostgres(t)
	pg.Exec(t, `CREATE TABLE cpu_thresholds (hostname text PRIMARY KEY, allowed_top integer, team text);
		INSERT INTO cpu_thresholds VALUES ('doc', 20, 'a'), ('grumpy', 30, NULL), ('sleepy', 40, 'b'),
			('bashful', 60, 'c'), ('happy', 70, 'c'), ('sneezy', 80, 'd'), ('dopey', 90, 'd')`)
	c, err := decodeConfig(t, fmt.Sprintf(`
name: cpu_thresholds
source:
  postgres:
    dsn: %q
    query: SELECT hostname, allowed_top, team AS owner FROM cpu_thresholds
key: [hostname]
add: [allowed_top, owner]
on_miss: {default: {allowed_top: "80"}}
`, pg.DSN()))
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	e, err := New(c, Options{Metrics: NewMetrics(reg)})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	if got := e.Table().Rows(); got != 7 {
		t.Errorf("rows %d, want 7", got)
	}
	b := series(`cpu_usage{cpu="cpu2",hostname="sleepy"}`, `cpu_usage{cpu="cpu0",hostname="grumpy"}`, `cpu_usage{cpu="cpu0",hostname="nobody"}`)
	e.Apply(b)
	want := []string{
		`cpu_usage{allowed_top="40", cpu="cpu2", hostname="sleepy", owner="b"}`,
		`cpu_usage{allowed_top="30", cpu="cpu0", hostname="grumpy"}`, // NULL team: no owner label
		`cpu_usage{allowed_top="80", cpu="cpu0", hostname="nobody"}`,
	}
	if got := strs(b); strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("got\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The table changes: the next refresh sees it.
	pg.Exec(t, "UPDATE cpu_thresholds SET allowed_top = 45 WHERE hostname = 'sleepy'; DELETE FROM cpu_thresholds WHERE hostname = 'doc'")
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := lookup(t, e, "sleepy"); got != "45,b" {
		t.Errorf("sleepy after update: %q", got)
	}
	if got := lookup(t, e, "doc"); got != "<miss>" {
		t.Errorf("doc after delete: %q", got)
	}

	// A duplicate key in the result fails the refresh and keeps the
	// snapshot; so does a query error, and a missing column.
	good := e.Table()
	pg.Exec(t, "ALTER TABLE cpu_thresholds DROP CONSTRAINT cpu_thresholds_pkey; INSERT INTO cpu_thresholds VALUES ('happy', 75, 'x')")
	if err := e.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), `have the same key {hostname="happy"}`) {
		t.Errorf("duplicate: %v", err)
	}
	pg.Exec(t, "ALTER TABLE cpu_thresholds RENAME TO renamed")
	if err := e.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), `relation "cpu_thresholds" does not exist`) {
		t.Errorf("missing table: %v", err)
	}
	if e.Table() != good || testutil.ToFloat64(e.m.failures) != 2 || testutil.ToFloat64(e.m.lastOK) != 0 {
		t.Errorf("snapshot kept %v, failures %g", e.Table() == good, testutil.ToFloat64(e.m.failures))
	}

	c.Source.Postgres.Query = "SELECT hostname FROM renamed"
	e2, err := New(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Stop()
	if err := e2.Start(context.Background()); err == nil || !strings.Contains(err.Error(), `query result has no column "allowed_top" (columns: ["hostname"]); name it with AS`) {
		t.Errorf("missing column: %v", err)
	}

	// The server goes away: the snapshot stays.
	pg.Process().Kill(t)
	if err := e.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "cannot connect to PostgreSQL") {
		t.Errorf("server down: %v", err)
	}
	if got := lookup(t, e, "sleepy"); got != "45,b" {
		t.Errorf("snapshot lost with the server: %q", got)
	}
}

// Reference series from PostgreSQL's text form of numeric types: NULL,
// NaN and text that is no number are no value; a missing column fails
// the load as a missing key column does.
func TestPostgresReference(t *testing.T) {
	pg := testenv.StartPostgres(t)
	pg.Exec(t, `CREATE TABLE cpu_thresholds (hostname text PRIMARY KEY, allowed_top integer, ratio numeric, f real, note text);
		INSERT INTO cpu_thresholds VALUES ('doc', 20, 0.25, 'Infinity', '7'), ('grumpy', NULL, 1, 'NaN', 'high'),
			('sleepy', 40, NULL, -1.5, NULL)`)
	c, err := decodeConfig(t, fmt.Sprintf(`
name: cpu_thresholds
source: {postgres: {dsn: %q, query: "SELECT hostname, allowed_top, ratio, f, note FROM cpu_thresholds"}}
key: [hostname]
series: [{column: allowed_top, name: cpu_threshold}, {column: ratio}, {column: f}, {column: note}]
`, pg.DSN()))
	if err != nil {
		t.Fatal(err)
	}
	e, err := New(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e.Stop()
	if err := e.Start(context.Background()); err != nil {
		t.Fatal(err)
	}
	for key, want := range map[string]string{"doc": "20,0.25,+Inf,7", "grumpy": "-,1,-,-", "sleepy": "40,-,-1.5,-"} {
		if got := refValues(t, e.Table(), key); got != want {
			t.Errorf("%s: %s, want %s", key, got, want)
		}
	}
	if got := testutil.ToFloat64(e.m.refSeries); got != 7 {
		t.Errorf("reference_series = %g, want 7", got)
	}

	c.Source.Postgres.Query = "SELECT hostname, ratio, f, note FROM cpu_thresholds"
	e2, err := New(c, Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer e2.Stop()
	if err := e2.Start(context.Background()); err == nil || !strings.Contains(err.Error(), `query result has no column "allowed_top"`) {
		t.Errorf("missing series column: %v", err)
	}
}
