package alerting

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"strings"

	"github.com/prometheus/prometheus/model/rulefmt"
	"gopkg.in/yaml.v3"
)

// RenderOptions say what Render writes besides the configured groups.
type RenderOptions struct {
	// Header is written at the top as YAML comments, one per line.
	Header string
	// SelfHealth, when not nil, appends the built-in group of alerts on
	// premetrics itself (SelfHealthGroup).
	SelfHealth *SelfHealth
}

// Render returns the Prometheus rule file (rule_files YAML) of cfg's
// groups, in config order, followed by the self-health group when
// opts.SelfHealth is set. cfg should be valid (Validate); the result is
// parsed back with Prometheus' rule file parser, and its problems, or a
// configured group named like the self-health group, are the error.
func Render(cfg Config, opts RenderOptions) ([]byte, error) {
	groups := cfg.Groups
	if opts.SelfHealth != nil {
		sh := SelfHealthGroup(*opts.SelfHealth)
		for i, g := range groups {
			if g.Name == sh.Name {
				return nil, fmt.Errorf("groups[%d].name: %q is the name of the built-in self-health group; rename the group or leave the built-in one out", i, g.Name)
			}
		}
		groups = append(groups[:len(groups):len(groups)], sh)
	}
	var buf bytes.Buffer
	for line := range strings.SplitSeq(strings.TrimRight(opts.Header, "\n"), "\n") {
		if opts.Header == "" {
			break
		}
		fmt.Fprintf(&buf, "# %s\n", line)
	}
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if groups == nil {
		groups = []Group{}
	}
	if err := enc.Encode(Config{Groups: groups}); err != nil {
		return nil, fmt.Errorf("cannot render rules: %w", err)
	}
	if err := enc.Close(); err != nil {
		return nil, fmt.Errorf("cannot render rules: %w", err)
	}
	out := buf.Bytes()
	if _, errs := rulefmt.Parse(out, false, nameScheme, promqlParser, slog.New(slog.DiscardHandler)); len(errs) > 0 {
		return nil, fmt.Errorf("rendered rules are not valid for Prometheus: %w", errors.Join(errs...))
	}
	return out, nil
}
