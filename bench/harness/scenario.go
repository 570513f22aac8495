package harness

import (
	"fmt"
	"strconv"
	"time"
)

// Scenario is one bounded benchmark run: a fresh premetrics, a fresh sink,
// and the load generator with these settings (vehicle fleet schema, with
// the distance counter, 2 extra labels).
type Scenario struct {
	Name  string `json:"name"`
	Title string `json:"title"`
	// What is offered: Rate samples/s for Duration, over Series active
	// series; with Churn, that fraction of the vehicles is replaced by new
	// ones every ChurnInterval.
	Rate          float64       `json:"rate"`
	Duration      time.Duration `json:"duration"`
	Series        int           `json:"series"`
	Churn         float64       `json:"churn"`
	ChurnInterval time.Duration `json:"churn_interval"`
}

// Scenarios returns the three scenarios of `make bench`:
//
//	a  throughput: 1M samples/s offered for 60 s over 100k series
//	b  1M active input series at 1M samples/s (one sample per series per
//	   second) for 40 s: memory per series, flush of ~1M output series
//	   (aggregation `latest` keeps one group per input series), delivery
//	   latency
//	c  cardinality explosion: 1M series at 1M samples/s for 60 s, 15% of
//	   the vehicles replaced by new ones every second: 10M distinct series
//	   offered against the series budgets of bench.yaml; memory must stop
//	   growing (the RSS peaks of the last two window intervals compared).
//	   60 s, not 30 s: idle groups are forgotten after staleness_interval
//	   (20 s), and only a run of several such cycles shows the plateau; a
//	   30 s run ends in the first one.
func Scenarios() []Scenario {
	return []Scenario{
		{Name: "a", Title: "throughput", Rate: 1_000_000, Duration: 60 * time.Second, Series: 100_000},
		{Name: "b", Title: "1M active series", Rate: 1_000_000, Duration: 40 * time.Second, Series: 1_000_000},
		{Name: "c", Title: "cardinality explosion", Rate: 1_000_000, Duration: 60 * time.Second, Series: 1_000_000,
			Churn: 0.15, ChurnInterval: time.Second},
	}
}

// loadgenArgs are the generator's flags for s, sending to url and writing
// its summary to summary.
func (s Scenario) loadgenArgs(url, summary string) []string {
	args := []string{
		"-url=" + url,
		"-rate=" + strconv.FormatFloat(s.Rate, 'f', -1, 64),
		"-duration=" + s.Duration.String(),
		"-schema=fleet", "-fleet-counter=true",
		"-series=" + strconv.Itoa(s.Series),
		"-extra-labels=2", "-label-value-len=16", "-label-values=20",
		"-batch=2000", "-connections=8", "-procs=1",
		"-progress=10s",
		"-summary=" + summary,
	}
	if s.Churn > 0 {
		args = append(args, "-churn="+strconv.FormatFloat(s.Churn, 'f', -1, 64), "-churn-interval="+s.ChurnInterval.String())
	}
	return args
}

func (s Scenario) String() string {
	out := fmt.Sprintf("%s (%s): %.0f samples/s for %s over %d series", s.Name, s.Title, s.Rate, s.Duration, s.Series)
	if s.Churn > 0 {
		out += fmt.Sprintf(", %.0f%% of the vehicles replaced every %s", 100*s.Churn, s.ChurnInterval)
	}
	return out
}
