package load

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"time"
)

// sustainedWindow is the window, in seconds, of Summary.SustainedRate.
const sustainedWindow = 5

// Summary is the outcome of a Run, written as JSON for the benchmark
// harness. Rates are samples per second; a sample is one event (one JSON
// event, one Influx or text line, one OTLP data point).
type Summary struct {
	URL      string `json:"url"`      // the MQTT broker's with mqtt
	Protocol string `json:"protocol"` // one of Protocols
	// MQTTTopic is the topic template of mqtt, MQTTInflight the publishes
	// of a connection that may wait for their PUBACK.
	MQTTTopic       string `json:"mqtt_topic,omitempty"`
	MQTTInflight    int    `json:"mqtt_inflight,omitempty"`
	Schema          string `json:"schema"`
	Series          int    `json:"series"` // active series at any time
	Devices         int    `json:"devices"`
	SeriesPerDevice int    `json:"series_per_device"`
	LabelsPerSeries int    `json:"labels_per_series"` // __name__ included
	ExtraLabels     int    `json:"extra_labels"`
	LabelValueLen   int    `json:"label_value_len"`
	LabelValues     int    `json:"label_values"`
	// Churn is the fraction of devices replaced every ChurnIntervalSeconds;
	// DistinctSeries counts every series sent, replaced ones included.
	Churn                float64 `json:"churn"`
	ChurnIntervalSeconds float64 `json:"churn_interval_seconds"`
	DistinctSeries       int64   `json:"distinct_series"`

	SeriesPerRequest   int     `json:"series_per_request"`
	BodyBytesPerSample float64 `json:"body_bytes_per_sample"`
	CompressionRatio   float64 `json:"compression_ratio"`
	Connections        int     `json:"connections"`

	TargetRate      float64 `json:"target_rate"`
	DurationSeconds float64 `json:"duration_seconds"`
	// ElapsedSeconds runs from the start to the last answer, and is at
	// least the duration (the schedule's span).
	ElapsedSeconds float64 `json:"elapsed_seconds"`
	// RequestsScheduled were due within the duration; Requests were sent
	// (fewer only when interrupted).
	RequestsScheduled int64 `json:"requests_scheduled"`
	Requests          int64 `json:"requests"`
	SamplesSent       int64 `json:"samples_sent"`
	// SamplesAccepted are in 2xx answers, less the data points an OTLP
	// partial success rejected; with mqtt, in PUBACKed messages (the
	// broker took them, which says nothing of premetrics).
	SamplesAccepted int64 `json:"samples_accepted"`
	// AchievedRate is SamplesSent / ElapsedSeconds: the offered load as
	// sent. AcceptedRate counts 2xx samples only. SustainedRate is the
	// lowest accepted rate over any 5 whole seconds of the duration.
	AchievedRate  float64 `json:"achieved_rate"`
	AcceptedRate  float64 `json:"accepted_rate"`
	SustainedRate float64 `json:"sustained_rate"`
	// Behind schedule: how long after its due time a request started;
	// Final is that of the last request.
	BehindMaxSeconds   float64 `json:"behind_schedule_max_seconds"`
	BehindFinalSeconds float64 `json:"behind_schedule_final_seconds"`
	BehindMeanSeconds  float64 `json:"behind_schedule_mean_seconds"`
	// StatusCounts counts answers by HTTP status ("error": none, e.g. a
	// refused connection or a timeout; "puback": an acknowledged MQTT
	// publish); RejectedSamples counts the samples of non-2xx requests by
	// status, and under "200" the data points rejected in OTLP partial
	// successes; FirstErrors has the first message of each.
	StatusCounts    map[string]int64  `json:"status_counts"`
	Responses429    int64             `json:"responses_429"`
	RejectedSamples map[string]int64  `json:"rejected_samples"`
	FirstErrors     map[string]string `json:"first_errors"`
	BytesSent       int64             `json:"bytes_sent"`

	// The generator's own cost: CPU seconds (user+system) of this process
	// while sending, per million samples sent, and as cores used.
	GeneratorCPUSeconds           float64 `json:"generator_cpu_seconds"`
	GeneratorCPUPerMillionSamples float64 `json:"generator_cpu_seconds_per_million_samples"`
	GeneratorCores                float64 `json:"generator_cores"`
	// PrepareSeconds is the time spent encoding the templates, before the
	// run (set by the caller of Run).
	PrepareSeconds float64 `json:"prepare_seconds"`

	Interrupted bool `json:"interrupted"`
	// AcceptedPerSecond[s] is the number of samples accepted in second s.
	AcceptedPerSecond []int64 `json:"accepted_per_second"`
}

func (r *runner) summary(elapsed time.Duration, cpu float64, interrupted bool) *Summary {
	p, o, s := r.plan, r.opts, r.stats.snapshot()
	if !interrupted {
		elapsed = max(elapsed, o.Duration)
	}
	sum := &Summary{
		URL:                  o.URL,
		Protocol:             p.Protocol(),
		Schema:               p.shape.Schema,
		Series:               p.Series(),
		Devices:              p.Devices(),
		SeriesPerDevice:      p.SeriesPerDevice(),
		LabelsPerSeries:      p.LabelsPerSeries(),
		ExtraLabels:          p.shape.ExtraLabels,
		LabelValueLen:        p.shape.LabelValueLen,
		LabelValues:          p.shape.LabelValues,
		Churn:                p.shape.Churn,
		ChurnIntervalSeconds: p.shape.ChurnInterval.Seconds(),
		DistinctSeries:       p.DistinctSeries(s.maxChurned),
		SeriesPerRequest:     p.batch,
		BodyBytesPerSample:   p.CompressedBytesPerSample(),
		CompressionRatio:     p.CompressionRatio(),
		Connections:          o.Connections,
		TargetRate:           o.Rate,
		DurationSeconds:      o.Duration.Seconds(),
		ElapsedSeconds:       elapsed.Seconds(),
		RequestsScheduled:    r.sched.total,
		Requests:             s.requests,
		SamplesSent:          s.samplesSent,
		SamplesAccepted:      s.samplesAccepted,
		BehindMaxSeconds:     s.maxBehind.Seconds(),
		BehindFinalSeconds:   s.lastBehind.Seconds(),
		BehindMeanSeconds:    s.meanBehind.Seconds(),
		StatusCounts:         s.status,
		Responses429:         s.status["429"],
		RejectedSamples:      s.rejected,
		FirstErrors:          s.firstError,
		BytesSent:            s.bytesSent,
		GeneratorCPUSeconds:  cpu,
		Interrupted:          interrupted,
		AcceptedPerSecond:    s.perSecond,
	}
	if o.MQTT.Broker != "" {
		sum.URL, sum.MQTTTopic, sum.MQTTInflight = o.MQTT.Broker, o.MQTT.Topic, o.MQTT.Inflight
	}
	if elapsed > 0 {
		sum.AchievedRate = float64(s.samplesSent) / elapsed.Seconds()
		sum.AcceptedRate = float64(s.samplesAccepted) / elapsed.Seconds()
		sum.GeneratorCores = cpu / elapsed.Seconds()
	}
	sum.SustainedRate = sustained(s.perSecond, int(o.Duration/time.Second), sustainedWindow)
	if s.samplesSent > 0 {
		sum.GeneratorCPUPerMillionSamples = cpu / float64(s.samplesSent) * 1e6
	}
	return sum
}

// Line is a one-line human summary.
func (s *Summary) Line() string {
	return fmt.Sprintf("loadgen: sent %d samples (%d series, %d distinct) in %d requests over %.1fs: %.0f samples/s of %.0f target, %.0f/s accepted, sustained %.0f/s; behind schedule max %.3fs, final %.3fs; responses %s; generator CPU %.2fs (%.3f s per million samples, %.2f cores)",
		s.SamplesSent, s.Series, s.DistinctSeries, s.Requests, s.ElapsedSeconds, s.AchievedRate, s.TargetRate, s.AcceptedRate,
		s.SustainedRate, s.BehindMaxSeconds, s.BehindFinalSeconds, formatCounts(s.StatusCounts),
		s.GeneratorCPUSeconds, s.GeneratorCPUPerMillionSamples, s.GeneratorCores)
}

// Write writes s as indented JSON.
func (s *Summary) Write(w io.Writer) error {
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return fmt.Errorf("cannot encode summary: %w", err)
	}
	if _, err := w.Write(append(data, '\n')); err != nil {
		return fmt.Errorf("cannot write summary: %w", err)
	}
	return nil
}

// WriteFile writes s as indented JSON to path.
func (s *Summary) WriteFile(path string) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("cannot write summary: %w", err)
	}
	if err := s.Write(f); err != nil {
		_ = f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("cannot write summary: %w", err)
	}
	return nil
}
