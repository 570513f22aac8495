package alerting

import "github.com/prometheus/common/model"

// Config is the top-level `alerting:` section: Prometheus rule groups,
// written for Prometheus by `premetrics rules`.
type Config struct {
	Groups []Group `yaml:"groups"`
}

// Group is a Prometheus rule group (the rule_files group syntax).
type Group struct {
	Name     string         `yaml:"name"`
	Interval model.Duration `yaml:"interval,omitempty"`
	Limit    int            `yaml:"limit,omitempty"`
	Rules    []Rule         `yaml:"rules"`
}

// Rule is a Prometheus alerting or recording rule.
type Rule struct {
	Record        string            `yaml:"record,omitempty"`
	Alert         string            `yaml:"alert,omitempty"`
	Expr          string            `yaml:"expr"`
	For           model.Duration    `yaml:"for,omitempty"`
	KeepFiringFor model.Duration    `yaml:"keep_firing_for,omitempty"`
	Labels        map[string]string `yaml:"labels,omitempty"`
	Annotations   map[string]string `yaml:"annotations,omitempty"`
}
