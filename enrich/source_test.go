package enrich

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
)

func lookup(t *testing.T, e *Enricher, key ...string) string {
	t.Helper()
	tbl := e.Table()
	if tbl == nil {
		return "<no table>"
	}
	vals, ok := tbl.Lookup(key...)
	if !ok {
		return "<miss>"
	}
	return strings.Join(vals, ",")
}

func TestFileFormats(t *testing.T) {
	for _, tc := range []struct{ ext, content string }{
		{"csv", "\ufeffvehicle_id,region,model,year\nV1,UK,Aurora,2020\n\"V,2\",US,\"Bo \"\"real\"\"\",\nV3,UK,,7\n"},
		{"yaml", "- {vehicle_id: V1, model: Aurora, year: 2020}\n- vehicle_id: 'V,2'\n  model: 'Bo \"real\"'\n  year: ~\n- {vehicle_id: V3, year: 007}\n"},
		{"json", `[{"vehicle_id": "V1", "model": "Aurora", "year": 2020, "x": {"nested": 1}}, {"vehicle_id": "V,2", "model": "Bo \"real\"", "year": null}, {"vehicle_id": "V3", "year": 7e0}]`},
	} {
		t.Run(tc.ext, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "t."+tc.ext)
			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := decodeConfig(t, fmt.Sprintf("name: t\nsource: {file: %q}\nkey: [vehicle_id]\nadd: [model, year]\n", path))
			if err != nil {
				t.Fatal(err)
			}
			e, err := New(c, Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			want3 := ",7"
			switch tc.ext {
			case "yaml":
				want3 = ",007"
			case "json":
				want3 = ",7e0"
			}
			for key, want := range map[string]string{"V1": "Aurora,2020", "V,2": `Bo "real",`, "V3": want3, "V4": "<miss>"} {
				if got := lookup(t, e, key); got != want {
					t.Errorf("%s: got %q, want %q", key, got, want)
				}
			}
			if got := e.Table().Rows(); got != 3 {
				t.Errorf("rows %d", got)
			}
		})
	}
}

// A bad file is reported with where it is bad, and the last good snapshot
// stays in use; the fixed file loads again.
func TestFileMalformedKeepsLastSnapshot(t *testing.T) {
	good := "vehicle_id,model\nV1,Aurora\n"
	for _, tc := range []struct {
		name, ext, content, want string
	}{
		{"csv fields", "csv", "vehicle_id,model\nV1,Aurora\nV2\n", "record on line 3: wrong number of fields"},
		{"csv header", "csv", "id,model\nV1,Aurora\n", `CSV header ["id" "model"] has no column "vehicle_id"`},
		{"csv empty", "csv", "", "empty CSV file"},
		{"csv duplicate", "csv", "vehicle_id,model\nV1,A\nV2,B\nV1,C\n", `rows 1 and 3 have the same key {vehicle_id="V1"}`},
		{"csv empty key", "csv", "vehicle_id,model\nV1,A\n,B\n", `line 3: no value for key column "vehicle_id"`},
		{"csv utf8", "csv", "vehicle_id,model\nV1,\xff\n", `line 2: value "\xff" is not valid UTF-8`},
		{"json syntax", "json", `[{"vehicle_id": "V1"}, {"vehicle_id": }]`, "element 1: cannot decode JSON object"},
		{"json not array", "json", `{"vehicle_id": "V1"}`, "want a JSON array of objects"},
		{"json nested", "json", `[{"vehicle_id": "V1", "model": ["a"]}]`, `element 0: field "model": want a string, number or boolean, got []interface {}`},
		{"json no key", "json", `[{"model": "a"}]`, `element 0: no value for key column "vehicle_id"`},
		{"json trailing", "json", `[{"vehicle_id": "V1"}] [`, "unexpected data after the JSON array"},
		{"yaml syntax", "yaml", "- {vehicle_id: V1\n", "cannot read YAML"},
		{"yaml not list", "yaml", "vehicle_id: V1\n", "line 1: want a list of mappings"},
		{"yaml nested", "yaml", "- vehicle_id: V1\n  model: {a: b}\n", `line 1: "model": want a scalar value`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "t."+tc.ext)
			goodContent := good
			switch tc.ext {
			case "json":
				goodContent = `[{"vehicle_id": "V1", "model": "Aurora"}]`
			case "yaml":
				goodContent = "- {vehicle_id: V1, model: Aurora}\n"
			}
			if err := os.WriteFile(path, []byte(goodContent), 0o644); err != nil {
				t.Fatal(err)
			}
			c, err := decodeConfig(t, fmt.Sprintf("name: t\nsource: {file: %q}\nkey: [vehicle_id]\nadd: [model]\n", path))
			if err != nil {
				t.Fatal(err)
			}
			reg := prometheus.NewRegistry()
			e, err := New(c, Options{Metrics: NewMetrics(reg)})
			if err != nil {
				t.Fatal(err)
			}
			if err := e.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			first := e.Table()

			if err := os.WriteFile(path, []byte(tc.content), 0o644); err != nil {
				t.Fatal(err)
			}
			bumpMtime(t, path)
			err = e.Refresh(context.Background())
			if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.Contains(err.Error(), path) {
				t.Fatalf("got %v, want an error naming %s with %q", err, path, tc.want)
			}
			if e.Table() != first || lookup(t, e, "V1") != "Aurora" {
				t.Error("the last good snapshot was not kept")
			}
			// Unchanged bad file: the same failure again, not re-read.
			if err2 := e.Refresh(context.Background()); err2 == nil || err2.Error() != err.Error() {
				t.Errorf("second refresh of the bad file: %v", err2)
			}
			if got := testutil.ToFloat64(e.m.failures); got != 2 {
				t.Errorf("failures %g, want 2", got)
			}
			if got := testutil.ToFloat64(e.m.lastOK); got != 0 {
				t.Errorf("last_refresh_successful %g", got)
			}
			if got := testutil.ToFloat64(e.m.rows); got != 1 {
				t.Errorf("rows gauge %g", got)
			}

			if err := os.WriteFile(path, []byte(strings.ReplaceAll(goodContent, "Aurora", "Cirrus")), 0o644); err != nil {
				t.Fatal(err)
			}
			bumpMtime(t, path)
			bumpMtime(t, path)
			if err := e.Refresh(context.Background()); err != nil {
				t.Fatal(err)
			}
			if lookup(t, e, "V1") != "Cirrus" || testutil.ToFloat64(e.m.lastOK) != 1 {
				t.Error("the fixed file did not load")
			}
		})
	}
}

// A touched but unchanged file keeps the snapshot (no rebuild).
func TestFileTouchedNotRebuilt(t *testing.T) {
	f := newFixture(t, "key: [vehicle_id]\nadd: [model]\n", "vehicle_id,model\nV1,Aurora\n")
	first := f.e.Table()
	bumpMtime(t, f.path)
	if err := f.e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if f.e.Table() != first {
		t.Error("touched file rebuilt the table")
	}
	if err := os.Remove(f.path); err != nil {
		t.Fatal(err)
	}
	if err := f.e.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "no such file") {
		t.Errorf("removed file: %v", err)
	}
	if f.e.Table() != first {
		t.Error("snapshot lost with the file")
	}
}

func TestMaxRows(t *testing.T) {
	f := newFixture(t, "key: [vehicle_id]\nadd: [model]\nmax_rows: 2\n", "vehicle_id,model\nV1,A\nV2,B\n")
	if err := os.WriteFile(f.path, []byte("vehicle_id,model\nV1,A\nV2,B\nV3,C\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	bumpMtime(t, f.path)
	if err := f.e.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "line 4: more than max_rows (2) rows") {
		t.Errorf("got %v", err)
	}
}

func TestHTTPSource(t *testing.T) {
	var mu sync.Mutex
	status, body := http.StatusOK, `[{"hostname": "sleepy", "allowed_top": 40}, {"hostname": "doc", "allowed_top": 20}]`
	var gotAuth string
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		defer mu.Unlock()
		gotAuth = r.Header.Get("Authorization")
		w.WriteHeader(status)
		fmt.Fprint(w, body)
	}))
	defer srv.Close()
	if !strings.HasPrefix(srv.URL, "http://127.0.0.1:") {
		t.Fatalf("test server on %s, want 127.0.0.1", srv.URL)
	}
	set := func(s int, b string) {
		mu.Lock()
		status, body = s, b
		mu.Unlock()
	}
	c, err := decodeConfig(t, fmt.Sprintf("name: thresholds\nsource: {http: {url: %q, headers: {Authorization: Bearer t0k}}}\nkey: [hostname]\nadd: [allowed_top]\n", srv.URL+"/thresholds"))
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
	if got := lookup(t, e, "sleepy"); got != "40" {
		t.Errorf("sleepy: %q", got)
	}
	if gotAuth != "Bearer t0k" {
		t.Errorf("Authorization header %q", gotAuth)
	}
	first := e.Table()
	if err := e.Refresh(context.Background()); err != nil || e.Table() != first {
		t.Errorf("same body: err %v, rebuilt %v", err, e.Table() != first)
	}

	set(http.StatusInternalServerError, "database down")
	err = e.Refresh(context.Background())
	if err == nil || !strings.Contains(err.Error(), "500 Internal Server Error: database down") {
		t.Errorf("500: %v", err)
	}
	set(http.StatusOK, `[{"hostname": "sleepy"`)
	if err := e.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "element 0: cannot decode JSON object") {
		t.Errorf("truncated: %v", err)
	}
	if e.Table() != first || testutil.ToFloat64(e.m.failures) != 2 {
		t.Errorf("failures %g, snapshot kept %v", testutil.ToFloat64(e.m.failures), e.Table() == first)
	}
	set(http.StatusOK, `[{"hostname": "sleepy", "allowed_top": 45}]`)
	if err := e.Refresh(context.Background()); err != nil {
		t.Fatal(err)
	}
	if got := lookup(t, e, "sleepy"); got != "45" {
		t.Errorf("after recovery sleepy: %q", got)
	}
	if testutil.ToFloat64(e.m.lastSuccess) == 0 || testutil.ToFloat64(e.m.rows) != 1 {
		t.Errorf("last success %g, rows %g", testutil.ToFloat64(e.m.lastSuccess), testutil.ToFloat64(e.m.rows))
	}

	srv.Close()
	if err := e.Refresh(context.Background()); err == nil || !strings.Contains(err.Error(), "cannot fetch") {
		t.Errorf("server gone: %v", err)
	}
	if got := lookup(t, e, "sleepy"); got != "45" {
		t.Errorf("snapshot lost with the server: %q", got)
	}
}

func TestTableLookup(t *testing.T) {
	b := newBuilder([]string{"a", "b"}, 2, 100)
	for _, row := range [][]string{{"x", "y", "1", "p"}, {"xy", "", "2", "q"}, {"x", "yz", "3", ""}} {
		err := b.add(row)
		if row[1] == "" {
			if err == nil {
				t.Error("empty key value accepted")
			}
			continue
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if err := b.add([]string{"q", "r", "4", "p"}); err != nil {
		t.Fatal(err)
	}
	tbl, err := b.finish(timeZero)
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		key  []string
		want string
	}{
		{[]string{"x", "y"}, "1,p"},
		{[]string{"x", "yz"}, "3,"},
		{[]string{"xy", "z"}, "<miss>"},
		{[]string{"q", "r"}, "4,p"},
		{[]string{"x"}, "<miss>"},
	} {
		got := "<miss>"
		if vals, ok := tbl.Lookup(tc.key...); ok {
			got = strings.Join(vals, ",")
		}
		if got != tc.want {
			t.Errorf("%q: got %q, want %q", tc.key, got, tc.want)
		}
	}
	// "p" is stored once.
	if len(tbl.values) != 5 { // "", 1, p, 3, 4
		t.Errorf("values %q", tbl.values)
	}
	// An empty table misses.
	empty, err := newBuilder([]string{"a"}, 1, 10).finish(timeZero)
	if err != nil {
		t.Fatal(err)
	}
	if _, ok := empty.Lookup("x"); ok {
		t.Error("empty table hit")
	}
}

// Many rows: every key found, with its own values, and no key that is
// not in the table.
func TestTableManyRows(t *testing.T) {
	tbl := buildBenchTable(t, 100_000)
	for i := range 100_000 {
		vals, ok := tbl.Lookup(vehicleID(i))
		if !ok || vals[0] != models[i%len(models)] {
			t.Fatalf("row %d: %v %v", i, vals, ok)
		}
	}
	for i := range 1000 {
		if _, ok := tbl.Lookup(fmt.Sprintf("X%d", i)); ok {
			t.Fatalf("X%d found", i)
		}
	}
	if perRow := float64(tbl.Bytes()) / 100_000; perRow > 48 {
		t.Errorf("%.1f bytes a row, want at most 48", perRow)
	}
}
