package jsonevent

import (
	"errors"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"gopkg.in/yaml.v3"
)

// Config is one entry of the `inputs: json:` list: how the events pushed
// to POST /api/v1/push/{Name} become series. See the package doc for the
// semantics of every field.
type Config struct {
	// Name is the {name} of the URL: [a-zA-Z0-9_-]+.
	Name string `yaml:"name"`
	// Timestamp says where the event time is; nil means receive time.
	Timestamp *Timestamp `yaml:"timestamp"`
	// Labels maps a label name to the dotted path of an event field, for
	// every metric of the input.
	Labels map[string]string `yaml:"labels"`
	// ConstLabels are constant labels of every metric of the input.
	ConstLabels map[string]string `yaml:"const_labels"`
	// Metrics are tried in order; every one whose When matches an event
	// yields one series with one sample.
	Metrics []Metric `yaml:"metrics"`
}

// Timestamp locates the event time.
type Timestamp struct {
	// Field is the dotted path of the timestamp.
	Field string `yaml:"field"`
	// Unit is s, ms, us, ns (a JSON number, or a string holding one) or
	// rfc3339 (a string); default ms.
	Unit string `yaml:"unit"`
}

// Metric is one series an event may yield.
type Metric struct {
	// Name is the metric name (a Prometheus legacy metric name).
	Name string `yaml:"name"`
	// Value is the dotted path of the sample value: a number, a string
	// holding a JSON number, or a bool (1 or 0).
	Value string `yaml:"value"`
	// Labels are constant labels of this metric.
	Labels map[string]string `yaml:"labels"`
	// LabelsFrom maps extra label names to dotted paths, for this metric
	// only.
	LabelsFrom map[string]string `yaml:"labels_from"`
	// When selects the events of this metric: every path must hold one
	// of the values of its Match. Empty: every event.
	When map[string]Match `yaml:"when"`
}

// Match is the right side of one `when` entry: the values (JSON scalars)
// a field may hold, any one of which matches. In YAML it is one scalar or
// a list of scalars: `eventType: IC_RPM`, `level: [1, 2]`, `ok: true`,
// `code: "42"` (quoted: the string "42", not the number). In Go its
// elements are strings, bools, or numbers of any Go numeric type.
type Match []any

// yamlNonScalar stands in a Match for a YAML mapping or list where a
// scalar was expected, so that Validate reports it with its path.
type yamlNonScalar string

// UnmarshalYAML accepts a scalar or a list of scalars. It never fails on
// a value of the wrong kind: Validate reports it with its field path.
func (m *Match) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.AliasNode && n.Alias != nil {
		n = n.Alias
	}
	if n.Kind != yaml.SequenceNode {
		v, err := yamlScalar(n)
		*m = Match{v}
		return err
	}
	out := make(Match, 0, len(n.Content))
	for _, c := range n.Content {
		if c.Kind == yaml.AliasNode && c.Alias != nil {
			c = c.Alias
		}
		v, err := yamlScalar(c)
		if err != nil {
			return err
		}
		out = append(out, v)
	}
	*m = out
	return nil
}

func yamlScalar(n *yaml.Node) (any, error) {
	switch n.Kind {
	case yaml.ScalarNode:
		if n.ShortTag() == "!!timestamp" {
			return n.Value, nil // compared with JSON text: keep it as written
		}
		var v any
		err := n.Decode(&v)
		return v, err
	case yaml.MappingNode:
		return yamlNonScalar("a mapping"), nil
	case yaml.SequenceNode:
		return yamlNonScalar("a list"), nil
	}
	return yamlNonScalar("a YAML node of kind " + fmt.Sprint(n.Kind)), nil
}

// Timestamp units.
const (
	UnitSeconds      = "s"
	UnitMilliseconds = "ms"
	UnitMicroseconds = "us"
	UnitNanoseconds  = "ns"
	UnitRFC3339      = "rfc3339"
	DefaultUnit      = UnitMilliseconds
)

// Validate applies the default timestamp unit and reports every problem
// of c, joined with errors.Join, one per line. Each message starts with
// the field path relative to the input (`metrics[1].when: ...`); the
// caller prefixes `inputs.json[i].`. Map keys (label names, `when`
// paths) are quoted in the message, never in the path, so that the path
// stays a plain YAML path.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	switch {
	case c.Name == "":
		add("name: must not be empty")
	case !validInputName(c.Name):
		add("name: must match [a-zA-Z0-9_-]+, got %q", c.Name)
	}

	if ts := c.Timestamp; ts != nil {
		if msg := pathProblem(ts.Field); msg != "" {
			add("timestamp.field: %s", msg)
		}
		if ts.Unit == "" {
			ts.Unit = DefaultUnit
		}
		if _, ok := unitExponent(ts.Unit); !ok && ts.Unit != UnitRFC3339 {
			add("timestamp.unit: unknown unit %q: want s, ms, us, ns or rfc3339", ts.Unit)
		}
	}

	// owners records which field set each label name, to report a name
	// set twice for one metric.
	owners := map[string]string{}
	errs = append(errs, checkLabelPaths("labels", c.Labels, owners)...)
	errs = append(errs, checkConstLabels("const_labels", c.ConstLabels, owners)...)

	if len(c.Metrics) == 0 {
		add("metrics: at least one metric is required")
	}
	for i := range c.Metrics {
		errs = append(errs, c.Metrics[i].validate(fmt.Sprintf("metrics[%d]", i), owners)...)
	}
	if len(errs) == 0 {
		errs = append(errs, checkSameSeries(c.Metrics)...)
	}
	return errors.Join(errs...)
}

// checkSameSeries reports a metric that yields the same series as an
// earlier one for some event: the same name and labels (names, constant
// values, field paths) and `when` conditions that can hold together. One
// event would then give two samples of one series at one timestamp.
func checkSameSeries(ms []Metric) []error {
	var errs []error
	for j := range ms {
		for i := range j {
			a, b := &ms[i], &ms[j]
			if a.Name == b.Name && maps.Equal(a.Labels, b.Labels) && maps.Equal(a.LabelsFrom, b.LabelsFrom) && whenOverlaps(a.When, b.When) {
				errs = append(errs, fmt.Errorf("metrics[%d]: yields the same series as metrics[%d] for an event both match "+
					"(same name and labels, and their when can hold together): add a label or make the when exclusive", j, i))
				break
			}
		}
	}
	return errs
}

// whenOverlaps reports whether some event can match both a and b: every
// path they share has a value in common.
func whenOverlaps(a, b map[string]Match) bool {
	for path, ma := range a {
		mb, ok := b[path]
		if !ok {
			continue
		}
		common := false
		for _, x := range ma {
			sx, _ := compileScalar(x)
			for _, y := range mb {
				if sy, _ := compileScalar(y); sx == sy {
					common = true
				}
			}
		}
		if !common {
			return false
		}
	}
	return true
}

func (m *Metric) validate(prefix string, inputOwners map[string]string) []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(prefix+"."+format, args...)) }
	switch {
	case m.Name == "":
		add("name: must not be empty")
	case !validMetricName(m.Name):
		add("name: invalid metric name %q: want [a-zA-Z_:][a-zA-Z0-9_:]*", m.Name)
	}
	if msg := pathProblem(m.Value); msg != "" {
		add("value: %s", msg)
	}
	owners := make(map[string]string, len(inputOwners)+len(m.Labels)+len(m.LabelsFrom))
	for k, v := range inputOwners {
		owners[k] = v
	}
	errs = append(errs, checkConstLabels(prefix+".labels", m.Labels, owners)...)
	errs = append(errs, checkLabelPaths(prefix+".labels_from", m.LabelsFrom, owners)...)

	for _, path := range sortedKeys(m.When) {
		if msg := pathProblem(path); msg != "" {
			add("when: field %q: %s", path, msg)
			continue
		}
		if msg := matchProblem(m.When[path]); msg != "" {
			add("when: field %q: %s", path, msg)
		}
	}
	return errs
}

// checkLabelPaths checks a label name → field path map.
func checkLabelPaths(field string, labels map[string]string, owners map[string]string) []error {
	var errs []error
	for _, name := range sortedKeys(labels) {
		if err := checkLabelName(field, name, owners); err != nil {
			errs = append(errs, err)
			continue
		}
		if msg := pathProblem(labels[name]); msg != "" {
			errs = append(errs, fmt.Errorf("%s: label %q: %s", field, name, msg))
		}
	}
	return errs
}

// checkConstLabels checks a label name → constant value map.
func checkConstLabels(field string, labels map[string]string, owners map[string]string) []error {
	var errs []error
	for _, name := range sortedKeys(labels) {
		if err := checkLabelName(field, name, owners); err != nil {
			errs = append(errs, err)
			continue
		}
		if labels[name] == "" {
			errs = append(errs, fmt.Errorf("%s: label %q: value must not be empty (an empty value is no label)", field, name))
		}
	}
	return errs
}

// checkLabelName checks name and records field as its owner.
func checkLabelName(field, name string, owners map[string]string) error {
	switch {
	case strings.HasPrefix(name, "__"):
		return fmt.Errorf("%s: label name %q is reserved: names starting with __ are internal", field, name)
	case !validLabelName(name):
		return fmt.Errorf("%s: invalid label name %q: want [a-zA-Z_][a-zA-Z0-9_]*", field, name)
	}
	if other, dup := owners[name]; dup {
		return fmt.Errorf("%s: label %q is also set by %s", field, name, other)
	}
	owners[name] = field
	return nil
}

// pathProblem says what is wrong with a dotted field path, or "".
func pathProblem(path string) string {
	if path == "" {
		return "field path must not be empty"
	}
	if slices.Contains(strings.Split(path, "."), "") {
		return fmt.Sprintf("invalid field path %q: empty segment (write a.b.c)", path)
	}
	return ""
}

// matchProblem says what is wrong with the values of a `when` entry, or "".
func matchProblem(m Match) string {
	if len(m) == 0 {
		return "no value to match (null or an empty list)"
	}
	for _, v := range m {
		if _, err := compileScalar(v); err != "" {
			return err
		}
	}
	return ""
}

// ValidateAll validates every input of the `inputs: json:` list and
// checks that names are unique; messages start with `[i].`.
func ValidateAll(cs []Config) error {
	var errs []error
	names := map[string]int{}
	for i := range cs {
		if err := cs[i].Validate(); err != nil {
			for _, line := range strings.Split(err.Error(), "\n") {
				errs = append(errs, fmt.Errorf("[%d].%s", i, line))
			}
		}
		if cs[i].Name == "" {
			continue
		}
		if j, dup := names[cs[i].Name]; dup {
			errs = append(errs, fmt.Errorf("[%d].name: duplicate input name %q (also [%d])", i, cs[i].Name, j))
			continue
		}
		names[cs[i].Name] = i
	}
	return errors.Join(errs...)
}

// scalar is one compiled `when` value.
type scalar struct {
	kind scalarKind
	str  string
	num  float64
	b    bool
}

type scalarKind uint8

const (
	scalarString scalarKind = iota + 1
	scalarNumber
	scalarBool
)

// compileScalar converts one Match value, or says what is wrong with it.
func compileScalar(v any) (scalar, string) {
	var f float64
	switch x := v.(type) {
	case string:
		return scalar{kind: scalarString, str: x}, ""
	case bool:
		return scalar{kind: scalarBool, b: x}, ""
	case nil:
		return scalar{}, "want a string, number or bool, got null"
	case yamlNonScalar:
		return scalar{}, "want a string, number or bool (or a list of them), got " + string(x)
	case int:
		f = float64(x)
	case int8:
		f = float64(x)
	case int16:
		f = float64(x)
	case int32:
		f = float64(x)
	case int64:
		f = float64(x)
	case uint:
		f = float64(x)
	case uint8:
		f = float64(x)
	case uint16:
		f = float64(x)
	case uint32:
		f = float64(x)
	case uint64:
		f = float64(x)
	case float32:
		f = float64(x)
	case float64:
		f = x
	default:
		return scalar{}, fmt.Sprintf("want a string, number or bool, got %T", v)
	}
	if math.IsNaN(f) || math.IsInf(f, 0) {
		return scalar{}, fmt.Sprintf("number must be finite, got %v", f)
	}
	return scalar{kind: scalarNumber, num: f}, ""
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

func validInputName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && c != '-' && !isAlpha(c) && !isDigit(c) {
			return false
		}
	}
	return s != ""
}

// validMetricName: [a-zA-Z_:][a-zA-Z0-9_:]*.
func validMetricName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && c != ':' && !isAlpha(c) && (i == 0 || !isDigit(c)) {
			return false
		}
	}
	return s != ""
}

// validLabelName: [a-zA-Z_][a-zA-Z0-9_]*.
func validLabelName(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c != '_' && !isAlpha(c) && (i == 0 || !isDigit(c)) {
			return false
		}
	}
	return s != ""
}

func isAlpha(c byte) bool { return c|0x20 >= 'a' && c|0x20 <= 'z' }
func isDigit(c byte) bool { return c >= '0' && c <= '9' }
