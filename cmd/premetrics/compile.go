package main

import (
	"fmt"
	"log/slog"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/premetrics/premetrics/aggregate"
	"github.com/premetrics/premetrics/config"
	"github.com/premetrics/premetrics/ingest"
	"github.com/premetrics/premetrics/ingest/jsonevent"
	"github.com/premetrics/premetrics/ingest/mqtt"
	"github.com/premetrics/premetrics/pipeline"
	"github.com/premetrics/premetrics/remotewrite"
	"github.com/premetrics/premetrics/rules"
	"github.com/premetrics/premetrics/telemetry"
)

// observability is the registry, metrics and logger shared by components.
type observability struct {
	reg         *prometheus.Registry
	log         *slog.Logger
	dropped     *prometheus.CounterVec
	ingest      *ingest.Metrics
	aggregate   *aggregate.Metrics
	remotewrite *remotewrite.Metrics
	mqtt        *mqtt.Metrics
}

func newObservability(log *slog.Logger) *observability {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name:        "premetrics_build_info",
			Help:        "Build information; the value is always 1.",
			ConstLabels: prometheus.Labels{"version": version},
		}, func() float64 { return 1 }),
	)
	im := ingest.NewMetrics(reg)
	samples, rejected := im.SharedCounters()
	return &observability{
		reg:         reg,
		log:         log,
		dropped:     telemetry.NewDroppedSamples(reg),
		ingest:      im,
		aggregate:   aggregate.NewMetrics(reg),
		remotewrite: remotewrite.NewMetrics(reg),
		mqtt:        mqtt.NewMetrics(reg, mqtt.SharedMetrics{Samples: samples, Rejected: rejected}),
	}
}

// components are the compiled runtime objects of one config.
type components struct {
	pipeline *pipeline.Pipeline
	queues   []*remotewrite.Queue
	inputs   ingest.Inputs
	mqtt     []*mqtt.Subscriber
}

// compile turns a validated config into runtime objects. Nothing is
// started: queues need Start, the pipeline needs Run.
func compile(cfg *config.Config, obs *observability) (*components, error) {
	relabeler, err := rules.CompileRelabel(cfg.RelabelConfigs)
	if err != nil {
		return nil, fmt.Errorf("relabel_configs: %w", err)
	}
	aggs := make([]*aggregate.Aggregator, 0, len(cfg.Aggregations))
	for i, ac := range cfg.Aggregations {
		a, err := aggregate.New(ac, aggregate.Options{Dropped: obs.dropped, Metrics: obs.aggregate})
		if err != nil {
			return nil, fmt.Errorf("aggregations[%d]: %w", i, err)
		}
		aggs = append(aggs, a)
	}
	c := &components{}
	sinks := make([]pipeline.Sink, 0, len(cfg.RemoteWrite))
	for i, rc := range cfg.RemoteWrite {
		q, err := remotewrite.New(rc, remotewrite.Options{
			Dropped: obs.dropped,
			Metrics: obs.remotewrite,
			Logger:  obs.log.With("component", "remotewrite", "endpoint", rc.Name),
			Version: version,
		})
		if err != nil {
			return nil, fmt.Errorf("remote_write[%d]: %w", i, err)
		}
		c.queues = append(c.queues, q)
		sinks = append(sinks, q)
	}
	c.pipeline = pipeline.New(pipeline.Options{
		Relabel:          relabeler,
		Aggregations:     aggs,
		ForwardUnmatched: cfg.ForwardUnmatched,
		Sinks:            sinks,
		Dropped:          obs.dropped,
		Logger:           obs.log.With("component", "pipeline"),
	})
	if err := c.compileInputs(cfg, obs); err != nil {
		return nil, err
	}
	return c, nil
}

// compileInputs compiles the JSON mappings and creates (without starting)
// the MQTT subscribers.
func (c *components) compileInputs(cfg *config.Config, obs *observability) error {
	in := &cfg.Inputs
	mappings := make([]*jsonevent.Mapping, 0, len(in.JSON))
	for i, jc := range in.JSON {
		m, err := jsonevent.Compile(jc)
		if err != nil {
			return fmt.Errorf("inputs.json[%d]: %w", i, err)
		}
		mappings = append(mappings, m)
	}
	c.inputs = ingest.Inputs{
		RemoteWrite:    in.RemoteWrite.On(),
		Influx:         in.Influx.On(),
		OTLP:           in.OTLP.On(),
		OTLPOptions:    in.OTLP.OTLPOptions,
		PrometheusText: in.PrometheusText.On(),
		JSON:           ingest.NewJSONInputs(mappings),
	}
	lim := cfg.Server.DecoderLimits()
	decoders := func(format, input string) (mqtt.Decoder, error) {
		return ingest.NewPayloadDecoder(format, input, c.inputs.JSON, lim)
	}
	for i, mc := range in.MQTT {
		s, err := mqtt.New(mc, c.pipeline, decoders, obs.mqtt, obs.log.With("component", "mqtt", "input", mc.Name))
		if err != nil {
			return fmt.Errorf("inputs.mqtt[%d]: %w", i, err)
		}
		c.mqtt = append(c.mqtt, s)
	}
	return nil
}
