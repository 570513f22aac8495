package otlp

import (
	"strings"

	"github.com/premetrics/premetrics/ingest/internal/promname"
)

// Metric and label naming, after Prometheus' OTLP receiver with its
// default translation strategy UnderscoreEscapingWithSuffixes
// (github.com/prometheus/otlptranslator v1: MetricNamer with
// WithMetricSuffixes, LabelNamer with UTF8Allowed false). Both run only
// on a cache miss (see decoder.labelName and decoder.family), so they
// may allocate.

// metricKind is what the name of a metric depends on besides its name
// and unit.
type metricKind uint8

const (
	kindGauge   metricKind = iota // an OTLP Gauge: unit "1" adds _ratio
	kindCounter                   // a monotonic cumulative Sum: _total
	kindOther                     // any other Sum, Histogram, Summary
)

// unitMap translates UCUM units to Prometheus base unit words.
var unitMap = map[string]string{
	// Time
	"d":   "days",
	"h":   "hours",
	"min": "minutes",
	"s":   "seconds",
	"ms":  "milliseconds",
	"us":  "microseconds",
	"ns":  "nanoseconds",
	// Bytes
	"By":   "bytes",
	"KiBy": "kibibytes",
	"MiBy": "mebibytes",
	"GiBy": "gibibytes",
	"TiBy": "tibibytes",
	"KBy":  "kilobytes",
	"MBy":  "megabytes",
	"GBy":  "gigabytes",
	"TBy":  "terabytes",
	// SI
	"m": "meters",
	"V": "volts",
	"A": "amperes",
	"J": "joules",
	"W": "watts",
	"g": "grams",
	// Misc
	"Cel": "celsius",
	"Hz":  "hertz",
	"1":   "",
	"%":   "percent",
}

// perUnitMap translates the unit after a '/' ("By/s" is bytes per second).
var perUnitMap = map[string]string{
	"s":  "second",
	"m":  "minute",
	"h":  "hour",
	"d":  "day",
	"w":  "week",
	"mo": "month",
	"y":  "year",
}

// isMetricChar reports whether c may appear in a legacy metric name
// (apart from '_', which the name builder treats as a separator).
func isMetricChar(c byte) bool { return c != '_' && promname.IsNameByte(c, true) }

// isLabelChar reports whether c may appear in a legacy label name
// (apart from '_', which is collapsed).
func isLabelChar(c byte) bool { return c != '_' && promname.IsNameByte(c, false) }

// metricName returns the Prometheus name of an OTLP metric, or "" when
// name has no character valid in a metric name (where Prometheus would
// make a name of the suffixes alone):
//
//   - the name is split into words at every character outside
//     [a-zA-Z0-9:] (so runs of '_', '.', '-' and non-ASCII become one
//     '_', and leading and trailing ones go);
//   - the unit adds a word unless the name already has it: "s" → seconds,
//     "By" → bytes (see unitMap), "By/s" → bytes_per_second; units in
//     curly braces ("{request}") and "1" add nothing;
//   - a monotonic cumulative sum ends in _total, a gauge of unit "1" in
//     _ratio (an existing "total" or "ratio" word moves to the end);
//   - a name starting with a digit gets a leading '_'.
func metricName(name, unit string, kind metricKind) string {
	words := strings.FieldsFunc(name, func(r rune) bool { return r >= 0x80 || !isMetricChar(byte(r)) })
	if len(words) == 0 {
		return "" // Prometheus would make "total" or "bytes" of it
	}
	main, per := unitSuffixes(unit)
	main, per = cleanUnit(main), cleanUnit(per)
	if contains(words, main) {
		main = ""
	}
	if per == "per_" {
		per = ""
	} else {
		per = strings.TrimSuffix(per, "_")
		if contains(words, per) {
			per = ""
		}
	}
	if per != "" {
		main = strings.TrimSuffix(main, "_")
	}
	if main != "" {
		words = append(words, main)
	}
	if per != "" {
		words = append(words, per)
	}
	if kind == kindCounter {
		words = append(remove(words, "total"), "total")
	}
	if unit == "1" && kind == kindGauge {
		words = append(remove(words, "ratio"), "ratio")
	}
	s := strings.Join(words, "_")
	if s != "" && promname.IsDigit(s[0]) {
		s = "_" + s
	}
	return s
}

// unitSuffixes splits a UCUM unit into the words it adds to a name.
func unitSuffixes(unit string) (main, per string) {
	m, p, hasPer := strings.Cut(unit, "/")
	m = strings.TrimSpace(m)
	if m != "" && !strings.ContainsAny(m, "{}") {
		main = m
		if w, ok := unitMap[m]; ok {
			main = w
		}
	}
	if hasPer && p != "" {
		p = strings.TrimSpace(p)
		if p != "" && !strings.ContainsAny(p, "{}") {
			per = p
			if w, ok := perUnitMap[p]; ok {
				per = w
			}
		}
		if per != "" {
			per = "per_" + per
		}
	}
	return main, per
}

// cleanUnit replaces characters invalid in a name with '_', collapses
// runs of '_' and drops a leading one.
func cleanUnit(u string) string {
	var sb strings.Builder
	prev := false
	for i := 0; i < len(u); i++ {
		c := u[i]
		if c < 0x80 && isMetricChar(c) {
			sb.WriteByte(c)
			prev = false
			continue
		}
		if !prev {
			sb.WriteByte('_')
		}
		prev = true
	}
	return strings.TrimPrefix(sb.String(), "_")
}

func contains(words []string, w string) bool {
	for _, x := range words {
		if x == w {
			return true
		}
	}
	return false
}

func remove(words []string, w string) []string {
	out := words[:0]
	for _, x := range words {
		if x != w {
			out = append(out, x)
		}
	}
	return out
}

// labelName returns the Prometheus label name of an attribute key, or ""
// when there is none (an empty key, or one of only invalid characters):
// every run of characters outside [a-zA-Z0-9] (including '_') becomes
// one '_'; a name that starts with a digit gets the prefix "key_"; a
// reserved name "__x__" keeps its double underscores around the
// sanitized x.
func labelName(key string) string {
	if key == "" {
		return ""
	}
	var sb strings.Builder
	inner := key
	reserved := len(key) >= 4 && strings.HasPrefix(key, "__") && strings.HasSuffix(key, "__")
	if reserved {
		inner = key[2 : len(key)-2]
		sb.WriteString("__")
	}
	prev := false
	for i := 0; i < len(inner); i++ {
		c := inner[i]
		if c < 0x80 && isLabelChar(c) {
			sb.WriteByte(c)
			prev = false
			continue
		}
		if !prev {
			sb.WriteByte('_')
		}
		prev = true
	}
	if reserved {
		sb.WriteString("__")
	}
	s := sb.String()
	if promname.IsDigit(s[0]) {
		s = "key_" + s
	}
	if strings.Trim(s, "_") == "" {
		return ""
	}
	return s
}
