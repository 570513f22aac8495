package influx

import (
	"strconv"
	"strings"
	"testing"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/outcome"
)

// render formats a batch one sample per line: name{labels} value @ts.
func render(b *batch.Batch) string {
	var sb strings.Builder
	for _, s := range b.Series {
		for _, smp := range s.Samples {
			sb.WriteString(batch.String(s.Labels))
			sb.WriteByte(' ')
			sb.WriteString(strconv.FormatFloat(smp.Value, 'g', -1, 64))
			sb.WriteString(" @")
			sb.WriteString(strconv.FormatInt(smp.Timestamp, 10))
			sb.WriteByte('\n')
		}
	}
	return sb.String()
}

// isMetricName and isPromLabelName are the Prometheus 2 rules, written
// independently of the decoder's tables.
func isMetricName(s string) bool {
	for i, c := range s {
		if !(c == '_' || c == ':' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')) {
			return false
		}
	}
	return s != ""
}

func isPromLabelName(s string) bool {
	for i, c := range s {
		if !(c == '_' || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (i > 0 && c >= '0' && c <= '9')) {
			return false
		}
	}
	return s != ""
}

// checkContract asserts what every Decode result must satisfy.
func checkContract(t *testing.T, b *batch.Batch, lim outcome.Limits, res *outcome.Result) {
	t.Helper()
	if res.Series != b.Len() || res.Samples != b.SampleCount() {
		t.Fatalf("result says %d series %d samples, batch has %d, %d", res.Series, res.Samples, b.Len(), b.SampleCount())
	}
	for _, s := range b.Series {
		if len(s.Samples) != 1 {
			t.Fatalf("series %v has %d samples, want 1", s.Labels, len(s.Samples))
		}
		if s.Samples[0].Timestamp < 0 {
			t.Fatalf("negative timestamp %d", s.Samples[0].Timestamp)
		}
		if reason, detail := lim.CheckSeries(s.Labels); reason != outcome.ReasonNone {
			t.Fatalf("appended series %v fails CheckSeries: %v: %s", s.Labels, reason, detail)
		}
		for i, l := range s.Labels {
			if i > 0 && s.Labels[i-1].Name >= l.Name {
				t.Fatalf("labels not sorted and unique: %v", s.Labels)
			}
			if l.Value == "" {
				t.Fatalf("empty label value: %v", s.Labels)
			}
			if l.Name == batch.MetricName {
				if !isMetricName(l.Value) {
					t.Fatalf("invalid metric name %q", l.Value)
				}
			} else if !isPromLabelName(l.Name) {
				t.Fatalf("invalid label name %q", l.Name)
			}
		}
	}
	sum := 0
	for _, n := range res.RejectedByReason {
		sum += n
	}
	if res.RejectedByReason[outcome.ReasonNone] != 0 || sum < res.RejectedSamples || sum > res.RejectedSamples+res.RejectedItems {
		t.Fatalf("rejected by reason %v do not match %d samples of %d items", res.RejectedByReason, res.RejectedSamples, res.RejectedItems)
	}
	if res.RejectedItems > res.Items || len(res.Rejected) > outcome.MaxRejectionDetails || len(res.Rejected) > res.RejectedItems {
		t.Fatalf("%d rejection details, %d rejected items of %d", len(res.Rejected), res.RejectedItems, res.Items)
	}
	last := 0
	for _, r := range res.Rejected {
		if r.Reason == outcome.ReasonNone || r.Reason >= outcome.NumReasons || r.Detail == "" || r.ItemKind != ItemKind || r.Item <= last {
			t.Fatalf("bad rejection %+v", r)
		}
		last = r.Item
	}
}
