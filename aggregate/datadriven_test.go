package aggregate

import (
	"bufio"
	"cmp"
	"fmt"
	"math"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/prometheus/model/value"

	"github.com/premetrics/premetrics/batch"
)

// A datadriven script is a sequence of blocks:
//
//	# comments and blank lines between blocks are kept by -update
//	<command> [args]
//	<input lines>
//	----
//	<expected output lines>
//	<blank line or end of file>
//
// The runner executes each command and compares its output with the
// expected lines; with -update it rewrites the expected lines instead.

type ddBlock struct {
	pre      []string // comment and blank lines before the command
	line     int      // line number of the command
	cmd      string
	args     []string
	input    []string
	expected []string
}

func parseScript(t *testing.T, path string) (blocks []*ddBlock, trailer []string) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	var lines []string
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	var pre []string
	for i := 0; i < len(lines); {
		l := lines[i]
		if strings.TrimSpace(l) == "" || strings.HasPrefix(l, "#") {
			pre = append(pre, l)
			i++
			continue
		}
		fields := strings.Fields(l)
		b := &ddBlock{pre: pre, line: i + 1, cmd: fields[0], args: fields[1:]}
		pre = nil
		i++
		for ; i < len(lines) && lines[i] != "----"; i++ {
			b.input = append(b.input, lines[i])
		}
		if i == len(lines) {
			t.Fatalf("%s:%d: %s: missing ----", path, b.line, b.cmd)
		}
		i++ // ----
		for ; i < len(lines) && lines[i] != ""; i++ {
			b.expected = append(b.expected, lines[i])
		}
		blocks = append(blocks, b)
	}
	return blocks, pre
}

func writeScript(t *testing.T, path string, blocks []*ddBlock, trailer []string) {
	t.Helper()
	var sb strings.Builder
	for _, b := range blocks {
		for _, l := range b.pre {
			sb.WriteString(l + "\n")
		}
		sb.WriteString(strings.Join(append([]string{b.cmd}, b.args...), " ") + "\n")
		for _, l := range b.input {
			sb.WriteString(l + "\n")
		}
		sb.WriteString("----\n")
		for _, l := range b.expected {
			sb.WriteString(l + "\n")
		}
	}
	for _, l := range trailer {
		sb.WriteString(l + "\n")
	}
	if err := os.WriteFile(path, []byte(sb.String()), 0o644); err != nil {
		t.Fatal(err)
	}
}

// parseTime parses "@<ms>" or "@<Go duration since the epoch>".
func parseTime(s string) (int64, error) {
	s = strings.TrimPrefix(s, "@")
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		return ms, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil {
		return 0, fmt.Errorf("bad time %q: want ms or a duration", s)
	}
	return d.Milliseconds(), nil
}

// parseSeriesLine parses `name{a="b",c="d"} value timestamp` into b. The
// value may be "stale" (a stale marker); the timestamp is ms or a Go
// duration since the epoch.
func parseSeriesLine(b *batch.Batch, line string) error {
	line = strings.TrimSpace(line)
	b.StartSeries()
	i := strings.IndexAny(line, "{ ")
	if i < 0 {
		return fmt.Errorf("want `name{labels} value ts`, got %q", line)
	}
	if name := line[:i]; name != "" {
		b.AddLabel(batch.MetricName, name)
	}
	rest := line[i:]
	if strings.HasPrefix(rest, "{") {
		end := strings.Index(rest, "}")
		if end < 0 {
			return fmt.Errorf("missing } in %q", line)
		}
		body := rest[1:end]
		rest = rest[end+1:]
		for body != "" {
			eq := strings.Index(body, "=")
			if eq < 0 {
				return fmt.Errorf("bad labels in %q", line)
			}
			name := strings.TrimSpace(body[:eq])
			val, tail, err := unquotePrefix(body[eq+1:])
			if err != nil {
				return fmt.Errorf("bad label value in %q: %w", line, err)
			}
			b.AddLabel(name, val)
			body = strings.TrimPrefix(strings.TrimSpace(tail), ",")
		}
	}
	fields := strings.Fields(rest)
	if len(fields) != 2 {
		return fmt.Errorf("want `value timestamp` after the labels in %q", line)
	}
	var v float64
	if fields[0] == "stale" {
		v = math.Float64frombits(value.StaleNaN)
	} else {
		var err error
		if v, err = strconv.ParseFloat(fields[0], 64); err != nil {
			return fmt.Errorf("bad value in %q", line)
		}
	}
	ts, err := parseTime(fields[1])
	if err != nil {
		return err
	}
	b.AddSample(ts, v)
	if !b.FinishSeries() {
		return fmt.Errorf("duplicate label in %q", line)
	}
	return nil
}

func unquotePrefix(s string) (val, rest string, err error) {
	s = strings.TrimSpace(s)
	q, err := strconv.QuotedPrefix(s)
	if err != nil {
		return "", "", err
	}
	val, err = strconv.Unquote(q)
	return val, s[len(q):], err
}

// formatSeries renders a series like the exposition format, labels sorted,
// without spaces: name{a="b",c="d"}.
func formatSeries(s *batch.Series) string {
	var sb strings.Builder
	sb.WriteString(batch.Get(s.Labels, batch.MetricName))
	var ls []string
	for _, l := range s.Labels {
		if l.Name != batch.MetricName {
			ls = append(ls, l.Name+"="+strconv.Quote(l.Value))
		}
	}
	if len(ls) > 0 {
		sb.WriteString("{" + strings.Join(ls, ",") + "}")
	}
	return sb.String()
}

// formatValue renders v; a stale marker is "stale", as in the input.
func formatValue(v float64) string {
	if value.IsStaleNaN(v) {
		return "stale"
	}
	return strconv.FormatFloat(v, 'g', 10, 64)
}

// formatFlush renders a flush output: the samples in emit order must have
// non-decreasing timestamps (window order); within one timestamp they are
// sorted by series for a stable golden file.
func formatFlush(t *testing.T, where string, b *batch.Batch) []string {
	type row struct {
		ts   int64
		line string
	}
	var rows []row
	last := int64(math.MinInt64)
	for i := range b.Series {
		s := &b.Series[i]
		if len(s.Samples) != 1 {
			t.Errorf("%s: output series %s has %d samples, want 1", where, formatSeries(s), len(s.Samples))
		}
		for _, smp := range s.Samples {
			if smp.Timestamp < last {
				t.Errorf("%s: output not in window order: %d after %d", where, smp.Timestamp, last)
			}
			last = smp.Timestamp
			rows = append(rows, row{smp.Timestamp, fmt.Sprintf("%s %s %d", formatSeries(s), formatValue(smp.Value), smp.Timestamp)})
		}
	}
	slices.SortStableFunc(rows, func(x, y row) int {
		return cmp.Or(cmp.Compare(x.ts, y.ts), strings.Compare(x.line, y.line))
	})
	out := make([]string, len(rows))
	for i, r := range rows {
		out[i] = r.line
	}
	return out
}
