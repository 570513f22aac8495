package batch

import (
	"strings"
	"testing"

	"github.com/cespare/xxhash/v2"
)

func TestFinishSeriesSortsAndRejectsDuplicates(t *testing.T) {
	var b Batch
	b.StartSeries()
	b.AddLabel("region", "UK")
	b.AddLabel(MetricName, "vehicle_rpm")
	b.AddLabel("engine", "ic")
	b.AddSample(1000, 1)
	b.AddSample(2000, 2)
	if !b.FinishSeries() {
		t.Fatal("FinishSeries rejected a valid series")
	}
	b.StartSeries()
	b.AddLabel("a", "1")
	b.AddLabel("a", "2")
	b.AddSample(1000, 1)
	if b.FinishSeries() {
		t.Fatal("FinishSeries accepted duplicate label names")
	}
	if b.Len() != 1 || b.SampleCount() != 2 {
		t.Fatalf("Len=%d SampleCount=%d, want 1 and 2", b.Len(), b.SampleCount())
	}
	got := String(b.Series[0].Labels)
	if want := `vehicle_rpm{engine="ic", region="UK"}`; got != want {
		t.Fatalf("String = %s, want %s", got, want)
	}
	if b.Series[0].Labels[0].Name != MetricName {
		t.Fatalf("labels not sorted: %v", b.Series[0].Labels)
	}
}

func TestSeriesDoNotShareArenaTails(t *testing.T) {
	var b Batch
	b.AppendSeries([]Label{{"a", "1"}}, []Sample{{1, 1}})
	b.AppendSeries([]Label{{"b", "2"}}, []Sample{{2, 2}})
	// Appending to the first series' slices must not overwrite the second.
	_ = append(b.Series[0].Labels, Label{"z", "z"})
	_ = append(b.Series[0].Samples, Sample{9, 9})
	if b.Series[1].Labels[0].Name != "b" || b.Series[1].Samples[0].Timestamp != 2 {
		t.Fatalf("second series overwritten: %+v", b.Series[1])
	}
}

func TestFilterAndSetLabels(t *testing.T) {
	var b Batch
	for _, n := range []string{"a", "b", "c", "d"} {
		b.AppendSeries([]Label{{MetricName, n}}, []Sample{{1, 1}, {2, 2}})
	}
	b.SetLabels(2, []Label{{MetricName, "c2"}, {"x", "y"}})
	removed := b.Filter(func(s *Series) bool { return s.Get(MetricName) != "b" })
	if removed != 2 {
		t.Fatalf("removed = %d samples, want 2", removed)
	}
	var names []string
	for i := range b.Series {
		names = append(names, String(b.Series[i].Labels))
	}
	if got, want := strings.Join(names, " "), `a{} c2{x="y"} d{}`; got != want {
		t.Fatalf("series = %s, want %s", got, want)
	}
}

func TestHashIsStableAndOrderSensitive(t *testing.T) {
	a := []Label{{MetricName, "m"}, {"x", "1"}}
	// Golden value: the hash is part of on-disk formats and sharding.
	if got, want := Hash(a), Hash([]Label{{MetricName, "m"}, {"x", "1"}}); got != want {
		t.Fatalf("Hash not deterministic")
	}
	if Hash(a) == Hash([]Label{{MetricName, "m"}, {"x1", ""}}) {
		t.Fatal("separator missing: different label sets hash alike")
	}
	// The documented contract: xxhash64 over name 0xff value 0xff ...
	if got, want := Hash(a), xxhash.Sum64String("__name__\xffm\xffx\xff1\xff"); got != want {
		t.Fatalf("Hash = %#x, want %#x (the documented contract)", got, want)
	}
}

func TestHashWithBufEqualsHash(t *testing.T) {
	for _, ls := range [][]Label{
		nil,
		{{MetricName, "x"}},
		{{MetricName, "vehicle_rpm"}, {"region", "eu-west-1"}, {"vehicle", strings.Repeat("v", 100)}},
		{{"a", ""}, {"b", "ü\xff"}},
	} {
		if got, _ := HashWithBuf(ls, nil); got != Hash(ls) {
			t.Errorf("HashWithBuf(%v) = %x, Hash = %x", ls, got, Hash(ls))
		}
	}
}

func TestBytesArenaAndReset(t *testing.T) {
	b := GetBatch()
	buf := b.Bytes(4)
	copy(buf, "abcd")
	if len(buf) != 4 || cap(buf) != 4 {
		t.Fatalf("Bytes returned len %d cap %d", len(buf), cap(buf))
	}
	b.AppendSeries([]Label{{"a", "1"}}, []Sample{{1, 1}})
	PutBatch(b)
	b2 := GetBatch()
	if b2.Len() != 0 || b2.SampleCount() != 0 {
		t.Fatal("pooled batch not empty")
	}
}

func BenchmarkBuildSeries(b *testing.B) {
	var bt Batch
	b.ReportAllocs()
	for b.Loop() {
		bt.Reset()
		for i := 0; i < 100; i++ {
			bt.StartSeries()
			bt.AddLabel("region", "UK")
			bt.AddLabel(MetricName, "vehicle_rpm")
			bt.AddLabel("vehicle_id", "V0000012345")
			bt.AddSample(1000, 1)
			bt.FinishSeries()
		}
	}
}

func BenchmarkHash(b *testing.B) {
	ls := []Label{{MetricName, "vehicle_rpm"}, {"engine", "ic"}, {"region", "UK"}, {"vehicle_id", "V0000012345"}}
	b.ReportAllocs()
	for b.Loop() {
		_ = Hash(ls)
	}
}
