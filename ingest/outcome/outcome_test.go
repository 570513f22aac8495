package outcome

import (
	"errors"
	"strings"
	"testing"

	"github.com/premetrics/premetrics/batch"
)

func TestResultKeepsFirstDetailsAndCountsAll(t *testing.T) {
	var r Result
	for i := range MaxRejectionDetails + 5 {
		r.Reject(Rejection{Item: i, ItemKind: "line", Reason: ReasonMalformed, Detail: "bad"})
	}
	r.Reject(Rejection{Item: 99, ItemKind: "line", Reason: ReasonBadValue, Samples: 3})
	if r.RejectedItems != MaxRejectionDetails+6 || len(r.Rejected) != MaxRejectionDetails {
		t.Fatalf("items %d, details %d", r.RejectedItems, len(r.Rejected))
	}
	// A rejection without samples counts one, so it shows in the metrics.
	if r.RejectedByReason[ReasonMalformed] != MaxRejectionDetails+5 || r.RejectedByReason[ReasonBadValue] != 3 || r.RejectedSamples != 3 {
		t.Errorf("by reason %v, samples %d", r.RejectedByReason, r.RejectedSamples)
	}
	msg := r.Message("influx")
	for _, want := range []string{"influx: accepted 0 samples of 0 series; rejected 16 items (3 samples)", "\nline 0: malformed: bad", "... and 6 more rejected items"} {
		if !strings.Contains(msg, want) {
			t.Errorf("message lacks %q:\n%s", want, msg)
		}
	}
	r.Reset()
	if r.RejectedItems != 0 || len(r.Rejected) != 0 || cap(r.Rejected) < MaxRejectionDetails {
		t.Errorf("Reset: %+v", r)
	}
}

func TestCheckSeries(t *testing.T) {
	lim := Limits{MaxLabelsPerSeries: 3, MaxLabelNameLength: 8, MaxLabelValueLength: 8}
	ls := func(kv ...string) []batch.Label {
		var out []batch.Label
		for i := 0; i < len(kv); i += 2 {
			out = append(out, batch.Label{Name: kv[i], Value: kv[i+1]})
		}
		return out
	}
	cases := []struct {
		labels []batch.Label
		reason Reason
		detail string
	}{
		{ls("__name__", "m", "a", "1"), ReasonNone, ""},
		{ls("__name__", "m", "a", "1", "b", "2", "c", "3"), ReasonTooManyLabels, "4 labels, limit 3"},
		{ls("__name__", "m", "abcdefghi", "1"), ReasonLabelNameTooLong, `label name "abcdefghi" is 9 bytes, limit 8`},
		{ls("__name__", "m", "a", "123456789"), ReasonLabelValueTooLong, `value of label "a" is 9 bytes, limit 8`},
		{ls("__name__", "m", "a", "\xff"), ReasonInvalidLabelValue, `value of label "a" is not valid UTF-8`},
		{ls("", "x", "__name__", "m"), ReasonInvalidLabelName, "empty label name"},
		{ls("__name__", "m", "a", "1", "a", "2"), ReasonDuplicateLabel, `label "a" appears more than once`},
		{ls("a", "1"), ReasonMissingMetricName, "no __name__ label"},
	}
	for _, c := range cases {
		reason, detail := lim.CheckSeries(c.labels)
		if reason != c.reason || detail != c.detail {
			t.Errorf("%v: got %s %q, want %s %q", c.labels, reason, detail, c.reason, c.detail)
		}
	}
}

func TestErrorKinds(t *testing.T) {
	for kind, sentinel := range map[Kind]error{KindMalformed: ErrMalformed, KindTooLarge: ErrTooLarge, KindUnsupported: ErrUnsupported} {
		err := Errorf(kind, "byte 7", "what %d", 1)
		if !errors.Is(err, sentinel) || err.Error() != "byte 7: what 1" {
			t.Errorf("kind %d: %v", kind, err)
		}
		for _, other := range []error{ErrMalformed, ErrTooLarge, ErrUnsupported} {
			if other != sentinel && errors.Is(err, other) {
				t.Errorf("kind %d matches %v", kind, other)
			}
		}
	}
	if got := Quote(strings.Repeat("é", 40)); !strings.HasSuffix(got, "…") || len(got) > 70 {
		t.Errorf("Quote does not truncate at a rune boundary: %s", got)
	}
}

// Check finds the problem without building its detail, so a decoder that
// keeps no more details rejects a flood of bad series without allocating.
func TestCheckAllocatesNothing(t *testing.T) {
	lim := Limits{MaxLabelsPerSeries: 2, MaxLabelValueLength: 4}
	bad := [][]batch.Label{
		{{Name: "__name__", Value: "m"}, {Name: "a", Value: "1"}, {Name: "b", Value: "2"}},
		{{Name: "__name__", Value: "m"}, {Name: "a", Value: "12345"}},
		{{Name: "a", Value: "1"}},
	}
	for _, ls := range bad {
		var reason Reason
		if allocs := testing.AllocsPerRun(100, func() { reason, _ = lim.Check(ls) }); allocs != 0 || reason == ReasonNone {
			t.Errorf("%v: reason %s, %v allocations", ls, reason, allocs)
		}
		r1, at := lim.Check(ls)
		r2, detail := lim.CheckSeries(ls)
		if r1 != r2 || lim.SeriesDetail(r1, ls, at) != detail {
			t.Errorf("%v: Check %s and SeriesDetail %q disagree with CheckSeries %s %q", ls, r1, lim.SeriesDetail(r1, ls, at), r2, detail)
		}
	}
}
