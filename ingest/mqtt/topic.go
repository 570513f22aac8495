package mqtt

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"unicode/utf8"
	"unsafe"

	"github.com/premetrics/premetrics/batch"
)

// maxTopicLen is the longest topic or filter MQTT can carry.
const maxTopicLen = 65535

// parseFilter checks an MQTT topic filter and returns the levels that
// topics are matched against (without a "$share/<group>/" prefix).
func parseFilter(f string) ([]string, error) {
	switch {
	case f == "":
		return nil, errors.New("is required, e.g. vehicles/+/events")
	case len(f) > maxTopicLen:
		return nil, fmt.Errorf("longer than %d bytes", maxTopicLen)
	case !utf8.ValidString(f) || strings.ContainsRune(f, 0):
		return nil, fmt.Errorf("%q is not valid UTF-8 without NUL", f)
	}
	match := f
	if rest, ok := strings.CutPrefix(f, "$share/"); ok {
		group, filter, ok := strings.Cut(rest, "/")
		if !ok || group == "" || filter == "" || strings.ContainsAny(group, "+#") {
			return nil, fmt.Errorf("shared subscription %q: want $share/<group>/<filter>", f)
		}
		match = filter
	}
	levels := strings.Split(match, "/")
	for i, l := range levels {
		switch {
		case l == "#" && i != len(levels)-1:
			return nil, fmt.Errorf("%q: '#' must be the last level", f)
		case l != "#" && l != "+" && strings.ContainsAny(l, "+#"):
			return nil, fmt.Errorf("%q: a wildcard must be a whole level, got %q", f, l)
		}
	}
	return levels, nil
}

// matchTopic reports whether topic matches the filter levels (MQTT 3.1.1
// section 4.7): "+" is one level, a final "#" is the parent level and any
// number below it, and a topic starting with "$" matches no filter that
// starts with a wildcard.
func matchTopic(levels []string, topic string) bool {
	if strings.HasPrefix(topic, "$") && len(levels) > 0 && (levels[0] == "+" || levels[0] == "#") {
		return false
	}
	rest := topic
	for i, l := range levels {
		if l == "#" {
			return true
		}
		level, after, more := strings.Cut(rest, "/")
		if l != "+" && l != level {
			return false
		}
		if !more {
			// The topic ends here: the filter must end too, or continue
			// with just "#" ("a/#" matches "a").
			return i == len(levels)-1 || (i == len(levels)-2 && levels[i+1] == "#")
		}
		rest = after
	}
	return false // the topic has more levels than the filter
}

// topicLabel is a label whose value is a level of the actual topic.
type topicLabel struct {
	name  string
	level int
}

// compileTopicLabels returns the labels of m sorted by name.
func compileTopicLabels(m map[string]int) []topicLabel {
	out := make([]topicLabel, 0, len(m))
	for name, level := range m {
		out = append(out, topicLabel{name: name, level: level})
	}
	slices.SortFunc(out, func(a, b topicLabel) int { return strings.Compare(a.name, b.name) })
	return out
}

// labeler adds topic labels to the series of a batch; its buffers are
// reused from message to message (one labeler per worker).
type labeler struct {
	levels []string      // levels of the current topic, in b's arena
	add    []batch.Label // the labels to add, sorted
	merged []batch.Label
}

// apply adds labels, with values from topic, to every series of b. The
// topic is copied into b's byte arena first, so the label values belong
// to b like the rest of its strings. A topic label replaces a series
// label of the same name; an empty or absent level adds nothing.
func (l *labeler) apply(b *batch.Batch, topic string, labels []topicLabel) {
	if len(labels) == 0 || b.Len() == 0 || topic == "" {
		return
	}
	buf := b.Bytes(len(topic))
	copy(buf, topic)
	own := unsafe.String(unsafe.SliceData(buf), len(buf))
	l.levels = l.levels[:0]
	for rest, more := own, true; more; {
		var level string
		level, rest, more = strings.Cut(rest, "/")
		l.levels = append(l.levels, level)
	}
	l.add = l.add[:0]
	for _, tl := range labels {
		if tl.level < len(l.levels) && l.levels[tl.level] != "" {
			l.add = append(l.add, batch.Label{Name: tl.name, Value: l.levels[tl.level]})
		}
	}
	if len(l.add) == 0 {
		return
	}
	for i := range b.Series {
		l.merged = mergeLabels(l.merged[:0], b.Series[i].Labels, l.add)
		b.SetLabels(i, l.merged)
	}
}

// mergeLabels appends to dst the union of the sorted label sets base and
// over; on equal names over wins.
func mergeLabels(dst, base, over []batch.Label) []batch.Label {
	i, j := 0, 0
	for i < len(base) && j < len(over) {
		switch c := strings.Compare(base[i].Name, over[j].Name); {
		case c < 0:
			dst = append(dst, base[i])
			i++
		case c > 0:
			dst = append(dst, over[j])
			j++
		default:
			dst = append(dst, over[j])
			i++
			j++
		}
	}
	dst = append(dst, base[i:]...)
	return append(dst, over[j:]...)
}
