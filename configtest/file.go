package configtest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/config"
	"github.com/premetrics/premetrics/enrich"
	"github.com/premetrics/premetrics/ingest/jsonevent"
	"github.com/premetrics/premetrics/ingest/outcome"
	"github.com/premetrics/premetrics/ingest/promtext"
	"github.com/premetrics/premetrics/rules"
)

// Error is one problem of a test file.
type Error struct {
	File string
	Line int // 0 when unknown
	Msg  string
}

func (e *Error) Error() string {
	if e.Line > 0 {
		return fmt.Sprintf("%s:%d: %s", e.File, e.Line, e.Msg)
	}
	return e.File + ": " + e.Msg
}

// Errors is every problem found in a test file, in file order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// Suite is a loaded test file: its tests and the config they run against.
// It is immutable; Run may be called more than once.
type Suite struct {
	File       string // the test file, as given to Load
	ConfigFile string // the config file, relative to the working directory
	Tests      []*Test

	cfg      *config.Config
	tables   []*enrich.Enricher // loaded once, shared by the runs (read only)
	limits   outcome.Limits
	mappings map[string]*jsonevent.Mapping
}

// Test is one test case of a Suite.
type Test struct {
	Name string
	Line int // of its list item in the test file

	startMs     int64
	compare     []*rules.Selector // nil: every output
	remoteWrite string            // "": every endpoint
	chunks      []chunk
	expect      []expSample // nil with !hasExpect: output not checked
	hasExpect   bool
	late        []expSample // expect_late, as premetrics_aggregate_late_samples_total series
	metrics     []expSample // expect_metrics
}

// chunk is one request of a test's input.
type chunk struct {
	line     int    // of its list item
	bodyLine int    // of the first line of body
	atMs     int64  // wall clock at which it arrives, Unix ms
	body     []byte // Prometheus text, or JSON events when mapping is set
	mapping  *jsonevent.Mapping
}

// expSample is an expected sample: a series, its value and, for output
// samples, its timestamp.
type expSample struct {
	series string // formatSeries of its labels
	labels []batch.Label
	ts     int64
	value  float64
	line   int
}

// Options configure Load.
type Options struct {
	// LookupEnv resolves ${NAME} in the config file after the test file's
	// env section; nil: the process environment.
	LookupEnv func(string) (string, bool)
}

// The test file, as written.
type rawFile struct {
	ConfigFile string                      `yaml:"config_file"`
	Env        map[string]string           `yaml:"env"`
	Tables     map[string][]map[string]any `yaml:"tables"`
	Tests      []rawTest                   `yaml:"tests"`
}

type rawTest struct {
	Name          string             `yaml:"name"`
	StartTime     string             `yaml:"start_time"`
	Compare       []string           `yaml:"compare"`
	RemoteWrite   string             `yaml:"remote_write"`
	Input         []rawChunk         `yaml:"input"`
	Expect        *string            `yaml:"expect"`
	ExpectLate    map[string]float64 `yaml:"expect_late"`
	ExpectMetrics string             `yaml:"expect_metrics"`
}

type rawChunk struct {
	At        *model.Duration `yaml:"at"`
	Series    *string         `yaml:"series"`
	JSONInput string          `yaml:"json_input"`
	Events    *string         `yaml:"events"`
}

// Load reads the test file at path and the config file it names, compiles
// the config as the daemon does, and decodes every input chunk and
// expectation, so that one call reports every problem (with file and
// line). Problems of the test file are an Errors, those of the config a
// config.Errors (as premetrics check reports them).
func Load(path string, opts Options) (*Suite, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read test file: %w", err)
	}
	return load(path, data, opts)
}

func load(path string, data []byte, opts Options) (*Suite, error) {
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, yamlErrors(path, err)
	}
	var raw rawFile
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil && !errors.Is(err, io.EOF) {
		return nil, yamlErrors(path, err)
	}
	p := &parser{file: path, root: &root}
	if raw.ConfigFile == "" {
		p.errorf(p.line("config_file"), "config_file: the config to test is required")
		return nil, p.errs
	}
	if len(raw.Tests) == 0 {
		p.errorf(p.line("tests"), "tests: at least one test is required")
		return nil, p.errs
	}

	s := &Suite{File: path, ConfigFile: raw.ConfigFile}
	if !filepath.IsAbs(s.ConfigFile) {
		s.ConfigFile = filepath.Join(filepath.Dir(path), s.ConfigFile)
	}
	cfgData, err := os.ReadFile(s.ConfigFile)
	if err != nil {
		p.errorf(p.line("config_file"), "config_file: cannot read config: %v", err)
		return nil, p.errs
	}
	lookup := opts.LookupEnv
	if lookup == nil {
		lookup = os.LookupEnv
	}
	cfg, err := config.Load(s.ConfigFile, cfgData, func(k string) (string, bool) {
		if v, ok := raw.Env[k]; ok {
			return v, true
		}
		return lookup(k)
	})
	if err != nil {
		return nil, err
	}
	s.cfg = cfg
	for i := range cfg.Enrich {
		cfg.Enrich[i].SetDirectory(filepath.Dir(s.ConfigFile))
	}
	if s.tables, err = loadTables(cfg, raw.Tables); err != nil {
		p.errorf(p.line("tables"), "%v", err)
		return nil, p.errs
	}
	s.limits = cfg.Server.DecoderLimits()
	s.mappings = map[string]*jsonevent.Mapping{}
	for i, jc := range cfg.Inputs.JSON {
		m, err := jsonevent.Compile(jc)
		if err != nil {
			return nil, fmt.Errorf("%s: inputs.json[%d]: %w", s.ConfigFile, i, err)
		}
		s.mappings[m.Name()] = m
	}
	// Compile once here so that config problems beyond config.Load (the
	// compile step of check) are reported as load errors, not per test.
	if _, err := s.build(); err != nil {
		return nil, fmt.Errorf("%s: %w", s.ConfigFile, err)
	}

	names := map[string]int{}
	for i := range raw.Tests {
		t, ok := p.test(s, &raw.Tests[i], i)
		if prev, dup := names[t.Name]; dup && t.Name != "" {
			p.errorf(t.Line, "tests[%d].name: duplicate test name %q (also line %d)", i, t.Name, prev)
		}
		names[t.Name] = t.Line
		if ok {
			s.Tests = append(s.Tests, t)
		}
	}
	if len(p.errs) > 0 {
		slices.SortStableFunc(p.errs, func(a, b *Error) int { return a.Line - b.Line })
		return nil, p.errs
	}
	return s, nil
}

// parser collects the problems of one test file with their lines.
type parser struct {
	file string
	root *yaml.Node
	errs Errors
}

func (p *parser) errorf(line int, format string, args ...any) {
	p.errs = append(p.errs, &Error{File: p.file, Line: line, Msg: fmt.Sprintf(format, args...)})
}

// node returns the node at path (map keys and list indexes), or nil.
func (p *parser) node(path ...any) *yaml.Node {
	n := p.root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	for _, seg := range path {
		var next *yaml.Node
		switch seg := seg.(type) {
		case int:
			if n.Kind == yaml.SequenceNode && seg < len(n.Content) {
				next = n.Content[seg]
			}
		case string:
			if n.Kind == yaml.MappingNode {
				for i := 0; i+1 < len(n.Content); i += 2 {
					if n.Content[i].Value == seg {
						next = n.Content[i+1]
						break
					}
				}
			}
		}
		if next == nil {
			return nil
		}
		n = next
	}
	return n
}

// line returns the line of the node at path, or of its deepest existing
// parent.
func (p *parser) line(path ...any) int {
	for k := len(path); k >= 0; k-- {
		if n := p.node(path[:k]...); n != nil {
			return n.Line
		}
	}
	return 0
}

// keyLine returns the line of the key of the mapping entry at path.
func (p *parser) keyLine(path ...any) int {
	if len(path) > 0 {
		if m := p.node(path[:len(path)-1]...); m != nil && m.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(m.Content); i += 2 {
				if m.Content[i].Value == path[len(path)-1] {
					return m.Content[i].Line
				}
			}
		}
	}
	return p.line(path...)
}

// textLine returns the file line of the first line of the text scalar at
// path: the line after the indicator of a block scalar (| or >).
func (p *parser) textLine(path ...any) int {
	n := p.node(path...)
	if n == nil {
		return p.line(path...)
	}
	if n.Style&(yaml.LiteralStyle|yaml.FoldedStyle) != 0 {
		return n.Line + 1
	}
	return n.Line
}

// test checks and compiles one test; ok is false when it has problems.
func (p *parser) test(s *Suite, rt *rawTest, i int) (t *Test, ok bool) {
	at := func(path ...any) []any { return append([]any{"tests", i}, path...) }
	t = &Test{Name: rt.Name, Line: p.line(at()...)}
	field := fmt.Sprintf("tests[%d]", i)
	nerr := len(p.errs)
	if t.Name == "" {
		p.errorf(t.Line, "%s.name: every test needs a name", field)
	}
	if rt.StartTime != "" {
		ms, err := parseTime(rt.StartTime)
		if err != nil {
			p.errorf(p.line(at("start_time")...), "%s.start_time: %v", field, err)
		}
		t.startMs = ms
	}
	for j, expr := range rt.Compare {
		sel, err := rules.CompileSelector(expr)
		switch {
		case err != nil:
			p.errorf(p.line(at("compare", j)...), "%s.compare[%d]: %v", field, j, err)
		case sel.HasComparison():
			p.errorf(p.line(at("compare", j)...), "%s.compare[%d]: %q: a series selector without a comparison is expected", field, j, expr)
		default:
			t.compare = append(t.compare, sel)
		}
	}
	if rt.RemoteWrite != "" {
		var names []string
		for _, rc := range s.cfg.RemoteWrite {
			names = append(names, rc.Endpoint())
		}
		if !slices.Contains(names, rt.RemoteWrite) {
			p.errorf(p.line(at("remote_write")...), "%s.remote_write: no remote_write endpoint named %q (the config has %s)",
				field, rt.RemoteWrite, strings.Join(names, ", "))
		}
		t.remoteWrite = rt.RemoteWrite
	}

	if len(rt.Input) == 0 {
		p.errorf(p.keyLine(at("input")...), "%s.input: at least one input chunk is required", field)
	}
	prevAt, prevLine := int64(math.MinInt64), 0
	for j := range rt.Input {
		c, ok := p.chunk(s, t, &rt.Input[j], fmt.Sprintf("%s.input[%d]", field, j), at("input", j))
		if !ok {
			continue
		}
		if c.atMs < prevAt {
			p.errorf(c.line, "%s.input[%d]: arrives at %s, before the chunk of line %d (%s): chunks are given in arrival order",
				field, j, formatAt(c.atMs-t.startMs), prevLine, formatAt(prevAt-t.startMs))
		}
		prevAt, prevLine = c.atMs, c.line
		t.chunks = append(t.chunks, c)
	}

	if rt.Expect != nil {
		t.hasExpect = true
		t.expect = p.samples(*rt.Expect, p.textLine(at("expect")...), field+".expect", true)
		if t.expect == nil {
			t.expect = []expSample{}
		}
		for _, e := range t.expect {
			if !t.selects(e.labels) {
				p.errorf(e.line, "%s.expect: %s is not selected by compare, so it is never compared", field, e.series)
			}
		}
	}
	lateNames := make([]string, 0, len(rt.ExpectLate))
	for name := range rt.ExpectLate {
		lateNames = append(lateNames, name)
	}
	sort.Strings(lateNames)
	for _, name := range lateNames {
		line := p.keyLine(at("expect_late", name)...)
		if !s.hasAggregation(name) {
			p.errorf(line, "%s.expect_late: no aggregation named %q", field, name)
			continue
		}
		ls := []batch.Label{{Name: "__name__", Value: metricLate}, {Name: "aggregation", Value: name}}
		t.late = append(t.late, expSample{series: formatSeries(ls), labels: ls, value: rt.ExpectLate[name], line: line})
	}
	if rt.ExpectMetrics != "" {
		base := p.textLine(at("expect_metrics")...)
		t.metrics = p.samples(rt.ExpectMetrics, base, field+".expect_metrics", false)
		for _, m := range t.metrics {
			if name := batch.Get(m.labels, batch.MetricName); !slices.Contains(checkedMetrics, name) {
				p.errorf(m.line, "%s.expect_metrics: %s is not a metric premetrics test can check (it checks %s)",
					field, name, strings.Join(checkedMetrics, ", "))
			}
		}
	}
	if !t.hasExpect && len(t.late) == 0 && len(t.metrics) == 0 {
		p.errorf(t.Line, "%s: the test checks nothing: give expect, expect_late or expect_metrics", field)
	}
	return t, len(p.errs) == nerr
}

func (p *parser) chunk(s *Suite, t *Test, rc *rawChunk, field string, path []any) (chunk, bool) {
	c := chunk{line: p.line(path...)}
	nerr := len(p.errs)
	switch {
	case rc.Series != nil && rc.Events != nil:
		p.errorf(c.line, "%s: give series or events, not both", field)
	case rc.Series != nil:
		c.body, c.bodyLine = []byte(*rc.Series), p.textLine(append(path, "series")...)
		if rc.JSONInput != "" {
			p.errorf(p.line(append(path, "json_input")...), "%s.json_input: only for events", field)
		}
	case rc.Events != nil:
		c.body, c.bodyLine = []byte(*rc.Events), p.textLine(append(path, "events")...)
		switch {
		case rc.JSONInput == "":
			p.errorf(c.line, "%s.json_input: events need the name of the inputs.json mapping that maps them", field)
		case s.mappings[rc.JSONInput] == nil:
			p.errorf(p.line(append(path, "json_input")...), "%s.json_input: no JSON input named %q (inputs.json has %s)",
				field, rc.JSONInput, strings.Join(s.inputNames(), ", "))
		default:
			c.mapping = s.mappings[rc.JSONInput]
		}
	default:
		p.errorf(c.line, "%s: give series (Prometheus text) or events (JSON, with json_input)", field)
	}
	if len(p.errs) > nerr {
		return c, false
	}

	// Decode once without a receive time to find the newest timestamp and
	// whether some sample has none.
	b := &batch.Batch{}
	what := field + ".series"
	if c.mapping != nil {
		what = field + ".events"
	}
	decode := func(now int64) bool {
		b.Reset()
		probs, err := s.decode(&c, now, b)
		if err != nil {
			p.errorf(c.bodyLine, "%s: %v", what, err)
		}
		for _, pr := range probs {
			p.errorf(pr.line, "%s: %s", what, pr.msg)
		}
		return err == nil && len(probs) == 0
	}
	if !decode(noTimestamp) {
		return c, false
	}
	newest, untimed := int64(math.MinInt64), false
	for i := range b.Series {
		for _, smp := range b.Series[i].Samples {
			if smp.Timestamp == noTimestamp {
				untimed = true
			} else {
				newest = max(newest, smp.Timestamp)
			}
		}
	}
	switch {
	case rc.At != nil:
		c.atMs = t.startMs + time.Duration(*rc.At).Milliseconds()
	case untimed:
		p.errorf(c.line, "%s.at: required when a sample has no timestamp (it gets the arrival time)", field)
		return c, false
	case newest == math.MinInt64:
		p.errorf(c.line, "%s: the chunk has no sample", field)
		return c, false
	default:
		c.atMs = newest
	}
	// The real decode, with the arrival time as receive time, must work.
	return c, decode(c.atMs)
}

// samples decodes expectations in Prometheus text format; withTimestamp
// says whether every line needs a timestamp (outputs) or none may have
// one (self metrics).
func (p *parser) samples(text string, base int, field string, withTimestamp bool) []expSample {
	var b batch.Batch
	var res outcome.Result
	_ = promtext.Decode([]byte(text), &b, outcome.Limits{}, promtext.Options{Now: noTimestamp}, &res)
	for _, rej := range res.Rejected {
		p.errorf(base+rej.Item-1, "%s: %s", field, rejectionText(rej))
	}
	if more := res.RejectedItems - len(res.Rejected); more > 0 {
		p.errorf(base, "%s: ... and %d more rejected lines", field, more)
	}
	lines := sampleLines(text)
	out := make([]expSample, 0, len(b.Series))
	for i := range b.Series {
		sr := &b.Series[i]
		line := base
		if i < len(lines) {
			line = base + lines[i] - 1
		}
		smp := sr.Samples[0]
		switch {
		case withTimestamp && smp.Timestamp == noTimestamp:
			p.errorf(line, "%s: the sample needs a timestamp (Unix milliseconds): outputs are stamped with their window end", field)
			continue
		case !withTimestamp && smp.Timestamp != noTimestamp:
			p.errorf(line, "%s: a self metric takes no timestamp: it is read at the end of the run", field)
			continue
		}
		ls := batch.Clone(sr.Labels)
		out = append(out, expSample{series: formatSeries(ls), labels: ls, ts: smp.Timestamp, value: smp.Value, line: line})
	}
	return out
}

// sampleLines returns the 1-based numbers of the lines of text that are
// samples: neither blank nor comments. With no rejected line they are the
// lines of the decoded series, in order.
func sampleLines(text string) []int {
	var out []int
	for i, l := range strings.Split(text, "\n") {
		l = strings.TrimSpace(l)
		if l != "" && !strings.HasPrefix(l, "#") {
			out = append(out, i+1)
		}
	}
	return out
}

// noTimestamp is the receive time given to the decoders to find samples
// without a timestamp: decoders reject negative timestamps, so no sample
// has it.
const noTimestamp = math.MinInt64

// decode decodes c's body into b with now as the receive time. Rejected
// lines or events are returned as problems: a test's input is meant to be
// valid, as the daemon would answer 400 to it.
func (s *Suite) decode(c *chunk, now int64, b *batch.Batch) ([]problem, error) {
	var res outcome.Result
	var err error
	if c.mapping != nil {
		sc := jsonevent.GetScratch()
		err = c.mapping.Decode(c.body, b, s.limits, now, sc, &res)
		jsonevent.PutScratch(sc)
	} else {
		err = promtext.Decode(c.body, b, s.limits, promtext.Options{Now: now}, &res)
	}
	if err != nil || res.RejectedItems == 0 {
		return nil, err
	}
	out := make([]problem, 0, len(res.Rejected)+1)
	for _, rej := range res.Rejected {
		if c.mapping == nil { // Item is the line of the text
			out = append(out, problem{c.bodyLine + rej.Item - 1, "rejected: " + rejectionText(rej)})
		} else {
			out = append(out, problem{c.bodyLine, fmt.Sprintf("%s %d rejected: %s", rej.ItemKind, rej.Item, rejectionText(rej))})
		}
	}
	if more := res.RejectedItems - len(res.Rejected); more > 0 {
		out = append(out, problem{c.bodyLine, fmt.Sprintf("... and %d more rejected", more)})
	}
	return out, nil
}

// problem is a rejected line or event of an input chunk.
type problem struct {
	line int
	msg  string
}

func rejectionText(rej outcome.Rejection) string {
	m := rej.Reason.String()
	if rej.Series != "" {
		m = rej.Series + ": " + m
	}
	if rej.Detail != "" {
		m += ": " + rej.Detail
	}
	return m
}

func (s *Suite) hasAggregation(name string) bool {
	for i := range s.cfg.Aggregations {
		if s.cfg.Aggregations[i].Name == name {
			return true
		}
	}
	return false
}

func (s *Suite) inputNames() []string {
	names := make([]string, 0, len(s.mappings))
	for n := range s.mappings {
		names = append(names, n)
	}
	sort.Strings(names)
	if len(names) == 0 {
		return []string{"none"}
	}
	return names
}

// parseTime reads start_time: Unix milliseconds or RFC 3339.
func parseTime(s string) (int64, error) {
	if ms, err := strconv.ParseInt(s, 10, 64); err == nil {
		if ms < 0 {
			return 0, fmt.Errorf("%q is before 1970", s)
		}
		return ms, nil
	}
	t, err := time.Parse(time.RFC3339Nano, s)
	if err != nil {
		return 0, fmt.Errorf("want Unix milliseconds or RFC 3339 (2024-11-03T08:00:00Z), got %q", s)
	}
	if t.UnixMilli() < 0 {
		return 0, fmt.Errorf("%q is before 1970", s)
	}
	return t.UnixMilli(), nil
}

// formatAt formats an offset from start_time in milliseconds.
func formatAt(ms int64) string {
	return model.Duration(time.Duration(ms) * time.Millisecond).String()
}

var yamlLineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// yamlErrors turns yaml.v3 errors into Errors with lines.
func yamlErrors(file string, err error) Errors {
	var msgs []string
	if te, ok := errors.AsType[*yaml.TypeError](err); ok {
		msgs = te.Errors
	} else {
		msgs = []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	out := make(Errors, 0, len(msgs))
	for _, m := range msgs {
		e := &Error{File: file, Msg: m}
		if g := yamlLineRE.FindStringSubmatch(m); g != nil {
			e.Line, _ = strconv.Atoi(g[1])
			e.Msg = strings.ReplaceAll(g[2], "configtest.raw", "")
		}
		out = append(out, e)
	}
	return out
}
