package config

import (
	"fmt"
	"strings"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"
	"gopkg.in/yaml.v3"
)

// Keys whose values have their own YAML unmarshalers (durations, relabel
// regexes). yaml.v3 stops at the first error such an unmarshaler returns,
// without a line number, so these values are checked beforehand, all of
// them, each reported with its line and path.
var (
	durationKeys = map[string]bool{
		"interval": true, "lateness": true, "max_future_skew": true,
		"staleness_interval": true, "dedup_interval": true,
		"remote_timeout": true, "batch_send_deadline": true,
		"min_backoff": true, "max_backoff": true, "request_queue_timeout": true,
	}
	regexKeys = map[string]bool{"regex": true}
)

// checkScalars walks the document and returns an Error for every duration
// or regex value that does not parse.
func checkScalars(file string, root *yaml.Node) Errors {
	var errs Errors
	var walk func(n *yaml.Node, path string)
	walk = func(n *yaml.Node, path string) {
		switch n.Kind {
		case yaml.DocumentNode:
			for _, c := range n.Content {
				walk(c, path)
			}
		case yaml.SequenceNode:
			for i, c := range n.Content {
				walk(c, fmt.Sprintf("%s[%d]", path, i))
			}
		case yaml.MappingNode:
			for i := 0; i+1 < len(n.Content); i += 2 {
				key, val := n.Content[i].Value, n.Content[i+1]
				p := key
				if path != "" {
					p = path + "." + key
				}
				if val.Kind == yaml.ScalarNode && val.Tag != "!!null" {
					if msg := checkScalar(key, val.Value); msg != "" {
						errs = append(errs, &Error{File: file, Line: val.Line, Path: p, Msg: msg})
					}
				}
				walk(val, p)
			}
		}
	}
	walk(root, "")
	return errs
}

func checkScalar(key, value string) string {
	switch {
	case durationKeys[key]:
		if _, err := model.ParseDuration(value); err != nil {
			return fmt.Sprintf("invalid duration %q: want a number and a unit, e.g. 30s, 5m, 1h (%v)", value, strings.TrimPrefix(err.Error(), "not a valid duration string: "))
		}
	case regexKeys[key]:
		if _, err := relabel.NewRegexp(value); err != nil {
			return fmt.Sprintf("invalid regex %q: %v", value, err)
		}
	}
	return ""
}
