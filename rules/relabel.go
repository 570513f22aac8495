package rules

import (
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/premetrics/premetrics/batch"
)

// Relabeler applies a list of Prometheus relabel_configs. It is immutable
// and safe for concurrent use; a nil *Relabeler keeps every series as is.
type Relabeler struct {
	cfgs     []*relabel.Config
	builders sync.Pool // *labels.Builder
}

// ValidateRelabel checks cfgs as Prometheus does and names the failing
// entry by index. It does not modify cfgs beyond Prometheus' defaults.
func ValidateRelabel(cfgs []*relabel.Config) error {
	var errs []error
	for i, c := range cfgs {
		if c == nil {
			errs = append(errs, fmt.Errorf("[%d]: empty relabel config", i))
			continue
		}
		if err := c.Validate(model.UTF8Validation); err != nil {
			errs = append(errs, fmt.Errorf("[%d]: %w", i, err))
		}
	}
	return errors.Join(errs...)
}

// CompileRelabel validates cfgs and returns a Relabeler, or nil when cfgs
// is empty (so callers can skip relabeling with a nil check).
func CompileRelabel(cfgs []*relabel.Config) (*Relabeler, error) {
	if len(cfgs) == 0 {
		return nil, nil
	}
	if err := ValidateRelabel(cfgs); err != nil {
		return nil, err
	}
	r := &Relabeler{cfgs: cfgs}
	r.builders.New = func() any { return labels.NewBuilder(labels.EmptyLabels()) }
	return r, nil
}

// Len returns the number of relabel configs.
func (r *Relabeler) Len() int {
	if r == nil {
		return 0
	}
	return len(r.cfgs)
}

// Apply relabels ls into dst[:0] and returns the result, sorted by name,
// with empty-valued labels removed as Prometheus does. keep is false when a
// rule dropped the series. The returned slice reuses dst's capacity; its
// strings may alias ls or be new. A nil Relabeler returns ls, true.
func (r *Relabeler) Apply(ls []batch.Label, dst []batch.Label) (out []batch.Label, keep bool) {
	if r == nil {
		return ls, true
	}
	lb := r.builders.Get().(*labels.Builder)
	defer r.builders.Put(lb)
	lb.Reset(labels.EmptyLabels())
	for _, l := range ls {
		lb.Set(l.Name, l.Value)
	}
	if !relabel.ProcessBuilder(lb, r.cfgs...) {
		return dst[:0], false
	}
	out = dst[:0]
	lb.Range(func(l labels.Label) {
		out = append(out, batch.Label{Name: l.Name, Value: l.Value})
	})
	batch.SortLabels(out) // Builder keeps names unique; sort restores order.
	return out, true
}
