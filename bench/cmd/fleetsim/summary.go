package main

import (
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/premetrics/premetrics/bench/fleet"
)

// summary is what -summary writes as JSON.
type summary struct {
	URL             string  `json:"url"`
	Protocol        string  `json:"protocol"` // json or remote_write
	Gzip            bool    `json:"gzip"`
	Vehicles        int     `json:"vehicles"`
	Seed            uint64  `json:"seed"`
	IntervalSeconds float64 `json:"interval_seconds"`
	DurationSeconds float64 `json:"duration_seconds"`
	ElapsedSeconds  float64 `json:"elapsed_seconds"`
	BatchSeries     int     `json:"batch_series"`
	Ticks           int     `json:"ticks"`
	ModelLabel      bool    `json:"model_label"`

	// Series is the number of distinct series (3 per vehicle), after the
	// JSON input's mapping.
	Series int `json:"series"`
	// Requests made; each is attempted until accepted or out of retries.
	Requests       int64 `json:"requests"`
	LateRequests   int64 `json:"late_requests"`
	Attempts       int64 `json:"attempts"`
	Retries        int64 `json:"retries"`
	FailedRequests int64 `json:"failed_requests"`
	// Samples generated, accepted (2xx) and not accepted after retries.
	// With JSON a sample is one event.
	SamplesGenerated int64 `json:"samples_generated"`
	SamplesSent      int64 `json:"samples_sent"`
	SamplesFailed    int64 `json:"samples_failed"`
	// BodyBytes is the size of all request bodies made (as sent).
	BodyBytes int64 `json:"body_bytes"`
	// StatusCounts counts every response by HTTP code ("error": no response).
	StatusCounts map[string]int64 `json:"status_counts"`

	Expected expected `json:"expected"`
}

// expected is the ground truth of the reference pipeline's outputs.
type expected struct {
	WindowSeconds float64        `json:"window_seconds"`
	Note          string         `json:"note"`
	Windows       []fleet.Window `json:"windows"`
}

func newSummary(o options, st *stats, ticks int, elapsed time.Duration, truth *fleet.Truth) *summary {
	return &summary{
		URL:              o.URL,
		Protocol:         o.Protocol,
		Gzip:             o.Gzip,
		Vehicles:         o.Vehicles,
		Seed:             o.Seed,
		IntervalSeconds:  o.Interval.Seconds(),
		DurationSeconds:  o.Duration.Seconds(),
		ElapsedSeconds:   elapsed.Seconds(),
		BatchSeries:      o.Batch,
		Ticks:            ticks,
		ModelLabel:       !o.NoModelLabel && o.Protocol != protocolJSON,
		Series:           fleet.SeriesPerReading * o.Vehicles,
		Requests:         st.requests.Load(),
		LateRequests:     st.lateRequests.Load(),
		Attempts:         st.attempts.Load(),
		Retries:          st.retries.Load(),
		FailedRequests:   st.failed.Load(),
		SamplesGenerated: st.samplesGenerated.Load(),
		SamplesSent:      st.samplesSent.Load(),
		SamplesFailed:    st.samplesFailed.Load(),
		BodyBytes:        st.bodyBytes.Load(),
		StatusCounts:     st.statusCounts(),
		Expected: expected{
			WindowSeconds: o.TruthWindow.Seconds(),
			Note: "computed from every generated reading: exact when failed_requests is 0; " +
				"only windows with complete=true are fully covered by the run",
			Windows: truth.Windows(),
		},
	}
}

// line is the one-line final report.
func (s *summary) line() string {
	non2xx := map[string]int64{}
	for code, n := range s.StatusCounts {
		if !strings.HasPrefix(code, "2") {
			non2xx[code] = n
		}
	}
	what := "samples"
	if s.Protocol == protocolJSON {
		what = "events"
	}
	return fmt.Sprintf("fleetsim: sent %d of %d %s (%d series, %d vehicles) as %s in %d requests over %.1fs; %d retries, %d failed requests; non-2xx responses: %s",
		s.SamplesSent, s.SamplesGenerated, what, s.Series, s.Vehicles, s.Protocol, s.Requests, s.ElapsedSeconds, s.Retries, s.FailedRequests, formatCounts(non2xx))
}

// writeFile writes s as indented JSON to path.
func (s *summary) writeFile(path string) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("cannot encode summary: %w", err)
	}
	if err := os.WriteFile(path, append(data, '\n'), 0o644); err != nil {
		return fmt.Errorf("cannot write summary: %w", err)
	}
	return nil
}
