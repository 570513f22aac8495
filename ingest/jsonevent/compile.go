package jsonevent

import (
	"fmt"
	"slices"
	"strings"

	"github.com/premetrics/premetrics/batch"
)

// Mapping is a compiled Config: immutable, and safe for concurrent
// Decode calls (each with its own Scratch).
type Mapping struct {
	name string

	// Field paths, one slot each: every distinct dotted path the mapping
	// reads, split into keys for fastjson's Value.Get.
	paths     [][]string
	pathNames []string

	tsSlot    int // -1: receive time
	tsRFC3339 bool
	tsExp10   int
	tsUnit    string

	metrics []metric
	// whenSlots are the distinct `when` paths sorted by name, for
	// unmapped details.
	whenSlots []int
}

// metric is one compiled Metric.
type metric struct {
	name      string
	valueSlot int
	conds     []cond
	// labels are sorted by name and include __name__.
	labels []labelSource
}

// cond is one `when` entry: the field at slot must equal one of alts.
type cond struct {
	slot int
	alts []scalar
}

// labelSource is a constant label (slot < 0) or one read from a field.
type labelSource struct {
	name  string
	value string
	slot  int
}

// Compile validates c and compiles it.
func Compile(c Config) (*Mapping, error) {
	c = cloneConfig(c) // Validate sets defaults; leave the caller's copy alone
	if err := c.Validate(); err != nil {
		return nil, fmt.Errorf("cannot compile JSON input %q: %w", c.Name, err)
	}
	m := &Mapping{name: c.Name, tsSlot: -1}
	slots := map[string]int{}
	slot := func(path string) int {
		if i, ok := slots[path]; ok {
			return i
		}
		slots[path] = len(m.paths)
		m.paths = append(m.paths, strings.Split(path, "."))
		m.pathNames = append(m.pathNames, path)
		return len(m.paths) - 1
	}
	if ts := c.Timestamp; ts != nil {
		m.tsSlot = slot(ts.Field)
		m.tsUnit = ts.Unit
		m.tsRFC3339 = ts.Unit == UnitRFC3339
		m.tsExp10, _ = unitExponent(ts.Unit)
	}
	inputLabels := make([]labelSource, 0, len(c.Labels)+len(c.ConstLabels))
	for _, name := range sortedKeys(c.Labels) {
		inputLabels = append(inputLabels, labelSource{name: name, slot: slot(c.Labels[name])})
	}
	for _, name := range sortedKeys(c.ConstLabels) {
		inputLabels = append(inputLabels, labelSource{name: name, value: c.ConstLabels[name], slot: -1})
	}
	for _, mc := range c.Metrics {
		mt := metric{name: mc.Name, valueSlot: slot(mc.Value)}
		for _, path := range sortedKeys(mc.When) {
			cd := cond{slot: slot(path)}
			for _, v := range mc.When[path] {
				sc, _ := compileScalar(v) // checked by Validate
				cd.alts = append(cd.alts, sc)
			}
			mt.conds = append(mt.conds, cd)
			if !slices.Contains(m.whenSlots, cd.slot) {
				m.whenSlots = append(m.whenSlots, cd.slot)
			}
		}
		mt.labels = append(mt.labels, labelSource{name: batch.MetricName, value: mc.Name, slot: -1})
		mt.labels = append(mt.labels, inputLabels...)
		for _, name := range sortedKeys(mc.Labels) {
			mt.labels = append(mt.labels, labelSource{name: name, value: mc.Labels[name], slot: -1})
		}
		for _, name := range sortedKeys(mc.LabelsFrom) {
			mt.labels = append(mt.labels, labelSource{name: name, slot: slot(mc.LabelsFrom[name])})
		}
		slices.SortFunc(mt.labels, func(a, b labelSource) int { return strings.Compare(a.name, b.name) })
		m.metrics = append(m.metrics, mt)
	}
	slices.SortFunc(m.whenSlots, func(a, b int) int { return strings.Compare(m.pathNames[a], m.pathNames[b]) })
	return m, nil
}

// Name returns the input name, the {name} of POST /api/v1/push/{name}.
func (m *Mapping) Name() string { return m.name }

// cloneConfig copies the parts of c that Validate may change.
func cloneConfig(c Config) Config {
	if c.Timestamp != nil {
		ts := *c.Timestamp
		c.Timestamp = &ts
	}
	return c
}
