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
	prom, premetrics string
	alertmanager     string
	path             string    // where the fleet pushed
	wantAlert        string    // the alert that must fire ("": none)
	alerts           []amAlert // what Alertmanager held at the end
	fleet            fleetSummary
	self             selfMetrics
	mismatches       int // windows that differ
	checked          int // windows checked
	groups           int // model and region values compared, of both outputs
	details          []string
}

// Output series of config.example.yaml that the demo checks.
const (
	motionSeries   = "vehicle_rpm:5s_by_model_region_count_series"
	warningsSeries = "vehicle_warnings_latest:5s_by_model_region_sum_samples"
)

func (r *report) print(w io.Writer) error {
	in := r.self.sum("premetrics_ingest_samples_total")
	rejected := r.self.sum("premetrics_ingest_rejected_samples_total")
	out := r.self.sum("premetrics_remotewrite_samples_sent_total")
	outSeries, err := promQuery(r.prom, `count({__name__=~".+:.+"})`, time.Time{})
	if err != nil {
		return err
	}
	nOut := 0.0
	if len(outSeries) == 1 {
		nOut = outSeries[0].value
	}
	f := r.fleet
	perItem := 0.0
	if f.SamplesGenerated > 0 {
		perItem = float64(f.BodyBytes) / float64(f.SamplesGenerated)
	}
	if f.Protocol == "remote_write" {
		fmt.Fprintf(w, "\nWhat went in (POST %s, remote write 1.0)\n", r.path)
		fmt.Fprintf(w, "  vehicles                 %10d\n", f.Vehicles)
		fmt.Fprintf(w, "  raw series               %10d   vehicle_rpm{engine=ic|electric} and vehicle_warnings per vehicle\n", f.Series)
		fmt.Fprintf(w, "  samples                  %10d   3 per vehicle a second\n", f.SamplesGenerated)
		fmt.Fprintf(w, "  requests                 %10d   status codes: %v\n", f.Requests, f.StatusCounts)
		fmt.Fprintf(w, "  body bytes               %10s   %.1f per sample (snappy protobuf)\n", megabytes(f.BodyBytes), perItem)
	} else {
		enc := "NDJSON"
		if f.Gzip {
			enc = "gzipped NDJSON"
		}
		fmt.Fprintf(w, "\nWhat went in (POST %s: JSON events, %s)\n", r.path, enc)
		fmt.Fprintf(w, "  vehicles                 %10d\n", f.Vehicles)
		fmt.Fprintf(w, "  events                   %10d   IC_RPM, ELECTRIC_RPM, WARNINGS: 3 per vehicle a second\n", f.SamplesGenerated)
		fmt.Fprintf(w, "  requests                 %10d   status codes: %v\n", f.Requests, f.StatusCounts)
		fmt.Fprintf(w, "  body bytes               %10s   %.1f per event\n", megabytes(f.BodyBytes), perItem)
		fmt.Fprintf(w, "  raw series               %10d   the vehicles input maps them to vehicle_rpm{engine=ic|electric}, vehicle_warnings\n", f.Series)
	}
	fmt.Fprintf(w, "  samples accepted         %10.0f   premetrics_ingest_samples_total\n", in)
	fmt.Fprintf(w, "  samples rejected         %10.0f   premetrics_ingest_rejected_samples_total\n", rejected)
	fmt.Fprintf(w, "\nWhat came out (remote write to Prometheus)\n")
	fmt.Fprintf(w, "  output series            %10.0f   count({__name__=~\".+:.+\"}) in Prometheus\n", nOut)
	fmt.Fprintf(w, "  samples sent             %10.0f   premetrics_remotewrite_samples_sent_total\n", out)
	if nOut > 0 && out > 0 {
		fmt.Fprintf(w, "  reduction                %10.0fx series, %.0fx samples\n", float64(f.Series)/nOut, in/out)
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
	fmt.Fprintf(w, "  make demo ARGS=-keep    keep Prometheus (PromQL at /graph) and premetrics running after the report, and push\n")
	fmt.Fprintf(w, "                          events yourself (without \"timestamp\" an event gets the receive time):\n")
	fmt.Fprintf(w, "                          curl --data-binary '{\"eventType\": \"WARNINGS\", \"vehicleId\": \"V0000012345\", \"region\": \"UK\", \"measurement\": 2}' %s/api/v1/push/vehicles\n",
		r.premetrics)
	fmt.Fprintf(w, "  config.example.yaml     the pipeline above (inputs, aggregations), commented field by field\n")
	fmt.Fprintf(w, "  README.md               aggregation semantics, endpoints, self metrics, limits\n")
	fmt.Fprintf(w, "  premetrics check FILE   validate your own config; make test runs every test\n")
	return nil
}

// compareWindows checks every complete 5 s window, model and region by
// model and region, against the simulator's ground truth (computed from
// the readings it generated and the registry's models).
func (r *report) compareWindows(w io.Writer) error {
	fmt.Fprintf(w, "\nEvery complete 5 s window, per model and region: Prometheus vs the simulator's ground truth\n")
	fmt.Fprintf(w, "  %-10s %26s %26s %9s\n", "window end", "vehicles in motion", "warning lights on", "groups")
	for _, win := range r.fleet.Expected.Windows {
		if !win.Complete {
			continue
		}
		at := time.UnixMilli(win.EndMs)
		motion, err := r.byModelRegionAt(motionSeries, at)
		if err != nil {
			return err
		}
		warnings, err := r.byModelRegionAt(warningsSeries, at)
		if err != nil {
			return err
		}
		motionWant := map[string]float64{}
		for model, byRegion := range win.VehiclesInMotionByModelRegion {
			for region, v := range byRegion {
				motionWant[model+"/"+region] = float64(v)
			}
		}
		warningsWant := map[string]float64{}
		for model, byRegion := range win.WarningsByModelRegion {
			for region, v := range byRegion {
				warningsWant[model+"/"+region] = v
			}
		}
		stamp := at.UTC().Format("15:04:05")
		groups, same := r.compare(stamp, "vehicles in motion", motionWant, motion)
		groupsW, sameW := r.compare(stamp, "warning lights on", warningsWant, warnings)
		groups, same = groups+groupsW, same+sameW
		mark := "ok"
		if same != groups {
			mark = "MISMATCH"
			r.mismatches++
		}
		r.checked++
		r.groups += groups
		fmt.Fprintf(w, "  %-10s %12d / %-11.0f %12.0f / %-11.0f %4d / %-3d %s\n", stamp,
			win.VehiclesInMotion, total(motion), win.Warnings, total(warnings), same, groups, mark)
	}
	fmt.Fprintf(w, "  (expected / read back with PromQL: %s and %s,\n", motionSeries, warningsSeries)
	fmt.Fprintf(w, "   stamped exactly at the window end; the model joins from the vehicle registry;\n")
	fmt.Fprintf(w, "   groups: model/region values that match, of both outputs)\n")
	for i, d := range r.details {
		if i == 10 {
			fmt.Fprintf(w, "  ... and %d more differences\n", len(r.details)-10)
			break
		}
		fmt.Fprintf(w, "  MISMATCH %s\n", d)
	}
	return nil
}

// compare compares expected and read-back values per group (model/region):
// it returns how many groups either side has and in how many they agree,
// and notes each difference.
func (r *report) compare(stamp, what string, want, got map[string]float64) (groups, same int) {
	keys := map[string]bool{}
	for k := range want {
		keys[k] = true
	}
	for k := range got {
		keys[k] = true
	}
	names := make([]string, 0, len(keys))
	for k := range keys {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, k := range names {
		wv, wok := want[k]
		gv, gok := got[k]
		if wok && gok && math.Abs(wv-gv) <= 1e-9 {
			same++
			continue
		}
		exp, act := "none", "none"
		if wok {
			exp = strconv.FormatFloat(wv, 'f', -1, 64)
		}
		if gok {
			act = strconv.FormatFloat(gv, 'f', -1, 64)
		}
		r.details = append(r.details, fmt.Sprintf("%s %s %s: expected %s, read back %s", stamp, k, what, exp, act))
	}
	return len(names), same
}

func megabytes(n int64) string { return strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + " MB" }

func total(m map[string]float64) float64 {
	t := 0.0
	for _, v := range m {
		t += v
	}
	return t
}

// byModelRegionAt returns the samples of name by "model/region",
// counting only samples stamped exactly at (not looked back to).
func (r *report) byModelRegionAt(name string, at time.Time) (map[string]float64, error) {
	q := fmt.Sprintf("%s and timestamp(%s) == %d", name, name, at.Unix())
	res, err := promQuery(r.prom, q, at)
	if err != nil {
		return nil, err
	}
	out := make(map[string]float64, len(res))
	for _, s := range res {
		out[s.labels["model"]+"/"+s.labels["region"]] += s.value
	}
	return out, nil
}

func (r *report) showSeries(w io.Writer) error {
	fmt.Fprintf(w, "\nA few output series, read back from Prometheus with PromQL\n")
	queries := []string{
		`sum by (model) (last_over_time(` + motionSeries + `[30s]))`,
		`topk(3, sum by (region) (last_over_time(` + warningsSeries + `[30s])))`,
		`topk(3, last_over_time(vehicle_rpm:1m_by_region_avg[2m]))`,
		`last_over_time(vehicle_rpm:1m_by_region_quantiles{region="US"}[2m])`,
		`histogram_quantile(0.9, vehicle_rpm:1m_by_region_histogram{region="US"})`,
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
		return fmt.Errorf("%d of %d windows differ from the ground truth (%d of %d per-region values)", r.mismatches, r.checked, len(r.details), r.groups)
	case r.fleet.FailedRequests > 0:
		return fmt.Errorf("%d requests were not accepted", r.fleet.FailedRequests)
	case r.wantAlert != "" && !r.alertFired():
		return fmt.Errorf("alert %s did not reach Alertmanager", r.wantAlert)
	}
	fmt.Printf("\nOK: %d windows match the ground truth exactly, in every model and region (%d values)", r.checked, r.groups)
	if r.wantAlert != "" {
		fmt.Printf("; %s reached Alertmanager", r.wantAlert)
	}
	fmt.Printf(".\n")
	return nil
}

func (r *report) alertFired() bool {
	for _, a := range r.alerts {
		if a.Labels["alertname"] == r.wantAlert {
			return true
		}
	}
	return false
}

// printAlerts shows what Alertmanager received from Prometheus.
func (r *report) printAlerts(w io.Writer) {
	fmt.Fprintf(w, "\nAlerts in Alertmanager (%s/api/v2/alerts), from the rules premetrics wrote\n", r.alertmanager)
	printAlerts(w, r.alerts)
}
