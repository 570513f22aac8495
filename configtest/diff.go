package configtest

import (
	"cmp"
	"fmt"
	"io"
	"math"
	"slices"
	"strconv"
)

// Result is the outcome of one test.
type Result struct {
	Test       *Test
	File       string
	Mismatches []Mismatch // in the order they are printed
	Err        error      // the test could not run (not a failure of the config)

	multiEndpoint bool // name the endpoint in the diff
}

// Passed reports whether the test ran and got what it expected.
func (r *Result) Passed() bool { return r.Err == nil && len(r.Mismatches) == 0 }

// Kind says how an expectation and what happened differ.
type Kind uint8

const (
	// Missing: expected, not written.
	Missing Kind = iota + 1
	// Unexpected: written, not expected.
	Unexpected
	// DifferentValue: written with the expected timestamp but another
	// value; for self metrics, the counter has another value.
	DifferentValue
	// DifferentTimestamp: the series was written as often as expected but
	// with other timestamps.
	DifferentTimestamp
)

func (k Kind) String() string {
	switch k {
	case Missing:
		return "missing"
	case Unexpected:
		return "unexpected"
	case DifferentValue:
		return "different value"
	case DifferentTimestamp:
		return "different timestamp"
	}
	return "kind(" + strconv.Itoa(int(k)) + ")"
}

// Mismatch is one difference between an expectation and the run.
type Mismatch struct {
	Kind     Kind
	Endpoint string // remote_write endpoint of an output; "" for a self metric
	Series   string // Prometheus text format, labels sorted
	Want     Sample // zero for Unexpected
	Got      Sample // zero for Missing
	Line     int    // of the expectation in the test file; 0 for Unexpected
}

// Sample is a timestamp (Unix ms; none for self metrics) and value.
type Sample struct {
	Timestamp int64
	Value     float64
}

// diffOutput compares the samples an endpoint got with the expected ones,
// as multisets of (series, timestamp, value).
func diffOutput(endpoint string, want []expSample, got []gotSample) []Mismatch {
	type point struct {
		ts    int64
		value float64
		line  int
	}
	wants, gots := map[string][]point{}, map[string][]point{}
	for _, w := range want {
		wants[w.series] = append(wants[w.series], point{w.ts, w.value, w.line})
	}
	for _, g := range got {
		gots[g.series] = append(gots[g.series], point{g.ts, g.value, 0})
	}
	series := make([]string, 0, len(wants)+len(gots))
	for s := range wants {
		series = append(series, s)
	}
	for s := range gots {
		if _, ok := wants[s]; !ok {
			series = append(series, s)
		}
	}
	slices.Sort(series)

	byTime := func(a, b point) int {
		return cmp.Or(cmp.Compare(a.ts, b.ts), cmp.Compare(a.value, b.value))
	}
	var out []Mismatch
	for _, s := range series {
		ws, gs := wants[s], gots[s]
		slices.SortStableFunc(ws, byTime)
		slices.SortStableFunc(gs, byTime)
		// Remove exact matches, then pair what is left at equal timestamps.
		var restW, restG []point
		var pairs [][2]point
		j := 0
		used := make([]bool, len(gs))
		for _, w := range ws {
			for j < len(gs) && gs[j].ts < w.ts {
				j++
			}
			found := -1
			for k := j; k < len(gs) && gs[k].ts == w.ts; k++ {
				if !used[k] && sameValue(gs[k].value, w.value) {
					found = k
					break
				}
			}
			if found < 0 {
				restW = append(restW, w)
				continue
			}
			used[found] = true
		}
		for k, g := range gs {
			if !used[k] {
				restG = append(restG, g)
			}
		}
		var leftW, leftG []point
		gi := 0
		for _, w := range restW {
			for gi < len(restG) && restG[gi].ts < w.ts {
				leftG = append(leftG, restG[gi])
				gi++
			}
			if gi < len(restG) && restG[gi].ts == w.ts {
				pairs = append(pairs, [2]point{w, restG[gi]})
				gi++
				continue
			}
			leftW = append(leftW, w)
		}
		leftG = append(leftG, restG[gi:]...)

		var ms []Mismatch
		for _, p := range pairs {
			ms = append(ms, Mismatch{Kind: DifferentValue, Endpoint: endpoint, Series: s,
				Want: Sample{p[0].ts, p[0].value}, Got: Sample{p[1].ts, p[1].value}, Line: p[0].line})
		}
		if len(leftW) == len(leftG) {
			for k := range leftW {
				ms = append(ms, Mismatch{Kind: DifferentTimestamp, Endpoint: endpoint, Series: s,
					Want: Sample{leftW[k].ts, leftW[k].value}, Got: Sample{leftG[k].ts, leftG[k].value}, Line: leftW[k].line})
			}
		} else {
			for _, w := range leftW {
				ms = append(ms, Mismatch{Kind: Missing, Endpoint: endpoint, Series: s, Want: Sample{w.ts, w.value}, Line: w.line})
			}
			for _, g := range leftG {
				ms = append(ms, Mismatch{Kind: Unexpected, Endpoint: endpoint, Series: s, Got: Sample{g.ts, g.value}})
			}
		}
		slices.SortStableFunc(ms, func(a, b Mismatch) int { return cmp.Compare(a.at(), b.at()) })
		out = append(out, ms...)
	}
	return out
}

// at is the timestamp a mismatch is sorted by.
func (m Mismatch) at() int64 {
	if m.Kind == Unexpected {
		return m.Got.Timestamp
	}
	return m.Want.Timestamp
}

// diffMetrics compares expected self metrics with the gathered ones; a
// series that was never exported counts as 0.
func diffMetrics(want []expSample, got map[string]float64) []Mismatch {
	var out []Mismatch
	for _, w := range want {
		v := got[w.series]
		if !sameValue(v, w.value) {
			out = append(out, Mismatch{Kind: DifferentValue, Series: w.series,
				Want: Sample{Value: w.value}, Got: Sample{Value: v}, Line: w.line})
		}
	}
	return out
}

func sameValue(a, b float64) bool {
	return a == b || (math.IsNaN(a) && math.IsNaN(b))
}

// formatValue formats v as the Prometheus text format does.
func formatValue(v float64) string {
	switch {
	case math.IsNaN(v):
		return "NaN"
	case math.IsInf(v, 1):
		return "+Inf"
	case math.IsInf(v, -1):
		return "-Inf"
	}
	return strconv.FormatFloat(v, 'g', -1, 64)
}

// Write prints r: nothing when it passed; otherwise a header and, per
// section (each endpoint's output, self metrics), a diff of expected (-)
// and got (+) samples in Prometheus text format, each expected one with
// its line in the test file and what differs (see the package doc).
func (r *Result) Write(w io.Writer) {
	if r.Passed() {
		return
	}
	fmt.Fprintf(w, "--- FAIL: %s (%s:%d)\n", r.Test.Name, r.File, r.Test.Line)
	if r.Err != nil {
		fmt.Fprintf(w, "    cannot run: %v\n", r.Err)
		return
	}
	type row struct{ text, note string }
	var rows []row
	width := 0
	flush := func() {
		for _, x := range rows {
			if x.note == "" {
				fmt.Fprintf(w, "    %s\n", x.text)
				continue
			}
			fmt.Fprintf(w, "    %-*s  %s\n", width, x.text, x.note)
		}
		rows, width = rows[:0], 0
	}
	add := func(text, note string) {
		rows = append(rows, row{text, note})
		width = max(width, len(text))
	}
	section := ""
	for _, m := range r.Mismatches {
		title := "self metrics at the end of the run (-expected +got):"
		if m.Endpoint != "" {
			title = "output (-expected +got):"
			if r.multiEndpoint {
				title = fmt.Sprintf("output to remote_write %q (-expected +got):", m.Endpoint)
			}
		}
		if title != section {
			flush()
			fmt.Fprintf(w, "    %s\n", title)
			section = title
		}
		sample := func(s Sample) string {
			if m.Endpoint == "" {
				return m.Series + " " + formatValue(s.Value)
			}
			return m.Series + " " + formatValue(s.Value) + " " + strconv.FormatInt(s.Timestamp, 10)
		}
		lineNote := fmt.Sprintf("line %d: %s", m.Line, m.Kind)
		switch m.Kind {
		case Missing:
			add("- "+sample(m.Want), lineNote)
		case Unexpected:
			add("+ "+sample(m.Got), "unexpected")
		default:
			add("- "+sample(m.Want), lineNote)
			add("+ "+sample(m.Got), "")
		}
	}
	flush()
}

// Summary is one line about results: how many ran, failed, and where.
func Summary(file string, results []Result) string {
	failed := 0
	for i := range results {
		if !results[i].Passed() {
			failed++
		}
	}
	tests := "tests"
	if len(results) == 1 {
		tests = "test"
	}
	if failed == 0 {
		return fmt.Sprintf("%s: PASS (%d %s)", file, len(results), tests)
	}
	return fmt.Sprintf("%s: FAIL (%d of %d %s failed)", file, failed, len(results), tests)
}
