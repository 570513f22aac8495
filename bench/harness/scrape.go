package harness

import (
	"fmt"
	"io"
	"maps"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// scrape is one reading of premetrics' /metrics, by metric family name.
type scrape map[string]*dto.MetricFamily

var scrapeClient = &http.Client{Timeout: 10 * time.Second}

func scrapeMetrics(url string) (scrape, error) {
	resp, err := scrapeClient.Get(url)
	if err != nil {
		return nil, fmt.Errorf("cannot scrape premetrics: %w", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		_, _ = io.Copy(io.Discard, resp.Body)
		return nil, fmt.Errorf("cannot scrape premetrics: %s", resp.Status)
	}
	return parseScrape(resp.Body)
}

func parseScrape(r io.Reader) (scrape, error) {
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(r)
	if err != nil {
		return nil, fmt.Errorf("cannot parse premetrics' metrics: %w", err)
	}
	return scrape(fams), nil
}

// labelsOf returns a metric's labels as a map.
func labelsOf(m *dto.Metric) map[string]string {
	out := make(map[string]string, len(m.GetLabel()))
	for _, l := range m.GetLabel() {
		out[l.GetName()] = l.GetValue()
	}
	return out
}

func matches(m *dto.Metric, want map[string]string) bool {
	ls := labelsOf(m)
	for k, v := range want {
		if ls[k] != v {
			return false
		}
	}
	return true
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Untyped != nil:
		return m.Untyped.GetValue()
	}
	return 0
}

// sum adds the values of the series of name whose labels include want.
func (s scrape) sum(name string, want map[string]string) float64 {
	total := 0.0
	for _, m := range s[name].GetMetric() {
		if matches(m, want) {
			total += value(m)
		}
	}
	return total
}

// labelled is one series: its labels rendered {a="b", ...} and its value.
type labelled struct {
	Labels string  `json:"labels"`
	Value  float64 `json:"value"`
}

// series returns every series of name with a non-zero value, sorted.
func (s scrape) series(name string) []labelled {
	var out []labelled
	for _, m := range s[name].GetMetric() {
		if v := value(m); v != 0 {
			out = append(out, labelled{Labels: renderLabels(labelsOf(m)), Value: v})
		}
	}
	slices.SortFunc(out, func(a, b labelled) int { return strings.Compare(a.Labels, b.Labels) })
	return out
}

func renderLabels(ls map[string]string) string {
	var sb strings.Builder
	sb.WriteByte('{')
	for i, k := range slices.Sorted(maps.Keys(ls)) {
		if i > 0 {
			sb.WriteString(", ")
		}
		fmt.Fprintf(&sb, "%s=%q", k, ls[k])
	}
	sb.WriteByte('}')
	return sb.String()
}

// histogram is one histogram series.
type histogram struct {
	count, sum float64
	// buckets are cumulative counts by upper bound, ascending.
	bounds []float64
	counts []float64
}

// histograms returns the histograms of name by the value of label.
func (s scrape) histograms(name, label string) map[string]histogram {
	out := map[string]histogram{}
	for _, m := range s[name].GetMetric() {
		h := m.GetHistogram()
		if h == nil {
			continue
		}
		hg := histogram{count: float64(h.GetSampleCount()), sum: h.GetSampleSum()}
		for _, b := range h.GetBucket() {
			if math.IsInf(b.GetUpperBound(), 1) {
				continue // the count is the +Inf bucket
			}
			hg.bounds = append(hg.bounds, b.GetUpperBound())
			hg.counts = append(hg.counts, float64(b.GetCumulativeCount()))
		}
		out[labelsOf(m)[label]] = hg
	}
	return out
}

// maxBucket returns the upper bound of the highest bucket that holds an
// observation: every observation was at most that. inf reports
// observations above the last bound.
func (h histogram) maxBucket() (bound float64, inf bool) {
	if h.count == 0 {
		return 0, false
	}
	prev := 0.0
	highest := 0.0
	for i, c := range h.counts {
		if c > prev {
			highest = h.bounds[i]
		}
		prev = c
	}
	return highest, h.count > prev
}
