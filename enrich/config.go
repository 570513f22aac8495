package enrich

import (
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/prometheus/common/model"
	"gopkg.in/yaml.v3"

	"github.com/premetrics/premetrics/batch"
)

// Defaults of the optional settings.
const (
	DefaultFileInterval = 10 * time.Second // how often a file is checked for changes
	DefaultPollInterval = time.Minute      // http and postgres refresh
	DefaultTimeout      = 30 * time.Second // one http or postgres refresh
	DefaultMaxRows      = 10_000_000
	// DefaultSeriesInterval is how often reference series are emitted.
	DefaultSeriesInterval = 30 * time.Second
	// MaxSourceBytes bounds a file or HTTP response body: a source larger
	// than this fails to load (and keeps the last snapshot).
	MaxSourceBytes = 1 << 30
)

// Formats of a file source.
const (
	FormatCSV  = "csv"
	FormatYAML = "yaml"
	FormatJSON = "json"
)

// Miss actions: what happens to a series whose key is not in the table.
const (
	MissKeep    = "keep"    // unchanged (the default)
	MissDrop    = "drop"    // removed and counted as dropped
	MissDefault = "default" // given the default values
)

// Config is one entry of the top-level `enrich:` list.
type Config struct {
	Name   string   `yaml:"name"`
	Source Source   `yaml:"source"`
	Key    []string `yaml:"key"` // label names joined on; the source columns of the same names
	Add    []string `yaml:"add"` // source columns added as labels of the same names; may be empty with series
	OnMiss OnMiss   `yaml:"on_miss"`
	// Required (default true): startup (and a reload that adds or changes
	// the table) fails when no snapshot can be loaded. false: start with an
	// empty table, every lookup misses, and the source is retried every
	// interval.
	Required *bool `yaml:"required"`
	MaxRows  *int  `yaml:"max_rows"` // default DefaultMaxRows; more rows fail the load
	// Series emits numeric columns of the table as reference series, one
	// per row, labelled with the row's key labels, every SeriesInterval
	// (e.g. cpu_threshold{hostname="sleepy"} 40), so alerting rules can
	// compare each device with its own threshold.
	Series         []SeriesConfig  `yaml:"series"`
	SeriesInterval *model.Duration `yaml:"series_interval"` // default DefaultSeriesInterval
}

// SeriesConfig is one reference series of a table: a numeric column
// emitted under a metric name.
type SeriesConfig struct {
	Column string            `yaml:"column"`
	Name   string            `yaml:"name"`   // metric name; default the column name
	Labels map[string]string `yaml:"labels"` // added to every series
}

// Source is where a table's rows come from: exactly one of its fields.
type Source struct {
	File     *FileSource     `yaml:"file"`
	HTTP     *HTTPSource     `yaml:"http"`
	Postgres *PostgresSource `yaml:"postgres"`
}

// FileSource is a CSV (with a header line), YAML or JSON (a list of
// objects) file, re-read when its modification time, size or content
// changes. `file: PATH` is short for `file: {path: PATH}`.
type FileSource struct {
	Path     string          `yaml:"path"`     // relative: to the config file's directory
	Format   string          `yaml:"format"`   // csv | yaml | json; default from the extension
	Interval *model.Duration `yaml:"interval"` // how often the file is checked; default 10s
}

// HTTPSource is a JSON endpoint answering a list of objects, polled.
type HTTPSource struct {
	URL      string            `yaml:"url"`
	Interval *model.Duration   `yaml:"interval"` // default 1m
	Timeout  *model.Duration   `yaml:"timeout"`  // default 30s
	Headers  map[string]string `yaml:"headers"`
}

// PostgresSource is a query whose result columns are the table's
// columns, re-run every interval.
type PostgresSource struct {
	DSN      string          `yaml:"dsn"` // libpq URL or key=value string; use ${ENV} for the password
	Query    string          `yaml:"query"`
	Interval *model.Duration `yaml:"interval"` // default 1m
	Timeout  *model.Duration `yaml:"timeout"`  // default 30s
}

// OnMiss is `on_miss`: keep, drop, or {default: {column: value, ...}}.
type OnMiss struct {
	Action  string            // MissKeep, MissDrop or MissDefault; "" is keep
	Default map[string]string // with MissDefault: add column -> value
}

// UnmarshalYAML accepts a scalar action or a {default: {...}} mapping.
func (o *OnMiss) UnmarshalYAML(n *yaml.Node) error {
	switch n.Kind {
	case yaml.ScalarNode:
		o.Action = n.Value
		if o.Action == MissDefault {
			return typeError(n, "on_miss: default needs values: on_miss: {default: {column: value}}")
		}
		return nil
	case yaml.MappingNode:
		if err := knownKeys(n, "enrich.OnMiss", "default"); err != nil {
			return err
		}
		var v struct {
			Default map[string]string `yaml:"default"`
		}
		if err := n.Decode(&v); err != nil {
			return err
		}
		o.Action, o.Default = MissDefault, v.Default
		return nil
	}
	return typeError(n, "on_miss: want keep, drop or {default: {column: value}}")
}

// UnmarshalYAML accepts a path or a mapping of FileSource's fields.
func (f *FileSource) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind == yaml.ScalarNode {
		f.Path = n.Value
		return nil
	}
	if n.Kind == yaml.MappingNode {
		if err := knownKeys(n, "enrich.FileSource", "path", "format", "interval"); err != nil {
			return err
		}
	}
	type plain FileSource // without this method
	return n.Decode((*plain)(f))
}

// knownKeys reports the keys of mapping n that are not in known the way
// yaml.v3's strict decoding does, with their line.
func knownKeys(n *yaml.Node, typ string, known ...string) error {
	var msgs []string
	for i := 0; i+1 < len(n.Content); i += 2 {
		if k := n.Content[i]; !slices.Contains(known, k.Value) {
			msgs = append(msgs, fmt.Sprintf("line %d: field %s not found in type %s", k.Line, k.Value, typ))
		}
	}
	if msgs != nil {
		return &yaml.TypeError{Errors: msgs}
	}
	return nil
}

func typeError(n *yaml.Node, msg string) error {
	return &yaml.TypeError{Errors: []string{fmt.Sprintf("line %d: %s", n.Line, msg)}}
}

// SetDirectory resolves a relative file path against dir (the config
// file's directory).
func (c *Config) SetDirectory(dir string) {
	if f := c.Source.File; f != nil && f.Path != "" && !filepath.IsAbs(f.Path) {
		f.Path = filepath.Join(dir, f.Path)
	}
}

// IsRequired reports whether startup needs a snapshot (the default).
func (c *Config) IsRequired() bool { return c.Required == nil || *c.Required }

func (c *Config) maxRows() int {
	if c.MaxRows == nil {
		return DefaultMaxRows
	}
	return *c.MaxRows
}

// format returns the file's format: the configured one or the one its
// extension names ("" when neither).
func (f *FileSource) format() string {
	if f.Format != "" {
		return f.Format
	}
	switch strings.ToLower(filepath.Ext(f.Path)) {
	case ".csv":
		return FormatCSV
	case ".yaml", ".yml":
		return FormatYAML
	case ".json":
		return FormatJSON
	}
	return ""
}

// kind names the configured source, for logs.
func (s *Source) kind() string {
	switch {
	case s.File != nil:
		return "file"
	case s.HTTP != nil:
		return "http"
	case s.Postgres != nil:
		return "postgres"
	}
	return ""
}

// interval returns how often the source is refreshed.
func (s *Source) interval() time.Duration {
	switch {
	case s.File != nil:
		return orDefault(s.File.Interval, DefaultFileInterval)
	case s.HTTP != nil:
		return orDefault(s.HTTP.Interval, DefaultPollInterval)
	case s.Postgres != nil:
		return orDefault(s.Postgres.Interval, DefaultPollInterval)
	}
	return DefaultPollInterval
}

func orDefault(d *model.Duration, def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return time.Duration(*d)
}

// Validate reports every problem of c, joined with errors.Join, one per
// line. Each message starts with the field path relative to the entry
// (`source.file.format: ...`); the caller prefixes `enrich[i].`.
func (c *Config) Validate() error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }

	if c.Name == "" {
		add("name: must not be empty")
	}
	errs = append(errs, c.Source.validate()...)

	if len(c.Key) == 0 {
		add("key: must name at least one label")
	}
	errs = append(errs, validateNames("key", c.Key, nil, false)...)
	if len(c.Add) == 0 && len(c.Series) == 0 {
		add("add: must name at least one column")
	}
	errs = append(errs, validateNames("add", c.Add, c.Key, true)...)
	errs = append(errs, c.validateSeries()...)

	switch c.OnMiss.Action {
	case "", MissKeep:
	case MissDrop:
		if len(c.Add) == 0 {
			add("on_miss: drop needs add columns: a table with series only is not joined onto series")
		}
	case MissDefault:
		if len(c.Add) == 0 {
			add("on_miss.default: needs add columns: a table with series only is not joined onto series")
		} else if len(c.OnMiss.Default) == 0 {
			add("on_miss.default: must give a value to at least one column of add")
		}
		for _, col := range sortedKeys(c.OnMiss.Default) {
			switch {
			case !slices.Contains(c.Add, col):
				add("on_miss.default.%s: not a column of add %q", col, c.Add)
			case c.OnMiss.Default[col] == "":
				add("on_miss.default.%s: must not be empty (an empty label is no label)", col)
			}
		}
	default:
		add("on_miss: unknown action %q: want keep, drop or {default: {column: value}}", c.OnMiss.Action)
	}
	if c.MaxRows != nil && *c.MaxRows <= 0 {
		add("max_rows: must be > 0, got %d", *c.MaxRows)
	}
	return errors.Join(errs...)
}

// validateSeries checks series and series_interval.
func (c *Config) validateSeries() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	if d := c.SeriesInterval; d != nil && *d <= 0 {
		add("series_interval: must be > 0, got %s", time.Duration(*d))
	}
	seen := map[string]int{} // series identity -> index
	for i, s := range c.Series {
		field := fmt.Sprintf("series[%d]", i)
		switch {
		case s.Column == "":
			add("%s.column: must not be empty", field)
		case !model.UTF8Validation.IsValidLabelName(s.Column):
			add("%s.column: invalid column name %q", field, s.Column)
		case slices.Contains(c.Key, s.Column):
			add("%s.column: %q is a key column: its values are the series' labels, not numbers", field, s.Column)
		}
		name := s.MetricName()
		switch {
		case s.Name == "" && s.Column != "" && !model.LegacyValidation.IsValidMetricName(name):
			add("%s.name: the column name %q is not a valid metric name: set name", field, s.Column)
		case s.Name != "" && !model.LegacyValidation.IsValidMetricName(s.Name):
			add("%s.name: invalid metric name %q: want [a-zA-Z_:][a-zA-Z0-9_:]*", field, s.Name)
		}
		for _, l := range sortedKeys(s.Labels) {
			switch {
			case !model.UTF8Validation.IsValidLabelName(l):
				add("%s.labels: invalid label name %q", field, l)
			case l == batch.MetricName:
				add("%s.labels.%s: set the metric name with name", field, l)
			case slices.Contains(c.Key, l):
				add("%s.labels.%s: %q is a key label: every series has it with the row's value", field, l, l)
			case s.Labels[l] == "":
				add("%s.labels.%s: must not be empty (an empty label is no label)", field, l)
			}
		}
		if name == "" {
			continue
		}
		id := seriesID(name, s.Labels)
		if j, ok := seen[id]; ok {
			add("%s: duplicate series %s (also series[%d]): give it another name or other labels", field, id, j)
			continue
		}
		seen[id] = i
	}
	return errs
}

// seriesID renders a series entry's metric name and constant labels as
// name{a="b", ...}: two entries with the same identity would emit the
// same series for every row.
func seriesID(name string, labels map[string]string) string {
	if len(labels) == 0 {
		return name
	}
	var sb strings.Builder
	sb.WriteString(name)
	sb.WriteByte('{')
	for i, k := range sortedKeys(labels) {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "%s=%q", k, labels[k])
	}
	sb.WriteByte('}')
	return sb.String()
}

// MetricName returns the metric name the series is emitted under: Name,
// or the column name when Name is empty.
func (s SeriesConfig) MetricName() string {
	if s.Name != "" {
		return s.Name
	}
	return s.Column
}

// seriesInterval returns how often the reference series are emitted.
func (c *Config) seriesInterval() time.Duration {
	return orDefault(c.SeriesInterval, DefaultSeriesInterval)
}

func (s *Source) validate() []error {
	var errs []error
	add := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	var set []string
	if s.File != nil {
		set = append(set, "file")
	}
	if s.HTTP != nil {
		set = append(set, "http")
	}
	if s.Postgres != nil {
		set = append(set, "postgres")
	}
	switch len(set) {
	case 0:
		add("source: set one of file, http, postgres")
		return errs
	case 1:
	default:
		add("source: set exactly one of file, http, postgres; got %s", strings.Join(set, " and "))
		return errs
	}
	positive := func(field string, d *model.Duration) {
		if d != nil && *d <= 0 {
			add("%s: must be > 0, got %s", field, time.Duration(*d))
		}
	}
	switch {
	case s.File != nil:
		f := s.File
		if f.Path == "" {
			add("source.file.path: must not be empty")
		}
		switch f.Format {
		case "":
			if f.Path != "" && f.format() == "" {
				add("source.file.format: cannot tell from the extension of %q: set csv, yaml or json", f.Path)
			}
		case FormatCSV, FormatYAML, FormatJSON:
		default:
			add("source.file.format: unknown format %q: want csv, yaml or json", f.Format)
		}
		positive("source.file.interval", f.Interval)
	case s.HTTP != nil:
		h := s.HTTP
		u, err := url.Parse(h.URL)
		switch {
		case h.URL == "":
			add("source.http.url: must not be empty")
		case err != nil:
			add("source.http.url: %v", err)
		case u.Scheme != "http" && u.Scheme != "https", u.Host == "":
			add("source.http.url: want an http or https URL with a host, got %q", h.URL)
		}
		positive("source.http.interval", h.Interval)
		positive("source.http.timeout", h.Timeout)
	case s.Postgres != nil:
		p := s.Postgres
		if p.DSN == "" {
			add("source.postgres.dsn: must not be empty")
		} else if _, err := pgx.ParseConfig(p.DSN); err != nil {
			add("source.postgres.dsn: %v", err) // pgx redacts the password
		}
		if strings.TrimSpace(p.Query) == "" {
			add("source.postgres.query: must not be empty")
		}
		positive("source.postgres.interval", p.Interval)
		positive("source.postgres.timeout", p.Timeout)
	}
	return errs
}

// validateNames checks the label names of key or add; names of add must
// not be in key (a joined label is not added again).
func validateNames(field string, names, key []string, isAdd bool) []error {
	var errs []error
	for i, n := range names {
		switch {
		case n == "":
			errs = append(errs, fmt.Errorf("%s[%d]: empty label name", field, i))
		case !model.UTF8Validation.IsValidLabelName(n):
			errs = append(errs, fmt.Errorf("%s[%d]: invalid label name %q", field, i, n))
		case isAdd && n == batch.MetricName:
			errs = append(errs, fmt.Errorf("%s[%d]: %q cannot be added: enrichment does not rename metrics", field, i, n))
		case slices.Contains(names[:i], n):
			errs = append(errs, fmt.Errorf("%s[%d]: duplicate label %q", field, i, n))
		case slices.Contains(key, n):
			errs = append(errs, fmt.Errorf("%s[%d]: %q is a key label; it is not added", field, i, n))
		}
	}
	return errs
}

func sortedKeys(m map[string]string) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}
