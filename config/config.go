package config

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"github.com/prometheus/prometheus/model/relabel"
	"gopkg.in/yaml.v3"

	"github.com/premetrics/premetrics/aggregate"
	"github.com/premetrics/premetrics/alerting"
	"github.com/premetrics/premetrics/derive"
	"github.com/premetrics/premetrics/enrich"
	"github.com/premetrics/premetrics/ingest"
	"github.com/premetrics/premetrics/remotewrite"
	"github.com/premetrics/premetrics/rules"
)

// Config is the whole premetrics configuration file.
type Config struct {
	Server           ingest.Config        `yaml:"server"`
	RelabelConfigs   []*relabel.Config    `yaml:"relabel_configs"`
	Enrich           []enrich.Config      `yaml:"enrich"`
	Aggregations     []aggregate.Config   `yaml:"aggregations"`
	ForwardUnmatched bool                 `yaml:"forward_unmatched"`
	RemoteWrite      []remotewrite.Config `yaml:"remote_write"`

	Inputs Inputs `yaml:"inputs"`

	Derive   []derive.Config `yaml:"derive"`
	Alerting alerting.Config `yaml:"alerting"`

	// file and root are the name and parsed YAML of the file Load read,
	// for ErrorAt; zero for a Config built in code.
	file string
	root *yaml.Node
}

// ErrorAt returns an Error for the problem msg at the field path (as in
// Error.Path, e.g. `derive[0].expr`) of the file c was loaded from, with
// the line of that field, or of its deepest existing parent. For checks
// that run after Load, such as those against the whole pipeline. The line
// is 0 for a Config not made by Load.
func (c *Config) ErrorAt(path, msg string) *Error {
	e := &Error{File: c.file, Path: path, Msg: msg}
	if c.root != nil {
		e.Line = lineOf(c.root, path)
	}
	return e
}

// ErrorsAt turns err, one problem per line, each starting with a field
// path relative to prefix (`groups[0].name: ...`; see splitPath), into
// Errors located in the file with ErrorAt: the way Load reports a
// section's Validate errors. nil for a nil err.
func (c *Config) ErrorsAt(prefix string, err error) Errors {
	var out Errors
	for _, line := range splitErrors(err) {
		path, msg := splitPath(line)
		out = append(out, c.ErrorAt(joinPath(prefix, path), msg))
	}
	return out
}

// Error is one problem found in a config file.
type Error struct {
	File string
	Line int    // 0 when unknown
	Path string // field path, e.g. aggregations[0].outputs[1]
	Msg  string
}

func (e *Error) Error() string {
	var sb strings.Builder
	sb.WriteString(e.File)
	if e.Line > 0 {
		sb.WriteString(":" + strconv.Itoa(e.Line))
	}
	sb.WriteString(": ")
	if e.Path != "" {
		sb.WriteString(e.Path + ": ")
	}
	sb.WriteString(e.Msg)
	return sb.String()
}

// Errors is every problem found in a config file, in file order.
type Errors []*Error

func (es Errors) Error() string {
	lines := make([]string, len(es))
	for i, e := range es {
		lines[i] = e.Error()
	}
	return strings.Join(lines, "\n")
}

// LoadFile reads and validates the config file at path.
func LoadFile(path string) (*Config, error) {
	data, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("cannot read config: %w", err)
	}
	cfg, err := Load(path, data, nil)
	if err != nil {
		return nil, err
	}
	// Relative file names (tls_config, password_file, ...) are relative to
	// the config file, as in Prometheus.
	for i := range cfg.RemoteWrite {
		cfg.RemoteWrite[i].HTTPClientConfig.SetDirectory(filepath.Dir(path))
	}
	for i := range cfg.Inputs.MQTT {
		cfg.Inputs.MQTT[i].SetDirectory(filepath.Dir(path))
	}
	for i := range cfg.Enrich {
		cfg.Enrich[i].SetDirectory(filepath.Dir(path))
	}
	return cfg, nil
}

// Load parses and validates data; name is used in messages. lookupEnv
// resolves ${NAME} references (nil: the process environment).
func Load(name string, data []byte, lookupEnv func(string) (string, bool)) (*Config, error) {
	var errs Errors
	data, envErrs := expandEnv(data, lookupEnv)
	for _, e := range envErrs {
		errs = append(errs, parseLinePrefixed(name, e.Error()))
	}

	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, append(errs, yamlErrors(name, nil, err)...)
	}
	if scalarErrs := checkScalars(name, &root); len(scalarErrs) > 0 {
		return nil, append(errs, scalarErrs...)
	}
	cfg := &Config{}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(cfg); err != nil && !errors.Is(err, io.EOF) {
		errs = append(errs, yamlErrors(name, &root, err)...)
		// A TypeError leaves the rest decoded: report its semantic
		// problems too, so one run shows everything.
		var te *yaml.TypeError
		if !errors.As(err, &te) {
			return nil, errs
		}
	}
	for _, e := range cfg.validate() {
		errs = append(errs, locate(name, &root, e))
	}
	if len(errs) > 0 {
		return nil, errs
	}
	cfg.file, cfg.root = name, &root
	return cfg, nil
}

// fieldError is a validation problem at a field path.
type fieldError struct{ path, msg string }

// validate applies defaults and checks every section, returning all problems.
func (c *Config) validate() []fieldError {
	var out []fieldError
	add := func(prefix string, err error) {
		for _, line := range splitErrors(err) {
			path, msg := splitPath(line)
			out = append(out, fieldError{path: joinPath(prefix, path), msg: msg})
		}
	}
	add("server", c.Server.Validate())
	add("relabel_configs", rules.ValidateRelabel(c.RelabelConfigs))

	tables := map[string]int{}
	for i := range c.Enrich {
		e := &c.Enrich[i]
		prefix := fmt.Sprintf("enrich[%d]", i)
		add(prefix, e.Validate())
		if e.Name == "" {
			continue
		}
		if j, dup := tables[e.Name]; dup {
			out = append(out, fieldError{path: prefix + ".name", msg: fmt.Sprintf("duplicate enrich name %q (also enrich[%d])", e.Name, j)})
		}
		tables[e.Name] = i
	}

	names := map[string]int{}
	for i := range c.Aggregations {
		a := &c.Aggregations[i]
		prefix := fmt.Sprintf("aggregations[%d]", i)
		add(prefix, a.Validate())
		if a.Name == "" {
			continue
		}
		if j, dup := names[a.Name]; dup {
			out = append(out, fieldError{path: prefix + ".name", msg: fmt.Sprintf("duplicate aggregation name %q (also aggregations[%d])", a.Name, j)})
		}
		names[a.Name] = i
	}

	c.Inputs.validate(add)

	if len(c.RemoteWrite) == 0 {
		out = append(out, fieldError{path: "remote_write", msg: "at least one remote_write endpoint is required"})
	}
	endpoints := map[string]int{}
	for i := range c.RemoteWrite {
		rw := &c.RemoteWrite[i]
		prefix := fmt.Sprintf("remote_write[%d]", i)
		add(prefix, rw.Validate())
		if j, dup := endpoints[rw.Endpoint()]; dup {
			out = append(out, fieldError{path: prefix + ".name", msg: fmt.Sprintf("duplicate remote_write endpoint %q (also remote_write[%d]); set distinct names", rw.Endpoint(), j)})
		}
		endpoints[rw.Endpoint()] = i
	}

	records := map[string]int{}
	for i := range c.Derive {
		d := &c.Derive[i]
		prefix := fmt.Sprintf("derive[%d]", i)
		add(prefix, d.Validate())
		if d.Record == "" {
			continue
		}
		if j, dup := records[d.Record]; dup {
			out = append(out, fieldError{path: prefix + ".record", msg: fmt.Sprintf("duplicate record %q (also derive[%d])", d.Record, j)})
		}
		records[d.Record] = i
	}
	add("alerting", c.Alerting.Validate())
	return out
}

func splitErrors(err error) []string {
	if err == nil {
		return nil
	}
	var lines []string
	for _, l := range strings.Split(err.Error(), "\n") {
		if strings.TrimSpace(l) != "" {
			lines = append(lines, l)
		}
	}
	return lines
}

// pathRE matches a leading field path such as `queue_config.max_shards` or
// `[2]` or `outputs[1]`, followed by ": ".
var pathRE = regexp.MustCompile(`^((?:\[\d+\]|[a-z_][a-z0-9_]*)(?:\.[a-z_][a-z0-9_]*|\[\d+\])*): `)

// joinPath puts a field path relative to prefix under prefix.
func joinPath(prefix, path string) string {
	switch {
	case path == "":
		return prefix
	case strings.HasPrefix(path, "["):
		return prefix + path
	case prefix != "":
		return prefix + "." + path
	}
	return path
}

func splitPath(line string) (path, msg string) {
	m := pathRE.FindStringSubmatch(line)
	if m == nil {
		return "", line
	}
	return m[1], line[len(m[0]):]
}

// locate finds the YAML line of e.path, falling back to its deepest
// existing parent.
func locate(file string, root *yaml.Node, e fieldError) *Error {
	return &Error{File: file, Line: lineOf(root, e.path), Path: e.path, Msg: e.msg}
}

var segRE = regexp.MustCompile(`[^.\[\]]+|\[\d+\]`)

func lineOf(root *yaml.Node, path string) int {
	n := root
	if n.Kind == yaml.DocumentNode && len(n.Content) > 0 {
		n = n.Content[0]
	}
	line := n.Line
	for _, seg := range segRE.FindAllString(path, -1) {
		var next *yaml.Node
		if strings.HasPrefix(seg, "[") {
			idx, _ := strconv.Atoi(seg[1 : len(seg)-1])
			if n.Kind == yaml.SequenceNode && idx < len(n.Content) {
				next = n.Content[idx]
			}
		} else if n.Kind == yaml.MappingNode {
			for i := 0; i+1 < len(n.Content); i += 2 {
				if n.Content[i].Value == seg {
					next = n.Content[i+1]
					if next.Kind == yaml.ScalarNode || next.Line == 0 {
						next.Line = n.Content[i].Line
					}
					break
				}
			}
		}
		if next == nil {
			break
		}
		n = next
		line = n.Line
	}
	return line
}

var yamlLineRE = regexp.MustCompile(`^line (\d+): (.*)$`)

// yamlErrors turns yaml.v3 errors ("yaml: line 3: ..." or a TypeError with
// one line per problem) into Errors. Errors from custom unmarshalers
// (durations, regexes) carry no line; they are located by the value they
// quote, found in root.
func yamlErrors(file string, root *yaml.Node, err error) Errors {
	var te *yaml.TypeError
	var msgs []string
	if errors.As(err, &te) {
		msgs = te.Errors
	} else {
		msgs = []string{strings.TrimPrefix(err.Error(), "yaml: ")}
	}
	out := make(Errors, 0, len(msgs))
	for _, m := range msgs {
		e := parseLinePrefixed(file, m)
		if e.Line == 0 && root != nil {
			e.Path, e.Line = findQuotedValue(root, m)
		}
		out = append(out, e)
	}
	return out
}

// findQuotedValue returns the path and line of the longest scalar value
// (two characters at least) that msg contains, or "", 0.
func findQuotedValue(root *yaml.Node, msg string) (string, int) {
	bestPath, bestLine, bestLen := "", 0, 1
	walkNodes(root, func(path, _ string, n *yaml.Node) {
		if n.Kind == yaml.ScalarNode && len(n.Value) > bestLen && strings.Contains(msg, n.Value) {
			bestPath, bestLine, bestLen = path, n.Line, len(n.Value)
		}
	})
	return bestPath, bestLine
}

// walkNodes calls fn for every node below root with its field path and the
// mapping key it belongs to (for list items, the key of the list).
func walkNodes(root *yaml.Node, fn func(path, key string, n *yaml.Node)) {
	var walk func(n *yaml.Node, path, key string)
	walk = func(n *yaml.Node, path, key string) {
		fn(path, key, n)
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path, key)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i), key)
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				k := n.Content[i].Value
				p := k
				if path != "" {
					p = path + "." + k
				}
				walk(n.Content[i+1], p, k)
			}
		}
	}
	walk(root, "", "")
}

func parseLinePrefixed(file, msg string) *Error {
	if m := yamlLineRE.FindStringSubmatch(msg); m != nil {
		line, _ := strconv.Atoi(m[1])
		return &Error{File: file, Line: line, Msg: m[2]}
	}
	return &Error{File: file, Msg: msg}
}
