package aggregate

import (
	"fmt"
	"math"
	"strconv"
	"strings"
)

// outputKind is one aggregation function of the closed set in outputNames.
type outputKind uint8

const (
	outSumSamples outputKind = iota
	outCountSamples
	outCountSeries
	outMin
	outMax
	outAvg
	outLast
	outFirst
	outStddev
	outStdvar
	outUniqueSamples
	outQuantiles
	outTotal
	outIncrease
	outRateSum
	outRateAvg
	outHistogram
	numOutputKinds
)

// outputNames are the user-facing names, indexed by outputKind. They are
// also the last part of output metric names.
var outputNames = [numOutputKinds]string{
	outSumSamples:    "sum_samples",
	outCountSamples:  "count_samples",
	outCountSeries:   "count_series",
	outMin:           "min",
	outMax:           "max",
	outAvg:           "avg",
	outLast:          "last",
	outFirst:         "first",
	outStddev:        "stddev",
	outStdvar:        "stdvar",
	outUniqueSamples: "unique_samples",
	outQuantiles:     "quantiles",
	outTotal:         "total",
	outIncrease:      "increase",
	outRateSum:       "rate_sum",
	outRateAvg:       "rate_avg",
	outHistogram:     "histogram",
}

// defaultHistogramSchema is the schema of `histogram` without one:
// buckets 9% wide, Prometheus client libraries' usual resolution.
const defaultHistogramSchema = 3

// isCounter reports whether k needs per-input-series counter baselines.
func (k outputKind) isCounter() bool {
	return k == outTotal || k == outIncrease || k == outRateSum || k == outRateAvg
}

// output is one parsed entry of Config.Outputs.
type output struct {
	kind outputKind
	phis []float64 // quantiles only: φ in [0,1], in configured order
	phiS []string  // quantiles only: φ formatted for the quantile label
	// histogram only: the native histogram schema, at most sketchSchema.
	schema int32
}

// wantOutputs lists the valid output names for error messages.
func wantOutputs() string {
	names := make([]string, 0, numOutputKinds)
	for _, n := range outputNames {
		switch n {
		case "quantiles":
			n = "quantiles(φ, ...)"
		case "histogram":
			n = "histogram[(schema)]"
		}
		names = append(names, n)
	}
	return strings.Join(names, ", ")
}

// parseOutput parses one outputs entry: a name from outputNames, or
// "quantiles(φ1, φ2, ...)" with optional spaces. Errors carry no field
// prefix; the caller adds "outputs[i]: ".
func parseOutput(s string) (output, error) {
	s = strings.TrimSpace(s)
	if rest, ok := strings.CutPrefix(s, "histogram"); ok {
		return parseHistogram(s, strings.TrimSpace(rest))
	}
	if rest, ok := strings.CutPrefix(s, "quantiles"); ok {
		return parseQuantiles(s, strings.TrimSpace(rest))
	}
	for k, n := range outputNames {
		if s == n && outputKind(k) != outQuantiles && outputKind(k) != outHistogram {
			return output{kind: outputKind(k)}, nil
		}
	}
	return output{}, fmt.Errorf("unknown output %q (want one of %s)", s, wantOutputs())
}

// parseQuantiles parses the "(φ1, φ2, ...)" part of a quantiles output.
func parseQuantiles(whole, args string) (output, error) {
	inner, ok := strings.CutPrefix(args, "(")
	if ok {
		inner, ok = strings.CutSuffix(inner, ")")
	}
	if !ok {
		return output{}, fmt.Errorf("cannot parse %q: want quantiles(φ1, φ2, ...)", whole)
	}
	o := output{kind: outQuantiles}
	if strings.TrimSpace(inner) == "" {
		return output{}, fmt.Errorf("cannot parse %q: want at least one φ", whole)
	}
	seen := map[float64]bool{}
	for part := range strings.SplitSeq(inner, ",") {
		part = strings.TrimSpace(part)
		phi, err := strconv.ParseFloat(part, 64)
		if err != nil {
			return output{}, fmt.Errorf("cannot parse %q: φ %q is not a number", whole, part)
		}
		if math.IsNaN(phi) || phi < 0 || phi > 1 {
			return output{}, fmt.Errorf("%q: φ must be in [0, 1], got %s", whole, part)
		}
		if seen[phi] {
			return output{}, fmt.Errorf("%q: duplicate φ %s", whole, part)
		}
		seen[phi] = true
		o.phis = append(o.phis, phi)
		o.phiS = append(o.phiS, strconv.FormatFloat(phi, 'g', -1, 64))
	}
	return o, nil
}

// parseHistogram parses what follows "histogram": nothing (the default
// schema) or "(schema)".
func parseHistogram(whole, args string) (output, error) {
	o := output{kind: outHistogram, schema: defaultHistogramSchema}
	if args == "" {
		return o, nil
	}
	inner, ok := strings.CutPrefix(args, "(")
	if ok {
		inner, ok = strings.CutSuffix(inner, ")")
	}
	if !ok {
		return output{}, fmt.Errorf("cannot parse %q: want histogram or histogram(schema)", whole)
	}
	n, err := strconv.Atoi(strings.TrimSpace(inner))
	if err != nil || n < -4 || n > sketchSchema {
		return output{}, fmt.Errorf("%q: schema must be an integer from -4 to %d (buckets grow by 2^(2^-schema)), got %q", whole, sketchSchema, strings.TrimSpace(inner))
	}
	o.schema = int32(n)
	return o, nil
}
