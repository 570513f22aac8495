package main

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

func writeFile(t *testing.T, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "c.yaml")
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestCheckValidExample(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := dispatch([]string{"check", "../../config.example.yaml"}, &out, &errOut); code != 0 {
		t.Fatalf("exit %d: %s", code, errOut.String())
	}
	if !regexp.MustCompile(`OK \(2 JSON inputs, 0 MQTT inputs, \d+ aggregations, 1 remote_write endpoints\)`).MatchString(out.String()) {
		t.Fatalf("output: %s", out.String())
	}
}

// TestCheckReportsEveryProblem: one run lists every problem with file,
// line, field path and what is wrong, and exits 1.
func TestCheckReportsEveryProblem(t *testing.T) {
	file := writeFile(t, `server:
  listen_address: 127.0.0.1:9201
relabel_configs:
  - action: replace
    regex: '(['
aggregations:
  - name: a
    match: 'vehicle_rpm{'
    interval: 1m
    by: [region]
    without: [model]
    outputs: [avg, median]
    lateness: 10x
remote_write:
  - url: 'not a url'
`)
	var out, errOut bytes.Buffer
	if code := dispatch([]string{"check", file}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1; stderr: %s", code, errOut.String())
	}
	got := errOut.String()
	for _, want := range []string{
		"INVALID",
		`c.yaml:5: relabel_configs[0].regex: invalid regex "([": error parsing regexp`,
		`c.yaml:13: aggregations[0].lateness:`,
		`10x`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}

	// With the decode errors fixed, the semantic ones all appear together.
	file = writeFile(t, `aggregations:
  - name: a
    match: 'vehicle_rpm{'
    interval: 1m
    by: [region]
    without: [model]
    outputs: [avg, median]
remote_write:
  - url: 'not a url'
`)
	errOut.Reset()
	if code := dispatch([]string{"check", file}, &out, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	got = errOut.String()
	for _, want := range []string{
		`c.yaml:3: aggregations[0].match: cannot parse selector "vehicle_rpm{"`,
		`aggregations[0]: by and without are mutually exclusive`,
		`c.yaml:7: aggregations[0].outputs[1]: unknown output "median"`,
		`c.yaml:9: remote_write[0].url:`,
	} {
		if !strings.Contains(got, want) {
			t.Errorf("output lacks %q:\n%s", want, got)
		}
	}
}

func TestUsageAndVersion(t *testing.T) {
	var out, errOut bytes.Buffer
	if code := dispatch(nil, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), "usage: premetrics") {
		t.Fatalf("no args: exit %d, %s", code, errOut.String())
	}
	out.Reset()
	if code := dispatch([]string{"version"}, &out, &errOut); code != 0 || !strings.HasPrefix(out.String(), "premetrics ") {
		t.Fatalf("version: exit %d, %q", code, out.String())
	}
	errOut.Reset()
	if code := dispatch([]string{"frobnicate"}, &out, &errOut); code != 2 || !strings.Contains(errOut.String(), `unknown command "frobnicate"`) {
		t.Fatalf("unknown: exit %d, %s", code, errOut.String())
	}
}

func TestRunFailsClearlyOnBadConfig(t *testing.T) {
	file := writeFile(t, "bogus: true\n")
	var errOut bytes.Buffer
	if code := dispatch([]string{"run", "--config.file=" + file, "--storage.path=" + t.TempDir()}, &bytes.Buffer{}, &errOut); code != 1 {
		t.Fatalf("exit %d, want 1", code)
	}
	if !strings.Contains(errOut.String(), "field bogus not found") {
		t.Fatalf("stderr: %s", errOut.String())
	}
}

// mismatchedDerive compiles, but its derive record reads outputs of two
// aggregations that close at different times: premetrics check rejects it.
const mismatchedDerive = `
server: {listen_address: 127.0.0.1:0}
aggregations:
  - {name: errors, match: video_errors, interval: 1m, by: [title], outputs: [sum_samples]}
  - {name: views, match: video_views, interval: 5s, by: [title], outputs: [sum_samples]}
derive:
  - record: ratio
    expr: video_errors:1m_by_title_sum_samples / video_views:5s_by_title_sum_samples
remote_write:
  - url: http://127.0.0.1:1/api/v1/write
`

// run refuses what check refuses, with check's text, before it listens.
func TestRunRefusesWhatCheckRejects(t *testing.T) {
	file := writeFile(t, mismatchedDerive)
	var checkErr bytes.Buffer
	if code := dispatch([]string{"check", file}, &bytes.Buffer{}, &checkErr); code != 1 {
		t.Fatalf("check: exit %d, want 1", code)
	}
	var errOut bytes.Buffer
	exit := make(chan int, 1)
	args := []string{"run", "--config.file=" + file, "--storage.path=" + t.TempDir()}
	go func() { exit <- dispatch(args, &bytes.Buffer{}, &errOut) }()
	select {
	case code := <-exit:
		if code != 1 {
			t.Fatalf("run: exit %d, want 1; stderr:\n%s", code, errOut.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("run started with a config premetrics check rejects") // its goroutine is left running
	}
	for _, want := range []string{"INVALID", "derive[0].expr: reads inputs that close at different times"} {
		if !strings.Contains(errOut.String(), want) || !strings.Contains(checkErr.String(), want) {
			t.Errorf("want %q in run's stderr:\n%s\nand in check's:\n%s", want, errOut.String(), checkErr.String())
		}
	}
}
