package main

import (
	"bufio"
	"fmt"
	"io"
	"math"
	"net/http"
	"sort"
	"strconv"
	"strings"
	"time"
)

// selfMetrics is premetrics' /metrics: full series text → value.
type selfMetrics map[string]float64

func scrapeSelf(u string) (selfMetrics, error) {
	resp, err := http.Get(u)
	if err != nil {
		return nil, fmt.Errorf("cannot scrape premetrics: %w", err)
	}
	defer resp.Body.Close()
	m := selfMetrics{}
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		i := strings.LastIndexByte(line, ' ')
		v, err := strconv.ParseFloat(line[i+1:], 64)
		if err == nil {
			m[line[:i]] = v
		}
	}
	return m, sc.Err()
}

// sum adds every series of metric name whose text contains all of subs.
func (m selfMetrics) sum(name string, subs ...string) float64 {
	total := 0.0
next:
	for k, v := range m {
		if k != name && !strings.HasPrefix(k, name+"{") {
			continue
		}
		for _, s := range subs {
			if !strings.Contains(k, s) {
				continue next
			}
		}
		total += v
	}
	return total
}

type report struct {
	prom       string
	fleet      fleetSummary
	self       selfMetrics
	mismatches int
	checked    int
}

const (
	motionSeries   = "vehicle_rpm:5s_by_model_region_count_series"
	warningsSeries = "vehicle_warnings_latest:5s_by_model_region_sum_samples"
)

func (r *report) print(w io.Writer) error {
	in := r.self.sum("premetrics_ingest_samples_total")
	out := r.self.sum("premetrics_remotewrite_samples_sent_total")
	outSeries, err := promQuery(r.prom, `count({__name__=~".+:.+"})`, time.Time{})
	if err != nil {
		return err
	}
	nOut := 0.0
	if len(outSeries) == 1 {
		nOut = outSeries[0].value
	}
	fmt.Fprintf(w, "\nWhat went in (POST /api/v1/write, remote write 1.0)\n")
	fmt.Fprintf(w, "  vehicles                 %10d\n", r.fleet.Vehicles)
	fmt.Fprintf(w, "  raw series               %10d   vehicle_rpm{engine=ic|electric} and vehicle_warnings per vehicle\n", r.fleet.Series)
	fmt.Fprintf(w, "  requests                 %10d   status codes: %v\n", r.fleet.Requests, r.fleet.StatusCounts)
	fmt.Fprintf(w, "  samples accepted         %10.0f   premetrics_ingest_samples_total\n", in)
	fmt.Fprintf(w, "\nWhat came out (remote write to Prometheus)\n")
	fmt.Fprintf(w, "  output series            %10.0f   count({__name__=~\".+:.+\"}) in Prometheus\n", nOut)
	fmt.Fprintf(w, "  samples sent             %10.0f   premetrics_remotewrite_samples_sent_total\n", out)
	if nOut > 0 && out > 0 {
		fmt.Fprintf(w, "  reduction                %10.0fx series, %.0fx samples\n", float64(r.fleet.Series)/nOut, in/out)
	}
	fmt.Fprintf(w, "  late samples             %10.0f   premetrics_aggregate_late_samples_total\n", r.self.sum("premetrics_aggregate_late_samples_total"))
	fmt.Fprintf(w, "  dropped samples          %10.0f   premetrics_dropped_samples_total (all reasons)\n", r.self.sum("premetrics_dropped_samples_total"))
	fmt.Fprintf(w, "  remote write dropped     %10.0f   premetrics_remotewrite_samples_dropped_total\n", r.self.sum("premetrics_remotewrite_samples_dropped_total"))

	if err := r.compareWindows(w); err != nil {
		return err
	}
	if err := r.showSeries(w); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nWhere to look next\n")
	fmt.Fprintf(w, "  make demo ARGS=-keep    keep Prometheus (PromQL at /graph) and premetrics running after the report\n")
	fmt.Fprintf(w, "  config.example.yaml     the pipeline above, commented field by field\n")
	fmt.Fprintf(w, "  README.md               aggregation semantics, endpoints, self metrics, limits\n")
	fmt.Fprintf(w, "  premetrics check FILE   validate your own config; make test runs every test\n")
	return nil
}

// compareWindows checks every complete 5 s window against the simulator's
// ground truth (computed from the readings it generated).
func (r *report) compareWindows(w io.Writer) error {
	fmt.Fprintf(w, "\nEvery complete 5 s window, Prometheus vs the simulator's ground truth\n")
	fmt.Fprintf(w, "  %-10s %26s %26s\n", "window end", "vehicles in motion", "warning lights on")
	for _, win := range r.fleet.Expected.Windows {
		if !win.Complete {
			continue
		}
		at := time.UnixMilli(win.EndMs)
		motion, err := r.sumAt(motionSeries, at)
		if err != nil {
			return err
		}
		warnings, err := r.sumAt(warningsSeries, at)
		if err != nil {
			return err
		}
		mark := "ok"
		if motion != float64(win.VehiclesInMotion) || math.Abs(warnings-win.Warnings) > 1e-9 {
			mark = "MISMATCH"
			r.mismatches++
		}
		r.checked++
		fmt.Fprintf(w, "  %-10s %12d / %-11.0f %12.0f / %-11.0f %s\n", at.UTC().Format("15:04:05"),
			win.VehiclesInMotion, motion, win.Warnings, warnings, mark)
	}
	fmt.Fprintf(w, "  (expected / read back with PromQL: sum(%s) and sum(%s) at the window end)\n", motionSeries, warningsSeries)
	return nil
}

// sumAt sums the samples of name stamped exactly at (not looked back to).
func (r *report) sumAt(name string, at time.Time) (float64, error) {
	q := fmt.Sprintf("sum(%s and timestamp(%s) == %d)", name, name, at.Unix())
	res, err := promQuery(r.prom, q, at)
	if err != nil || len(res) == 0 {
		return 0, err
	}
	return res[0].value, nil
}

func (r *report) showSeries(w io.Writer) error {
	fmt.Fprintf(w, "\nA few output series, read back from Prometheus with PromQL\n")
	queries := []string{
		`topk(5, sum by (region) (last_over_time(` + motionSeries + `[1m])))`,
		`topk(3, sum by (model) (last_over_time(` + warningsSeries + `[1m])))`,
		`topk(3, last_over_time(vehicle_rpm:1m_by_region_avg[2m]))`,
		`last_over_time(vehicle_rpm:1m_by_region_quantiles{region="US"}[2m])`,
	}
	for _, q := range queries {
		res, err := promQuery(r.prom, q, time.Time{})
		if err != nil {
			return err
		}
		fmt.Fprintf(w, "  %s\n", q)
		sort.Slice(res, func(i, j int) bool { return res[i].value > res[j].value })
		if len(res) == 0 {
			fmt.Fprintf(w, "      (no result: 1 m windows close 10 s after each full minute; run longer)\n")
		}
		for _, s := range res {
			fmt.Fprintf(w, "      %-40s %12.2f\n", labelText(s.labels), s.value)
		}
	}
	return nil
}

func labelText(ls map[string]string) string {
	keys := make([]string, 0, len(ls))
	for k := range ls {
		if k != "__name__" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	parts := make([]string, 0, len(keys))
	for _, k := range keys {
		parts = append(parts, fmt.Sprintf("%s=%q", k, ls[k]))
	}
	return "{" + strings.Join(parts, ", ") + "}"
}

// verdict fails the demo when the pipeline's output disagreed with the
// ground truth, or nothing could be checked.
func (r *report) verdict() error {
	switch {
	case r.checked == 0:
		return fmt.Errorf("no complete window could be checked")
	case r.mismatches > 0:
		return fmt.Errorf("%d of %d windows differ from the ground truth", r.mismatches, r.checked)
	case r.fleet.FailedRequests > 0:
		return fmt.Errorf("%d requests were not accepted", r.fleet.FailedRequests)
	}
	fmt.Printf("\nOK: %d windows match the ground truth exactly.\n", r.checked)
	return nil
}
