package mqtt

import (
	"testing"
	"time"
	"unsafe"

	"github.com/premetrics/premetrics/batch"
)

func TestMatchTopic(t *testing.T) {
	for _, tc := range []struct {
		filter, topic string
		want          bool
	}{
		{"a/b", "a/b", true},
		{"a/b", "a/c", false},
		{"a/b", "a/b/c", false},
		{"a/b/c", "a/b", false},
		{"a/+/c", "a/x/c", true},
		{"a/+/c", "a//c", true},
		{"a/+/c", "a/x/y/c", false},
		{"a/+", "a/", true},
		{"a/+", "a", false},
		{"+", "a", true},
		{"+", "a/b", false},
		{"+/+", "/x", true},
		{"/+", "/x", true},
		{"a/#", "a", true}, // "#" includes the parent level
		{"a/#", "a/b/c", true},
		{"a/#", "ab", false},
		{"#", "a/b", true},
		{"#", "$SYS/broker", false}, // wildcards do not match $ topics
		{"+/broker", "$SYS/broker", false},
		{"$SYS/#", "$SYS/broker", true},
		{"$share/g/a/+", "a/x", true},
		{"$share/g/a/+", "$share/g/a/x", false},
	} {
		levels, err := parseFilter(tc.filter)
		if err != nil {
			t.Fatalf("parseFilter(%q): %v", tc.filter, err)
		}
		if got := matchTopic(levels, tc.topic); got != tc.want {
			t.Errorf("match(%q, %q) = %v, want %v", tc.filter, tc.topic, got, tc.want)
		}
	}
}

func TestLabelerTopicWinsAndCopiesIntoArena(t *testing.T) {
	var b batch.Batch
	b.AppendSeries([]batch.Label{{Name: batch.MetricName, Value: "rpm"}, {Name: "vehicle", Value: "spoofed"}, {Name: "z", Value: "1"}}, []batch.Sample{{Timestamp: 1, Value: 1}})
	b.AppendSeries([]batch.Label{{Name: batch.MetricName, Value: "speed"}}, []batch.Sample{{Timestamp: 1, Value: 2}})
	labels := compileTopicLabels(map[string]int{"vehicle": 1, "region": 0, "empty": 2, "absent": 5})

	topic := string([]byte("eu/v42//events")) // memory the caller may reuse
	var l labeler
	l.apply(&b, topic, labels)
	want := []string{`rpm{region="eu", vehicle="v42", z="1"}`, `speed{region="eu", vehicle="v42"}`}
	for i, w := range want {
		if got := batch.String(b.Series[i].Labels); got != w {
			t.Errorf("series %d = %s, want %s", i, got, w)
		}
	}
	// The values live in the batch's arena, not in the topic string.
	v := b.Series[0].Labels[1].Value
	if v != "eu" || unsafe.StringData(v) == unsafe.StringData(topic) {
		t.Errorf("region value %q aliases the topic string", v)
	}
}

func TestMergeLabels(t *testing.T) {
	l := func(ns ...string) []batch.Label {
		var out []batch.Label
		for _, n := range ns {
			out = append(out, batch.Label{Name: n[:1], Value: n[1:]})
		}
		return out
	}
	got := mergeLabels(nil, l("a1", "c1", "e1"), l("b2", "c2", "f2"))
	if want := l("a1", "b2", "c2", "e1", "f2"); !batch.Equal(got, want) {
		t.Errorf("merge = %v, want %v", got, want)
	}
	if got := mergeLabels(nil, nil, l("x1")); !batch.Equal(got, l("x1")) {
		t.Errorf("merge into empty = %v", got)
	}
}

func TestBackoff(t *testing.T) {
	b := backoff{min: 100 * time.Millisecond, max: time.Second}
	var got []time.Duration
	for range 6 {
		got = append(got, b.next())
	}
	base := []time.Duration{100, 200, 400, 800, 1000, 1000}
	for i, d := range got {
		lo, hi := base[i]*time.Millisecond*8/10, min(base[i]*time.Millisecond*12/10, time.Second)
		if d < lo || d > hi {
			t.Errorf("attempt %d: %v, want in [%v, %v]", i, d, lo, hi)
		}
	}
	b.reset()
	if d := b.next(); d > 120*time.Millisecond {
		t.Errorf("after reset: %v", d)
	}
}
