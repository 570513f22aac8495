package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/promql/parser"

	"github.com/premetrics/premetrics/catalog"
	"github.com/premetrics/premetrics/catalog/infer"
	"github.com/premetrics/premetrics/config"
)

// The dashboards in dashboards/*.json are checked the way Grafana would
// run them against a Prometheus fed by premetrics: every panel target and
// template variable query must be PromQL once the Grafana variables are
// replaced; every metric it selects must be a premetrics self metric
// (selfMetricNames) or a series the pipeline of config.example.yaml
// writes (catalog.Written: a rollup's consumed input is not); and every
// label it uses on pipeline outputs must be possible (infer.Expr: no
// by (model) on a per-region output). A dashboard querying a renamed
// metric fails here, not as an empty panel in production.

const (
	dashboardsDir     = "../../dashboards"
	dashboardsConfig  = "../../config.example.yaml"
	minSchemaVersion  = 36 // Grafana 9.0: datasources referenced as {type, uid}
	grafanaGridWidth  = 24
	grafanaMaxUIDSize = 40
)

func TestDashboards(t *testing.T) {
	paths, err := filepath.Glob(filepath.Join(dashboardsDir, "*.json"))
	if err != nil {
		t.Fatal(err)
	}
	if len(paths) == 0 {
		t.Fatalf("no dashboards in %s", dashboardsDir)
	}
	cfg, err := config.LoadFile(dashboardsConfig)
	if err != nil {
		t.Fatalf("cannot load %s: %v", dashboardsConfig, err)
	}
	cat, err := catalog.New(cfg)
	if err != nil {
		t.Fatalf("cannot compute the outputs of %s: %v", dashboardsConfig, err)
	}
	resolve := dashboardResolver(selfMetricNames(), cat)

	files := map[string][]byte{}
	for _, p := range paths {
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		files[filepath.Base(p)] = data
	}
	for _, problem := range checkDashboards(files, resolve) {
		t.Error(problem)
	}
}

// dashboardResolver resolves the selectors of dashboard queries: a
// premetrics self metric (any label: Prometheus adds job and instance when
// it scrapes them; selfMetricNames has a histogram's _bucket, _sum and
// _count series), else what the pipeline writes under that name.
func dashboardResolver(self map[string]bool, cat *catalog.Catalog) infer.Resolver {
	return func(vs *parser.VectorSelector) ([]infer.Family, error) {
		name := metricName(vs)
		if name == "" {
			return nil, nil // reported by checkExpr
		}
		if self[name] {
			return []infer.Family{{Name: name, Origin: "premetrics self metric", Labels: infer.Open()}}, nil
		}
		for _, suffix := range []string{"_bucket", "_sum", "_count"} {
			if base, ok := strings.CutSuffix(name, suffix); ok && self[base] {
				return nil, fmt.Errorf("metric %q: %s is a self metric but not known as a histogram or summary (selfMetricNames lists the %s series of those only)", name, base, suffix)
			}
		}
		fams, err := cat.Written(name)
		if err != nil {
			return nil, fmt.Errorf("%w; nor is it a premetrics self metric", err)
		}
		return fams, nil
	}
}

// TestDashboardCheckerFindsProblems proves the checker rejects what it
// is meant to reject, so a passing TestDashboards means something.
func TestDashboardCheckerFindsProblems(t *testing.T) {
	resolve := func(vs *parser.VectorSelector) ([]infer.Family, error) {
		switch name := metricName(vs); name {
		case "premetrics_ingest_samples_total", "premetrics_build_info":
			return []infer.Family{{Name: name, Labels: infer.Open()}}, nil
		case "vehicle_rpm:1m_by_region_avg":
			return []infer.Family{{Name: name, Origin: "fleet_rpm", Labels: infer.Closed("region")}}, nil
		case "":
			return nil, nil
		default:
			return nil, fmt.Errorf("metric %q is not written by the pipeline", name)
		}
	}
	good := `{
	  "uid": "good", "title": "Good", "tags": ["premetrics"], "schemaVersion": 39,
	  "templating": {"list": [
	    {"name": "datasource", "type": "datasource", "query": "prometheus"},
	    {"name": "job", "type": "query", "datasource": {"type": "prometheus", "uid": "${datasource}"},
	     "query": {"query": "label_values(premetrics_build_info, job)", "refId": "V"}}
	  ]},
	  "panels": [
	    {"id": 1, "type": "row", "title": "r", "collapsed": true, "gridPos": {"x": 0, "y": 0, "w": 24, "h": 1},
	     "panels": [
	      {"id": 2, "type": "timeseries", "title": "t", "gridPos": {"x": 0, "y": 1, "w": 12, "h": 8},
	       "datasource": {"type": "prometheus", "uid": "${datasource}"},
	       "targets": [
	         {"refId": "A", "expr": "sum(rate(premetrics_ingest_samples_total{job=~\"$job\"}[$__rate_interval]))"},
	         {"refId": "B", "expr": "max by (region) (vehicle_rpm:1m_by_region_avg)"}
	       ]}
	    ]}
	  ]
	}`
	if problems := checkDashboards(map[string][]byte{"good.json": []byte(good)}, resolve); len(problems) > 0 {
		t.Fatalf("the valid dashboard has problems:\n%s", strings.Join(problems, "\n"))
	}
	for _, tc := range []struct {
		name, old, new, want string
	}{
		{"unknown metric", "rate(premetrics_ingest_samples_total", "rate(premetrics_ingested_samples_total",
			`target A: metric "premetrics_ingested_samples_total" is not written`},
		{"unknown metric in a variable query", "label_values(premetrics_build_info, job)", "label_values(up, job)",
			`variable "job": metric "up" is not written`},
		{"label an output lacks", "max by (region)", "max by (model)",
			`target B: label "model" of by (model) is never on vehicle_rpm:1m_by_region_avg`},
		{"syntax error", `[$__rate_interval]))`, `[$__rate_interval])`, "does not parse"},
		{"undefined variable", `job=~\"$job\"`, `job=~\"$jobs\"`, `undefined variable "jobs"`},
		{"no metric name", `premetrics_ingest_samples_total{job`, `{job`, "selects no metric by name"},
		{"missing refId", `"refId": "A", `, ``, "target 0 has no refId"},
		{"missing expr", `"expr": "sum(`, `"exp": "sum(`, "target A has no expr"},
		{"duplicate id", `{"id": 2,`, `{"id": 1,`, "panel id 1 is used twice"},
		{"missing gridPos", `"gridPos": {"x": 0, "y": 1, "w": 12, "h": 8},`, ``, "has no gridPos"},
		{"grid overflow", `"x": 0, "y": 1, "w": 12`, `"x": 16, "y": 1, "w": 12`, "gridPos x+w = 28 is over 24"},
		{"fixed datasource", `"type": "timeseries", "title": "t", "gridPos": {"x": 0, "y": 1, "w": 12, "h": 8},
	       "datasource": {"type": "prometheus", "uid": "${datasource}"}`,
			`"type": "timeseries", "title": "t", "gridPos": {"x": 0, "y": 1, "w": 12, "h": 8},
	       "datasource": {"type": "prometheus", "uid": "P1809F7CD0C75ACF3"}`, "does not use the datasource variable"},
		{"old schema", `"schemaVersion": 39`, `"schemaVersion": 27`, "schemaVersion 27 is below 36"},
		{"no uid", `"uid": "good", `, ``, "has no uid"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			bad := strings.Replace(good, tc.old, tc.new, 1)
			if bad == good {
				t.Fatalf("%q is not in the dashboard", tc.old)
			}
			problems := checkDashboards(map[string][]byte{"bad.json": []byte(bad)}, resolve)
			for _, p := range problems {
				if strings.Contains(p, tc.want) {
					return
				}
			}
			t.Errorf("want a problem containing %q, got:\n%s", tc.want, strings.Join(problems, "\n"))
		})
	}
	t.Run("uid used twice", func(t *testing.T) {
		problems := checkDashboards(map[string][]byte{"a.json": []byte(good), "b.json": []byte(good)}, resolve)
		if len(problems) != 1 || !strings.Contains(problems[0], `uid "good" is also used by a.json`) {
			t.Errorf("want one problem about the uid, got:\n%s", strings.Join(problems, "\n"))
		}
	})
}

// The parts of Grafana's dashboard JSON model the checks read.
type (
	grafanaDashboard struct {
		UID           string         `json:"uid"`
		Title         string         `json:"title"`
		Tags          []string       `json:"tags"`
		SchemaVersion int            `json:"schemaVersion"`
		Panels        []grafanaPanel `json:"panels"`
		Templating    struct {
			List []grafanaVariable `json:"list"`
		} `json:"templating"`
	}
	grafanaPanel struct {
		ID         *int            `json:"id"`
		Type       string          `json:"type"`
		Title      string          `json:"title"`
		Collapsed  bool            `json:"collapsed"`
		GridPos    *grafanaGridPos `json:"gridPos"`
		Datasource json.RawMessage `json:"datasource"`
		Targets    []grafanaTarget `json:"targets"`
		Panels     []grafanaPanel  `json:"panels"` // a collapsed row's panels
	}
	grafanaGridPos struct {
		X, Y, W, H int
	}
	grafanaTarget struct {
		RefID      string          `json:"refId"`
		Expr       string          `json:"expr"`
		Datasource json.RawMessage `json:"datasource"`
	}
	grafanaVariable struct {
		Name       string          `json:"name"`
		Type       string          `json:"type"`
		Query      json.RawMessage `json:"query"` // a string, or {"query": "..."} since Grafana 10
		Datasource json.RawMessage `json:"datasource"`
		Options    []struct {
			Value any `json:"value"`
		} `json:"options"`
	}
)

// checkDashboards checks the dashboards in files (file name: JSON) and
// returns their problems, each prefixed with the file and the panel;
// resolve says what the metrics the queries select are.
func checkDashboards(files map[string][]byte, resolve infer.Resolver) []string {
	var problems []string
	names := make([]string, 0, len(files))
	for name := range files {
		names = append(names, name)
	}
	sort.Strings(names)
	uids := map[string]string{} // uid: file
	for _, name := range names {
		var d grafanaDashboard
		if err := json.Unmarshal(files[name], &d); err != nil {
			problems = append(problems, fmt.Sprintf("%s: not dashboard JSON: %v", name, err))
			continue
		}
		if d.UID != "" {
			if other, dup := uids[d.UID]; dup {
				problems = append(problems, fmt.Sprintf("%s: uid %q is also used by %s", name, d.UID, other))
			}
			uids[d.UID] = name
		}
		c := &dashboardChecker{file: name, resolve: resolve}
		c.check(&d)
		problems = append(problems, c.problems...)
	}
	return problems
}

type dashboardChecker struct {
	file     string
	resolve  infer.Resolver
	vars     map[string]string // variable name: a value to substitute
	ids      map[int]string    // panel id: title
	problems []string
}

func (c *dashboardChecker) errorf(where, format string, args ...any) {
	c.problems = append(c.problems, c.file+": "+where+fmt.Sprintf(format, args...))
}

func (c *dashboardChecker) check(d *grafanaDashboard) {
	switch {
	case d.UID == "":
		c.errorf("", "has no uid")
	case len(d.UID) > grafanaMaxUIDSize:
		c.errorf("", "uid %q is longer than %d characters", d.UID, grafanaMaxUIDSize)
	}
	if d.Title == "" {
		c.errorf("", "has no title")
	}
	if len(d.Tags) == 0 {
		c.errorf("", "has no tags")
	}
	if d.SchemaVersion < minSchemaVersion {
		c.errorf("", "schemaVersion %d is below %d", d.SchemaVersion, minSchemaVersion)
	}

	c.vars = map[string]string{}
	hasDatasource := false
	for _, v := range d.Templating.List {
		c.vars[v.Name] = variableSample(v)
		if v.Name == "datasource" && v.Type == "datasource" && string(v.Query) == `"prometheus"` {
			hasDatasource = true
		}
	}
	if !hasDatasource {
		c.errorf("", `has no variable "datasource" of type datasource and query "prometheus"`)
	}
	for _, v := range d.Templating.List {
		if v.Type != "query" {
			continue
		}
		where := fmt.Sprintf("variable %q: ", v.Name)
		if !usesDatasourceVar(v.Datasource) {
			c.errorf(where, "does not use the datasource variable: %s", v.Datasource)
		}
		c.checkVariableQuery(where, v.Query)
	}

	c.ids = map[int]string{}
	c.checkPanels(d.Panels, "")
}

// checkPanels checks a list of panels laid out together: the top level of
// the dashboard or the panels of one collapsed row.
func (c *dashboardChecker) checkPanels(panels []grafanaPanel, row string) {
	var placed []grafanaPanel
	for i, p := range panels {
		where := fmt.Sprintf("%spanel %d %q: ", row, i, p.Title)
		if p.ID == nil {
			c.errorf(where, "has no id")
		} else {
			if other, dup := c.ids[*p.ID]; dup {
				c.errorf(where, "panel id %d is used twice (also by %q)", *p.ID, other)
			}
			c.ids[*p.ID] = p.Title
		}
		if p.Type == "" {
			c.errorf(where, "has no type")
		}
		if p.GridPos == nil {
			c.errorf(where, "has no gridPos")
		} else {
			g := p.GridPos
			switch {
			case g.W <= 0 || g.H <= 0 || g.X < 0 || g.Y < 0:
				c.errorf(where, "gridPos %+v: w and h must be positive, x and y not negative", *g)
			case g.X+g.W > grafanaGridWidth:
				c.errorf(where, "gridPos x+w = %d is over %d", g.X+g.W, grafanaGridWidth)
			}
			for _, q := range placed {
				if overlap(*g, *q.GridPos) {
					c.errorf(where, "gridPos %+v overlaps panel %q at %+v", *g, q.Title, *q.GridPos)
				}
			}
			placed = append(placed, p)
		}

		if p.Type == "row" {
			if len(p.Targets) > 0 {
				c.errorf(where, "a row has targets")
			}
			if len(p.Panels) > 0 && !p.Collapsed {
				c.errorf(where, "an expanded row holds panels: they belong at the top level after it")
			}
			c.checkPanels(p.Panels, fmt.Sprintf("%srow %q: ", row, p.Title))
			continue
		}
		if len(p.Panels) > 0 {
			c.errorf(where, "only rows hold panels")
		}
		if !usesDatasourceVar(p.Datasource) {
			c.errorf(where, "does not use the datasource variable: %s", p.Datasource)
		}
		if len(p.Targets) == 0 {
			c.errorf(where, "has no targets")
		}
		refIDs := map[string]bool{}
		for j, tg := range p.Targets {
			if tg.RefID == "" {
				c.errorf(where, "target %d has no refId", j)
			} else if refIDs[tg.RefID] {
				c.errorf(where, "refId %q is used twice", tg.RefID)
			}
			refIDs[tg.RefID] = true
			if len(tg.Datasource) > 0 && !usesDatasourceVar(tg.Datasource) {
				c.errorf(where, "target %s does not use the datasource variable: %s", tg.RefID, tg.Datasource)
			}
			if strings.TrimSpace(tg.Expr) == "" {
				c.errorf(where, "target %s has no expr", tg.RefID)
				continue
			}
			c.checkExpr(where+"target "+tg.RefID+": ", tg.Expr)
		}
	}
}

func overlap(a, b grafanaGridPos) bool {
	return a.X < b.X+b.W && b.X < a.X+a.W && a.Y < b.Y+b.H && b.Y < a.Y+a.H
}

// usesDatasourceVar reports whether a panel's, target's or variable's
// datasource is the dashboard's datasource variable, so the dashboard
// imports into any Grafana: {"type": "prometheus", "uid": "${datasource}"}
// or, in older dashboards, the string "$datasource".
func usesDatasourceVar(raw json.RawMessage) bool {
	var s string
	if json.Unmarshal(raw, &s) == nil {
		return s == "$datasource" || s == "${datasource}"
	}
	var ref struct{ Type, UID string }
	if json.Unmarshal(raw, &ref) != nil {
		return false
	}
	return ref.Type == "prometheus" && (ref.UID == "$datasource" || ref.UID == "${datasource}")
}

// Grafana's Prometheus variable query functions. metrics(regex) and
// label_names() select nothing to check.
var (
	labelValuesQuery = regexp.MustCompile(`^label_values\((?:(.*),)?\s*[a-zA-Z_]\w*\s*\)$`)
	queryResultQuery = regexp.MustCompile(`^query_result\((.*)\)$`)
	otherVarQuery    = regexp.MustCompile(`^(metrics|label_names)\(.*\)$`)
)

func (c *dashboardChecker) checkVariableQuery(where string, raw json.RawMessage) {
	var q string
	if json.Unmarshal(raw, &q) != nil {
		var obj struct{ Query string }
		if err := json.Unmarshal(raw, &obj); err != nil {
			c.errorf(where, "query is neither a string nor an object with a query: %s", raw)
			return
		}
		q = obj.Query
	}
	q = strings.TrimSpace(q)
	if m := labelValuesQuery.FindStringSubmatch(q); m != nil {
		if strings.TrimSpace(m[1]) != "" {
			c.checkExpr(where, m[1])
		}
		return
	}
	if m := queryResultQuery.FindStringSubmatch(q); m != nil {
		c.checkExpr(where, m[1])
		return
	}
	if otherVarQuery.MatchString(q) {
		return
	}
	c.errorf(where, "query %q is not label_values(), query_result(), metrics() or label_names()", q)
}

// checkExpr substitutes the Grafana variables of expr, parses it as
// PromQL and checks the metric names its selectors use.
func (c *dashboardChecker) checkExpr(where, expr string) {
	promql, err := c.substitute(expr)
	if err != nil {
		c.errorf(where, "%v in %q", err, expr)
		return
	}
	ast, err := dashboardParser.ParseExpr(promql)
	if err != nil {
		c.errorf(where, "does not parse: %v\n\t%s", err, promql)
		return
	}
	parser.Inspect(ast, func(node parser.Node, _ []parser.Node) error {
		if vs, ok := node.(*parser.VectorSelector); ok && metricName(vs) == "" {
			c.errorf(where, "selector %s selects no metric by name", vs)
		}
		return nil
	})
	_, problems := infer.Expr(ast, c.resolve)
	for _, p := range problems {
		c.errorf(where, "%v", p)
	}
}

var dashboardParser = parser.NewParser(parser.Options{})

func metricName(vs *parser.VectorSelector) string {
	if vs.Name != "" {
		return vs.Name
	}
	for _, m := range vs.LabelMatchers {
		if m.Name == labels.MetricName && m.Type == labels.MatchEqual {
			return m.Value
		}
	}
	return ""
}

// grafanaVar matches the variable syntaxes of Grafana: $name, ${name},
// ${name:format} and the deprecated [[name]].
var grafanaVar = regexp.MustCompile(`\$\{(\w+)(?::[^}]*)?\}|\[\[(\w+)(?::[^\]]*)?\]\]|\$(\w+)`)

// grafanaBuiltins are values for Grafana's global variables, as Grafana
// would substitute them.
var grafanaBuiltins = map[string]string{
	"__rate_interval":    "1m",
	"__rate_interval_ms": "60000",
	"__interval":         "15s",
	"__interval_ms":      "15000",
	"__range":            "3600s",
	"__range_s":          "3600",
	"__range_ms":         "3600000",
}

func (c *dashboardChecker) substitute(expr string) (string, error) {
	var err error
	out := grafanaVar.ReplaceAllStringFunc(expr, func(ref string) string {
		m := grafanaVar.FindStringSubmatch(ref)
		name := m[1] + m[2] + m[3]
		if v, ok := grafanaBuiltins[name]; ok {
			return v
		}
		if v, ok := c.vars[name]; ok {
			return v
		}
		if err == nil {
			err = fmt.Errorf("undefined variable %q", name)
		}
		return ref
	})
	return out, err
}

// variableSample is a value of v that is valid where such a variable is
// used: an interval for interval variables, the first option of custom
// and constant ones, and otherwise a word, as label values in matchers are.
func variableSample(v grafanaVariable) string {
	switch v.Type {
	case "interval":
		return "5m"
	case "custom", "constant":
		if len(v.Options) > 0 {
			switch x := v.Options[0].Value.(type) {
			case string:
				return x
			case float64:
				return strconv.FormatFloat(x, 'g', -1, 64)
			}
		}
		var q string
		if json.Unmarshal(v.Query, &q) == nil && q != "" {
			first, _, _ := strings.Cut(q, ",")
			return strings.TrimSpace(first)
		}
	}
	return "value"
}
