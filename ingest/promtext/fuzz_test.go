package promtext

import (
	"bytes"
	"errors"
	"io"
	"math"
	"strings"
	"testing"

	"github.com/prometheus/prometheus/model/labels"
	"github.com/prometheus/prometheus/model/textparse"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/internal/decodertest"
	"github.com/premetrics/premetrics/ingest/outcome"
)

const fuzzNow = 1700000000000

func FuzzDecode(f *testing.F) {
	scrape, _ := scrapeBody(40)
	for _, s := range []string{
		"",
		string(scrape),
		"# HELP node_cpu_seconds_total Seconds.\n# TYPE node_cpu_seconds_total counter\nnode_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 12345.67 1700000000000\n",
		"a NaN\nb +Inf\nc -Inf\nd Inf\ne 1e3\nf -0.5\ng .5\nj 1E-3 0\n",
		"# TYPE h histogram\nh_bucket{le=\"0.1\"} 1\nh_bucket{le=\"+Inf\"} 3\nh_sum 0.7\nh_count 3\n",
		`m{a="x\\y",b="q\"uote",c="new\nline",d="keep\t{},= "} 1`,
		"  m { a = \"1\" , b=\"2\" , }   7   1000  \nm\t1\t2\nup{}1\n",
		"{\"my.metric\", \"my.label\"=\"v\", \"1st\"=\"x\"} 1\n{__name__=\"a.b\", x=\"y\"} 3\n{ \"ünï\" , \"c\\\"d\"=\"1\" } 5\n",
		"# EOF\n#comment\n# HELP m \n# TYPE\n#TYPE m gauge\n# TYPE \"my.metric\" untyped\r\n",
		"m{a=\"1\",a=\"2\"} 1\nm{__name__=\"x\"} 1\n{a=\"b\"} 1\nm{\"\"=\"v\"} 1\nm{a=\"\xff\"} 1\n",
		"m 1 -5\nm 1 9223372036854775808\nm 1e400\nm 0x1p3\nm 1_000\nm abc\n",
		"m{a=\"1\"\nm{a.b=\"1\"} 1\nm{\"a\"} 1\n{\"a\", \"b\"} 1\nm-1 1\n1m 1\n# TYPE m info\n# TYPE m gauge x\n",
		// A raw newline in a label value: Prometheus' parser takes it.
		"m{cpu=\"\n2\",mode=\"user\"} 1\nm{a=\"1\" b=\"2\"} 1\n",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		_, res, got := dec.CheckFuzz(t, body, decodertest.FuzzLimits, Options{Now: fuzzNow})

		// Lines are independent: decoding them one by one gives the same
		// series and counts.
		one, results := dec.DecodeLines(t, body, decodertest.FuzzLimits, Options{Now: fuzzNow})
		items, meta, rejected := 0, 0, 0
		for _, r := range results {
			items += r.Items
			meta += r.Metadata
			rejected += r.RejectedItems
		}
		if one != got || items != res.Items || meta != res.Metadata || rejected != res.RejectedItems {
			t.Fatalf("line by line: %d items, %d metadata, %d rejected, series\n%s\nin one body: %d, %d, %d, series\n%s",
				items, meta, rejected, one, res.Items, res.Metadata, res.RejectedItems, got)
		}

		compareWithPrometheus(t, body)
	})
}

// compareWithPrometheus decodes body without limits and, when Prometheus'
// own parser reads all of it, checks that both see the same samples, or
// that Decode rejected lines only for the documented differences.
func compareWithPrometheus(t *testing.T, body []byte) {
	t.Helper()
	if bytes.ContainsAny(body, "\x00\r") {
		return // the end of input and a value byte for textparse
	}
	type sample struct {
		ls []batch.Label
		v  float64
		ts int64
	}
	var want []sample
	meta := 0
	p := textparse.NewPromParser(body, labels.NewSymbolTable(), false)
	for {
		e, err := p.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return // not valid for Prometheus: no comparison
		}
		switch e {
		case textparse.EntryHelp, textparse.EntryType:
			meta++
		case textparse.EntrySeries:
			_, ts, v := p.Series()
			s := sample{v: v, ts: fuzzNow}
			if ts != nil {
				s.ts = *ts
			}
			var ls labels.Labels
			p.Labels(&ls)
			ls.Range(func(l labels.Label) {
				if l.Value != "" {
					s.ls = append(s.ls, batch.Label{Name: l.Name, Value: l.Value})
				}
			})
			want = append(want, s)
		}
	}
	b := &batch.Batch{}
	var res outcome.Result
	if err := Decode(body, b, outcome.Limits{}, Options{Now: fuzzNow}, &res); err != nil {
		t.Fatalf("Decode: %v", err)
	}
	if res.RejectedItems > 0 {
		if res.RejectedItems > len(res.Rejected) {
			return
		}
		for _, r := range res.Rejected {
			if strings.Contains(r.Detail, "unterminated") {
				return // a raw newline in a quoted string: the lines after it differ too
			}
			switch {
			case r.Reason == outcome.ReasonDuplicateLabel, // Prometheus' parser does not check
				r.Reason == outcome.ReasonMissingMetricName && strings.HasPrefix(r.Series, "{"), // {""} 1
				r.Reason == outcome.ReasonInvalidLabelName,                                      // m{""="v"} 1
				strings.HasSuffix(r.Detail, `expected "," or "}", got`+r.Detail[strings.LastIndexByte(r.Detail, ' '):]),
				strings.Contains(r.Detail, "unexpected character after metric name"):
			default:
				t.Fatalf("Prometheus reads the body, Decode rejects line %d: %s: %s", r.Item, r.Reason, r.Detail)
			}
		}
		return
	}
	if meta != res.Metadata || len(want) != b.Len() {
		t.Fatalf("Prometheus sees %d samples and %d metadata lines, Decode %d and %d", len(want), meta, b.Len(), res.Metadata)
	}
	for i, w := range want {
		s := b.Series[i]
		legacy := true
		for _, l := range w.ls {
			if l.Name == batch.MetricName {
				legacy = legacy && decodertest.IsMetricName(l.Value) // Prometheus keeps leading blanks in the name
			} else {
				legacy = legacy && decodertest.IsLabelName(l.Name)
			}
		}
		if legacy && !batch.Equal(s.Labels, w.ls) {
			t.Fatalf("sample %d: Prometheus labels %v, Decode %v", i, w.ls, s.Labels)
		}
		got := s.Samples[0]
		if got.Timestamp != w.ts || !(got.Value == w.v || math.IsNaN(got.Value) && math.IsNaN(w.v)) {
			t.Fatalf("sample %d: Prometheus %v @%d, Decode %v @%d", i, w.v, w.ts, got.Value, got.Timestamp)
		}
	}
}
