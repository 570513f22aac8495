package config

import (
	"fmt"

	"github.com/premetrics/premetrics/ingest"
	"github.com/premetrics/premetrics/ingest/jsonevent"
	"github.com/premetrics/premetrics/ingest/mqtt"
)

// Inputs is the `inputs:` block. Remote write, Influx, OTLP and Prometheus
// text are served unless disabled (`enabled: false`); JSON inputs and MQTT
// subscriptions exist as configured.
type Inputs struct {
	RemoteWrite    Toggle             `yaml:"remote_write"`
	Influx         Toggle             `yaml:"influx"`
	OTLP           OTLPInput          `yaml:"otlp"`
	PrometheusText Toggle             `yaml:"prometheus_text"`
	JSON           []jsonevent.Config `yaml:"json"`
	MQTT           []mqtt.Config      `yaml:"mqtt"`
}

// Toggle turns an always-available input off.
type Toggle struct {
	Enabled *bool `yaml:"enabled"` // absent: on
}

// On reports whether the input is served.
func (t Toggle) On() bool { return t.Enabled == nil || *t.Enabled }

// OTLPInput is `inputs.otlp`.
type OTLPInput struct {
	Toggle             `yaml:",inline"`
	ingest.OTLPOptions `yaml:",inline"`
}

func (in *Inputs) validate(add func(prefix string, err error)) {
	add("inputs.json", jsonevent.ValidateAll(in.JSON))
	add("inputs.mqtt", mqtt.ValidateInputs(in.MQTT))
	names := map[string]bool{}
	for _, j := range in.JSON {
		names[j.Name] = true
	}
	for i, m := range in.MQTT {
		for k, t := range m.Topics {
			if t.Format == mqtt.FormatJSON && !names[t.Input] {
				add(fmt.Sprintf("inputs.mqtt[%d].topics[%d].input", i, k),
					fmt.Errorf("no JSON input named %q in inputs.json", t.Input))
			}
		}
	}
}
