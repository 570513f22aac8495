package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// brokenExampleTests is config.example.test.yaml with one expected value
// changed, next to a copy of config.example.yaml.
func brokenExampleTests(t *testing.T) (path string, line int) {
	t.Helper()
	tests, err := os.ReadFile("../../config.example.test.yaml")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := os.ReadFile("../../config.example.yaml")
	if err != nil {
		t.Fatal(err)
	}
	const good = `vehicle_warnings_latest:5s_by_model_region_sum_samples{model="Equinox",region="UK"} 3 5000`
	if !bytes.Contains(tests, []byte(good)) {
		t.Fatalf("config.example.test.yaml lacks %s", good)
	}
	line = 1 + bytes.Count(tests[:bytes.Index(tests, []byte(good))], []byte("\n"))
	broken := bytes.Replace(tests, []byte(good), []byte(strings.Replace(good, "} 3 ", "} 4 ", 1)), 1)
	dir := t.TempDir()
	// The config's enrich tables are files under testdata/, relative to it.
	if abs, err := filepath.Abs("../../testdata"); err != nil {
		t.Fatal(err)
	} else if err := os.Symlink(abs, filepath.Join(dir, "testdata")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "config.example.yaml"), cfg, 0o644); err != nil {
		t.Fatal(err)
	}
	path = filepath.Join(dir, "broken.test.yaml")
	if err := os.WriteFile(path, broken, 0o644); err != nil {
		t.Fatal(err)
	}
	return path, line
}

func TestTestCommandExitCodes(t *testing.T) {
	broken, line := brokenExampleTests(t)
	invalid := writeFile(t, "config_file: missing.yaml\ntests:\n  - name: a\n")
	cases := []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr []string
	}{
		{name: "example passes", args: []string{"../../config.example.test.yaml"}, code: 0,
			stdout: []string{"config.example.test.yaml: PASS (4 tests)\n"}},
		{name: "a wrong expectation fails with a diff", args: []string{broken}, code: 1,
			stdout: []string{
				"--- FAIL: warning lights, latest per vehicle, summed per model and region (" + broken + ":",
				"    output (-expected +got):\n",
				`    - vehicle_warnings_latest:5s_by_model_region_sum_samples{model="Equinox",region="UK"} 4 5000  line ` + strconv.Itoa(line) + ": different value\n",
				`    + vehicle_warnings_latest:5s_by_model_region_sum_samples{model="Equinox",region="UK"} 3 5000` + "\n",
				broken + ": FAIL (1 of 4 tests failed)\n",
			}},
		{name: "-run selects tests", args: []string{"-run", "^host CPU", broken}, code: 0,
			stdout: []string{broken + ": PASS (1 test)\n"}},
		{name: "an invalid file", args: []string{invalid}, code: 2,
			stderr: []string{invalid + ": INVALID\n", "c.yaml:1: config_file: cannot read config:"}},
		{name: "a missing file", args: []string{"nope.test.yaml"}, code: 2,
			stderr: []string{"nope.test.yaml: INVALID\ncannot read test file: open nope.test.yaml: no such file or directory"}},
		{name: "the worst result decides", args: []string{broken, invalid, "../../config.example.test.yaml"}, code: 2,
			stdout: []string{"FAIL (1 of 4 tests failed)", "config.example.test.yaml: PASS (4 tests)"}},
		{name: "no files", args: nil, code: 2, stderr: []string{"usage: premetrics test [-run REGEXP] FILE..."}},
		{name: "a bad -run", args: []string{"-run", "(", broken}, code: 2, stderr: []string{"premetrics test: -run: error parsing regexp"}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var out, errOut bytes.Buffer
			code := dispatch(append([]string{"test"}, c.args...), &out, &errOut)
			if code != c.code {
				t.Errorf("exit %d, want %d\nstdout:\n%s\nstderr:\n%s", code, c.code, out.String(), errOut.String())
			}
			for _, want := range c.stdout {
				if !strings.Contains(out.String(), want) {
					t.Errorf("stdout lacks %q:\n%s", want, out.String())
				}
			}
			for _, want := range c.stderr {
				if !strings.Contains(errOut.String(), want) {
					t.Errorf("stderr lacks %q:\n%s", want, errOut.String())
				}
			}
		})
	}
}
