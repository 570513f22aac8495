package telemetry

import "github.com/prometheus/client_golang/prometheus"

// Stage names used as the "stage" label of DroppedSamples.
const (
	StageRelabel     = "relabel"
	StageEnrich      = "enrich"
	StageAggregate   = "aggregate"
	StageRoute       = "route"
	StageRemoteWrite = "remotewrite"
)

// NewDroppedSamples registers premetrics_dropped_samples_total{stage,reason}
// with reg (when reg is not nil) and returns it.
func NewDroppedSamples(reg prometheus.Registerer) *prometheus.CounterVec {
	v := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "premetrics_dropped_samples_total",
		Help: "Samples discarded by the pipeline after ingest accepted them, by stage and reason.",
	}, []string{"stage", "reason"})
	if reg != nil {
		reg.MustRegister(v)
	}
	return v
}
