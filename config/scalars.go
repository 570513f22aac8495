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
		"keep_alive": true, "connect_timeout": true, "timeout": true,
	}
	regexKeys = map[string]bool{"regex": true}
	// freeFormKeys hold maps whose keys are the user's (label names, JSON
	// field paths), not config keys: a label called "interval" is no
	// duration.
	freeFormKeys = map[string]bool{"labels": true, "const_labels": true, "labels_from": true, "when": true, "topic_labels": true, "headers": true, "default": true}
)

// checkScalars walks the document and returns an Error for every duration
// or regex value that does not parse.
func checkScalars(file string, root *yaml.Node) Errors {
	var errs Errors
	walkNodes(root, func(path, key string, n *yaml.Node) {
		if n.Kind != yaml.ScalarNode || n.Tag == "!!null" || !strings.HasSuffix(path, key) {
			return // not a mapping value (a list item), or not a scalar
		}
		if inFreeForm(path) {
			return
		}
		if msg := checkScalar(key, n.Value); msg != "" {
			errs = append(errs, &Error{File: file, Line: n.Line, Path: path, Msg: msg})
		}
	})
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

// inFreeForm reports whether path lies inside a map of freeFormKeys.
func inFreeForm(path string) bool {
	segs := strings.Split(path, ".")
	for _, seg := range segs[:len(segs)-1] {
		if i := strings.IndexByte(seg, '['); i >= 0 {
			seg = seg[:i]
		}
		if freeFormKeys[seg] {
			return true
		}
	}
	return false
}
