package rules

import (
	"errors"
	"fmt"
	"sync"

	"github.com/prometheus/common/model"
	"github.com/prometheus/prometheus/model/relabel"

	"github.com/premetrics/premetrics/batch"
)

// Relabeler applies a list of Prometheus relabel_configs. It is immutable
// and safe for concurrent use; a nil *Relabeler keeps every series as is.
//
// It does not go through Prometheus' labels.Builder: each config is
// compiled into a step that edits a sorted []batch.Label directly, with
// the same semantics (relabel_test.go checks every action and random
// chains against relabel.ProcessBuilder). Regular expressions that only
// need to match (keep, drop, labeldrop, labelkeep, replace without $
// references) go through a matcher (match.go) that turns the common
// shapes into string comparisons; see the package doc.
type Relabeler struct {
	steps []step
	// ordered is true when a labelmap step must see the labels in the
	// order of Prometheus' labels.Builder.Range (see labelSet.seq).
	ordered bool
	// pooled is true when a step needs a labelSet's scratch buffers.
	pooled  bool
	scratch sync.Pool // *labelSet, for chains that need one
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
			continue
		}
		if _, err := compileStep(c); err != nil {
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
	r := &Relabeler{}
	sets := false // an earlier step may set labels
	for _, c := range cfgs {
		s, err := compileStep(c)
		if err != nil { // ValidateRelabel compiled it already
			return nil, err
		}
		if s.action == relabel.LabelMap && sets {
			r.ordered = true
		}
		if s.setsLabels() {
			sets = true
		}
		r.pooled = r.pooled || s.needsScratch()
		r.steps = append(r.steps, s)
	}
	r.pooled = r.pooled || r.ordered
	r.scratch.New = func() any { return new(labelSet) }
	return r, nil
}

// Len returns the number of relabel configs.
func (r *Relabeler) Len() int {
	if r == nil {
		return 0
	}
	return len(r.steps)
}

// Apply relabels ls into dst[:0] and returns the result, sorted by name,
// with empty-valued labels removed as Prometheus does. keep is false when a
// rule dropped the series. The returned slice reuses dst's capacity; its
// strings may alias ls or be new. ls is not modified. A nil Relabeler
// returns ls, true.
//
// Apply does not allocate when dst has room for the result, except for
// new values that only a regular expression replacement, lowercase,
// uppercase or a source_labels join can produce (see the package doc).
func (r *Relabeler) Apply(ls []batch.Label, dst []batch.Label) (out []batch.Label, keep bool) {
	if r == nil {
		return ls, true
	}
	dst = append(dst[:0], ls...)
	out, _, keep = r.run(dst, nil, true)
	return out, keep
}

// ApplyInPlace relabels ls like Apply, but edits ls itself: labels are
// removed and values replaced in place, so ls's elements change (and must
// not be used afterwards except through out). When a rule adds a label
// that does not fit in ls's capacity, the labels move to buf (reusing its
// capacity) and inBuf is true; the caller then owns out in buf and
// typically copies it into its batch. A chain of keep, drop, labeldrop
// and labelkeep never moves and never allocates. A nil Relabeler returns
// ls, false, true.
func (r *Relabeler) ApplyInPlace(ls, buf []batch.Label) (out []batch.Label, inBuf, keep bool) {
	if r == nil {
		return ls, false, true
	}
	return r.run(ls, buf, false)
}

// run executes the steps over ls. With inBuf, ls already lives in the
// caller's buffer and may grow by append; otherwise it moves to buf on
// the first insertion beyond its capacity.
func (r *Relabeler) run(ls, buf []batch.Label, inBuf bool) (out []batch.Label, outInBuf, keep bool) {
	ls = dropEmptyValues(ls)
	var local labelSet // stays on the stack: steps do not keep the set
	set := &local
	if r.pooled {
		pooled := r.scratch.Get().(*labelSet)
		defer r.scratch.Put(pooled)
		set = pooled
		set.ordered = false
		if r.ordered {
			set.resetSeq(len(ls))
		}
	}
	set.ls, set.buf, set.inBuf = ls, buf, inBuf
	keep = true
	for i := range r.steps {
		if !r.steps[i].apply(set) {
			keep = false
			break
		}
	}
	out, outInBuf = set.ls, set.inBuf
	set.release()
	return out, outInBuf, keep
}

// dropEmptyValues removes labels with empty values in place: Prometheus
// treats them as absent.
func dropEmptyValues(ls []batch.Label) []batch.Label {
	for i := range ls {
		if ls[i].Value == "" {
			n := i
			for _, l := range ls[i+1:] {
				if l.Value != "" {
					ls[n] = l
					n++
				}
			}
			return ls[:n]
		}
	}
	return ls
}
