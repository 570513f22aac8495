package alerting

import (
	"errors"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/rulefmt"
	"github.com/prometheus/prometheus/promql/parser"
)

// nameScheme is the name validation of the rules: Prometheus 2.42 knows
// only the classic metric and label name character sets.
const nameScheme = model.LegacyValidation

// promqlParser parses every rule expression of this package.
var promqlParser = parser.NewParser(parser.Options{})

// Validate reports every problem of c that needs no knowledge of the
// pipeline, joined with errors.Join, one per line, each starting with the
// field path relative to the section (`groups[0].rules[1].expr: ...`);
// the caller prefixes `alerting.`. Rule names, labels, annotations and
// templates are checked by Prometheus' own rule validation (rulefmt), one
// field at a time, so each problem names its field.
func (c *Config) Validate() error {
	var errs []error
	add := func(path, format string, args ...any) {
		errs = append(errs, fmt.Errorf("%s: %s", path, fmt.Sprintf(format, args...)))
	}
	names := map[string]int{}
	for i, g := range c.Groups {
		gp := fmt.Sprintf("groups[%d]", i)
		switch j, dup := names[g.Name]; {
		case g.Name == "":
			add(gp+".name", "must not be empty")
		case dup:
			add(gp+".name", "duplicate group name %q (also groups[%d]): Prometheus rejects a rule file that repeats a group name", g.Name, j)
		default:
			names[g.Name] = i
		}
		if g.Limit < 0 {
			add(gp+".limit", "must be >= 0, got %d", g.Limit)
		}
		for j := range g.Rules {
			errs = append(errs, validateRule(fmt.Sprintf("%s.rules[%d]", gp, j), &g.Rules[j])...)
		}
	}
	return errors.Join(errs...)
}

// validateRule checks one rule; path is its field path.
func validateRule(path string, r *Rule) []error {
	var errs []error
	add := func(field string, err error) { errs = append(errs, fmt.Errorf("%s: %w", field, err)) }
	switch {
	case r.Alert != "" && r.Record != "":
		add(path, errors.New("set one of alert and record, not both: a rule is an alerting rule (alert) or a recording rule (record)"))
	case r.Alert == "" && r.Record == "":
		add(path, errors.New("set one of alert (an alerting rule) or record (a recording rule)"))
	}
	switch e, err := promqlParser.ParseExpr(r.Expr); {
	case strings.TrimSpace(r.Expr) == "":
		add(path+".expr", errors.New("must not be empty"))
	case err != nil:
		add(path+".expr", fmt.Errorf("could not parse expression: %w", err))
	case e.Type() != parser.ValueTypeVector && e.Type() != parser.ValueTypeScalar:
		add(path+".expr", fmt.Errorf("must return an instant vector or a scalar, got a %s", typeName(e.Type())))
	}
	if r.Record != "" {
		if r.For != 0 {
			add(path+".for", errors.New("invalid field 'for' in recording rule"))
		}
		if r.KeepFiringFor != 0 {
			add(path+".keep_firing_for", errors.New("invalid field 'keep_firing_for' in recording rule"))
		}
		if len(r.Annotations) > 0 {
			add(path+".annotations", errors.New("invalid field 'annotations' in recording rule"))
		}
		for _, err := range rulefmtProblems(rulefmt.Rule{Record: r.Record, Expr: "1"}) {
			add(path+".record", err)
		}
	}
	// Labels and annotations alone, on a rule of the same kind and name
	// (templates are parsed for alerting rules only, named after them).
	bare := rulefmt.Rule{Alert: r.Alert, Record: r.Record, Expr: "1"}
	if r.Alert != "" {
		bare.Record = ""
	}
	if bare.Alert == "" && bare.Record == "" {
		bare.Record = "r"
	}
	for _, k := range slices.Sorted(maps.Keys(r.Labels)) {
		one := bare
		one.Labels = map[string]string{k: r.Labels[k]}
		for _, err := range rulefmtProblems(one) {
			add(fieldPath(path+".labels", k), err)
		}
	}
	if r.Alert != "" {
		for _, k := range slices.Sorted(maps.Keys(r.Annotations)) {
			one := bare
			one.Annotations = map[string]string{k: r.Annotations[k]}
			for _, err := range rulefmtProblems(one) {
				add(fieldPath(path+".annotations", k), err)
			}
		}
	}
	return errs
}

// rulefmtProblems returns what Prometheus' rule validation finds in r,
// without the line numbers of the YAML node it does not have.
func rulefmtProblems(r rulefmt.Rule) []error {
	var out []error
	for _, we := range r.Validate(rulefmt.RuleNode{}, nameScheme, promqlParser) {
		if err := errors.Unwrap(&we); err != nil {
			out = append(out, err)
		}
	}
	return out
}

func typeName(t parser.ValueType) string {
	switch t {
	case parser.ValueTypeMatrix:
		return "range vector"
	case parser.ValueTypeString:
		return "string"
	}
	return string(t)
}

var simpleKeyRE = regexp.MustCompile(`^[a-z_][a-z0-9_]*$`)

// fieldPath is field.key when key reads as a field name, else field (a
// path segment cannot hold other characters).
func fieldPath(field, key string) string {
	if simpleKeyRE.MatchString(key) {
		return field + "." + key
	}
	return field
}
