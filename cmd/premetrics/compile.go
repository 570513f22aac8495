package main

import (
	"context"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/premetrics/premetrics/aggregate"
	"github.com/premetrics/premetrics/config"
	"github.com/premetrics/premetrics/derive"
	"github.com/premetrics/premetrics/enrich"
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
	enrich      *enrich.Metrics
	derive      *derive.Metrics

	mu      sync.Mutex
	started []*enrich.Enricher // enrichment tables refreshing now (startEnrich)
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
		enrich:      enrich.NewMetrics(reg),
		derive:      derive.NewMetrics(reg),
	}
}

// components are the compiled runtime objects of one config.
type components struct {
	pipeline *pipeline.Pipeline
	stages   pipeline.Stages
	aggs     []*aggregate.Aggregator // = stages.Aggregations
	enrich   []*enrich.Enricher      // = stages.Enrich
	queues   []*remotewrite.Queue
	inputs   ingest.Inputs
	mappings []*jsonevent.Mapping // what inputs.JSON holds (or gets, on reload)
	mqtt     []*mqtt.Subscriber
}

// compile turns a validated config into runtime objects. Nothing is
// started: queues need Start, the pipeline needs Run.
func compile(cfg *config.Config, obs *observability) (*components, error) {
	return compileReusing(cfg, obs, nil)
}

// running is the config in use and its components, for a reload.
type running struct {
	cfg *config.Config
	c   *components
}

// compileReusing is compile for a reload when prev is not nil: an
// aggregation or remote_write entry whose config is deeply equal
// (reflect.DeepEqual of the parsed aggregate.Config / remotewrite.Config)
// to one of prev's reuses its object — the same *aggregate.Aggregator
// with its window state, the same running *remotewrite.Queue — and
// prev's pipeline and JSON inputs are kept, to be swapped by the caller.
// Enrichment tables are reused the same way (the same *enrich.Enricher,
// its snapshot and refresh loop); on a reload the new ones are loaded
// (startEnrich) before it returns, since the swap puts them in use at
// once. Without prev nothing is loaded: run calls startEnrich, and
// premetrics check never reads a source. On error, the queues and tables
// it created are stopped (nothing was buffered).
func compileReusing(cfg *config.Config, obs *observability, prev *running) (c *components, err error) {
	c = &components{}
	var created []*remotewrite.Queue
	var createdTables []*enrich.Enricher
	defer func() {
		if err != nil {
			for _, q := range created {
				_ = q.Stop(context.Background())
			}
			obs.stopEnrich(createdTables)
		}
	}()
	relabeler, err := rules.CompileRelabel(cfg.RelabelConfigs)
	if err != nil {
		return nil, fmt.Errorf("relabel_configs: %w", err)
	}
	var reuseAgg, reuseQueue, reuseTable func(i int) int
	if prev != nil {
		reuseAgg = reuser(prev.cfg.Aggregations, cfg.Aggregations)
		reuseQueue = reuser(prev.cfg.RemoteWrite, cfg.RemoteWrite)
		reuseTable = reuser(prev.cfg.Enrich, cfg.Enrich)
	}
	for i, ec := range cfg.Enrich {
		if reuseTable != nil {
			if j := reuseTable(i); j >= 0 {
				c.enrich = append(c.enrich, prev.c.enrich[j])
				continue
			}
		}
		e, err := enrich.New(ec, enrich.Options{
			Metrics: obs.enrich,
			Dropped: obs.dropped,
			Logger:  obs.log.With("component", "enrich"),
		})
		if err != nil {
			return nil, fmt.Errorf("enrich[%d]: %w", i, err)
		}
		createdTables = append(createdTables, e)
		c.enrich = append(c.enrich, e)
	}
	aggs := make([]*aggregate.Aggregator, 0, len(cfg.Aggregations))
	for i, ac := range cfg.Aggregations {
		if reuseAgg != nil {
			if j := reuseAgg(i); j >= 0 {
				aggs = append(aggs, prev.c.aggs[j])
				continue
			}
		}
		a, err := aggregate.New(ac, aggregate.Options{Dropped: obs.dropped, Metrics: obs.aggregate})
		if err != nil {
			return nil, fmt.Errorf("aggregations[%d]: %w", i, err)
		}
		aggs = append(aggs, a)
	}
	c.aggs = aggs
	sinks := make([]pipeline.Sink, 0, len(cfg.RemoteWrite))
	for i, rc := range cfg.RemoteWrite {
		if reuseQueue != nil {
			if j := reuseQueue(i); j >= 0 {
				c.queues = append(c.queues, prev.c.queues[j])
				sinks = append(sinks, prev.c.queues[j])
				continue
			}
		}
		q, err := remotewrite.New(rc, remotewrite.Options{
			Dropped: obs.dropped,
			Metrics: obs.remotewrite,
			Logger:  obs.log.With("component", "remotewrite", "endpoint", rc.Name),
			Version: version,
		})
		if err != nil {
			return nil, fmt.Errorf("remote_write[%d]: %w", i, err)
		}
		created = append(created, q)
		c.queues = append(c.queues, q)
		sinks = append(sinks, q)
	}
	var deriver *derive.Deriver
	if len(cfg.Derive) > 0 {
		deriver, err = derive.New(cfg.Derive, derive.Options{Metrics: obs.derive, Logger: obs.log.With("component", "derive")})
		if err != nil {
			return nil, fmt.Errorf("derive: %w", err)
		}
	}
	c.stages = pipeline.Stages{
		Relabel:          relabeler,
		Enrich:           c.enrich,
		Aggregations:     aggs,
		Derive:           deriver,
		ForwardUnmatched: cfg.ForwardUnmatched,
		Sinks:            sinks,
	}
	if prev != nil {
		c.pipeline = prev.c.pipeline
	} else {
		c.pipeline = pipeline.New(pipeline.Options{
			Relabel:          relabeler,
			Enrich:           c.enrich,
			Aggregations:     aggs,
			Derive:           deriver,
			ForwardUnmatched: cfg.ForwardUnmatched,
			Sinks:            sinks,
			Dropped:          obs.dropped,
			Logger:           obs.log.With("component", "pipeline"),
		})
	}
	var json *ingest.JSONInputs
	if prev != nil {
		json = prev.c.inputs.JSON
	}
	if err := c.compileInputs(cfg, obs, json); err != nil {
		return nil, err
	}
	if prev != nil {
		if err := obs.startEnrich(c.enrich); err != nil {
			return nil, err
		}
	}
	return c, nil
}

// startEnrich loads and starts refreshing the tables not started yet,
// in config order. A required table that cannot be loaded is an error;
// the tables this call started are stopped again then.
func (o *observability) startEnrich(tables []*enrich.Enricher) error {
	o.mu.Lock()
	defer o.mu.Unlock()
	var now []*enrich.Enricher
	for _, e := range tables {
		if contains(o.started, e) {
			continue
		}
		if err := e.Start(context.Background()); err != nil {
			o.mu.Unlock()
			o.stopEnrich(now)
			o.mu.Lock()
			return err
		}
		now = append(now, e)
		o.started = append(o.started, e)
	}
	return nil
}

// stopAllEnrich stops every started table, at shutdown.
func (o *observability) stopAllEnrich() {
	o.mu.Lock()
	all := slices.Clone(o.started)
	o.mu.Unlock()
	o.stopEnrich(all)
}

// stopEnrich stops the given tables (started or not): their refresh
// loops end, their metrics go.
func (o *observability) stopEnrich(tables []*enrich.Enricher) {
	o.mu.Lock()
	kept := o.started[:0:0]
	for _, e := range o.started {
		if !contains(tables, e) {
			kept = append(kept, e)
		}
	}
	o.started = kept
	o.mu.Unlock()
	for _, e := range tables {
		e.Stop()
	}
}

// retiredEnrich returns the tables of old that next no longer uses.
func retiredEnrich(old, next *components) []*enrich.Enricher {
	var out []*enrich.Enricher
	for _, e := range old.enrich {
		if !contains(next.enrich, e) {
			out = append(out, e)
		}
	}
	return out
}

// reuser returns, for each index of next, the index of an entry of prev
// deeply equal to it, each prev entry used at most once; -1: none.
func reuser[T any](prev, next []T) func(i int) int {
	used := make([]bool, len(prev))
	match := make([]int, len(next))
	for i := range next {
		match[i] = -1
		for j := range prev {
			if !used[j] && reflect.DeepEqual(prev[j], next[i]) {
				used[j], match[i] = true, j
				break
			}
		}
	}
	return func(i int) int { return match[i] }
}

// compileInputs compiles the JSON mappings and creates (without starting)
// the MQTT subscribers. With json not nil (a reload), the mappings are
// kept in c.mappings for the caller to Set on json.
func (c *components) compileInputs(cfg *config.Config, obs *observability, json *ingest.JSONInputs) error {
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
		JSON:           json,
	}
	c.mappings = mappings
	if json == nil {
		c.inputs.JSON = ingest.NewJSONInputs(mappings)
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
