package ingest

import (
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/influx"
	"github.com/premetrics/premetrics/ingest/jsonevent"
	"github.com/premetrics/premetrics/ingest/otlp"
	"github.com/premetrics/premetrics/ingest/outcome"
	"github.com/premetrics/premetrics/ingest/promtext"
)

// Paths of the push protocols (see DESIGN.md).
const (
	InfluxV1Path       = "/write"
	InfluxV2Path       = "/api/v2/write"
	InfluxQueryPath    = "/query" // answered for Telegraf's CREATE DATABASE
	InfluxPingPath     = "/ping"
	OTLPPath           = "/v1/metrics"
	PrometheusTextPath = "/api/v1/import/prometheus"
	JSONPathPrefix     = "/api/v1/push/"
)

// Protocol label values of the push protocols.
const (
	ProtocolInflux         = "influx"
	ProtocolOTLP           = "otlp"
	ProtocolPrometheusText = "prometheus_text"
	ProtocolJSON           = "json"
)

// InfluxProtocol is Influx line protocol (Telegraf's influxdb and
// influxdb_v2 outputs): the precision query parameter sets the unit of
// timestamps (v1 n|u|ms|s|m|h, v2 ns|us|ms|s; nanoseconds by default);
// db, org and bucket are ignored.
func InfluxProtocol() Protocol {
	return Protocol{
		Name: ProtocolInflux,
		Check: func(r *http.Request) (any, int, string) {
			p, err := influx.ParsePrecision(r.URL.Query().Get("precision"))
			if err != nil {
				return nil, http.StatusBadRequest, err.Error()
			}
			return p, 0, ""
		},
		Decode: func(parsed any, body []byte, b *batch.Batch, lim outcome.Limits, now int64, res *outcome.Result) error {
			return influx.Decode(body, b, lim, influx.Options{Precision: parsed.(influx.Precision), Now: now}, res)
		},
	}
}

// PrometheusTextProtocol is the Prometheus text exposition format;
// samples without a timestamp get the receive time.
func PrometheusTextProtocol() Protocol {
	return Protocol{
		Name: ProtocolPrometheusText,
		Decode: func(_ any, body []byte, b *batch.Batch, lim outcome.Limits, now int64, res *outcome.Result) error {
			return promtext.Decode(body, b, lim, promtext.Options{Now: now}, res)
		},
	}
}

// OTLPOptions configure the OTLP/HTTP metrics endpoint.
type OTLPOptions struct {
	// PromoteResourceAttributes are resource attributes copied as labels
	// onto every series of their resource.
	PromoteResourceAttributes []string `yaml:"promote_resource_attributes"`
}

// OTLPProtocol is OTLP/HTTP metrics, protobuf or JSON by Content-Type.
// As OTLP requires, a well-formed request is answered 200 with an
// ExportMetricsServiceResponse, whose partial_success reports rejected
// data points.
func OTLPProtocol(o OTLPOptions) Protocol {
	attrs := slices.Clone(o.PromoteResourceAttributes)
	var bufs sync.Pool // *[]byte response bodies
	bufs.New = func() any { return new([]byte) }
	return Protocol{
		Name: ProtocolOTLP,
		Check: func(r *http.Request) (any, int, string) {
			switch mediaType(r.Header.Get("Content-Type")) {
			case "application/x-protobuf", "application/protobuf":
				return otlp.Protobuf, 0, ""
			case "application/json":
				return otlp.JSON, 0, ""
			}
			return nil, http.StatusUnsupportedMediaType, fmt.Sprintf(
				"unsupported Content-Type %q: OTLP/HTTP takes application/x-protobuf or application/json", r.Header.Get("Content-Type"))
		},
		Decode: func(parsed any, body []byte, b *batch.Batch, lim outcome.Limits, now int64, res *outcome.Result) error {
			opts := otlp.Options{PromoteResourceAttributes: attrs, Now: now}
			if parsed.(otlp.Encoding) == otlp.JSON {
				return otlp.DecodeJSON(body, b, lim, opts, res)
			}
			return otlp.DecodeProto(body, b, lim, opts, res)
		},
		Reply: func(w http.ResponseWriter, r *http.Request, code int, msg string) int {
			// OTLP/HTTP: the body of a 4xx or 5xx is a google.rpc.Status,
			// in the request's encoding (protobuf when it is not JSON).
			enc := otlp.Protobuf
			if mediaType(r.Header.Get("Content-Type")) == "application/json" {
				enc = otlp.JSON
			}
			buf := bufs.Get().(*[]byte)
			*buf = otlp.AppendStatus((*buf)[:0], enc, grpcCode(code), msg)
			h := w.Header()
			h.Set("Content-Type", enc.ContentType())
			h.Del("Content-Length")
			w.WriteHeader(code)
			_, _ = w.Write(*buf)
			bufs.Put(buf)
			return code
		},
		Respond: func(w http.ResponseWriter, _ *http.Request, parsed any, res *outcome.Result) int {
			enc := parsed.(otlp.Encoding)
			buf := bufs.Get().(*[]byte)
			*buf = otlp.AppendResponse((*buf)[:0], enc, res)
			w.Header().Set("Content-Type", enc.ContentType())
			w.WriteHeader(http.StatusOK)
			_, _ = w.Write(*buf)
			bufs.Put(buf)
			return http.StatusOK
		},
	}
}

// grpcCode is the gRPC status code OTLP pairs with an HTTP status.
func grpcCode(httpCode int) int32 {
	switch httpCode {
	case http.StatusBadRequest, http.StatusNotFound, http.StatusMethodNotAllowed, http.StatusUnsupportedMediaType:
		return 3 // INVALID_ARGUMENT
	case http.StatusRequestEntityTooLarge, http.StatusTooManyRequests:
		return 8 // RESOURCE_EXHAUSTED
	case http.StatusServiceUnavailable:
		return 14 // UNAVAILABLE
	case statusClientClosed:
		return 1 // CANCELLED
	}
	return 2 // UNKNOWN
}

// JSONInputs holds the compiled JSON input mappings by name. It is safe
// for concurrent use; Set replaces them all at once (on reload).
type JSONInputs struct {
	m atomic.Pointer[map[string]*jsonevent.Mapping]
}

// NewJSONInputs returns the inputs of mappings.
func NewJSONInputs(mappings []*jsonevent.Mapping) *JSONInputs {
	in := &JSONInputs{}
	in.Set(mappings)
	return in
}

// Set replaces the mappings.
func (in *JSONInputs) Set(mappings []*jsonevent.Mapping) {
	m := make(map[string]*jsonevent.Mapping, len(mappings))
	for _, x := range mappings {
		m[x.Name()] = x
	}
	in.m.Store(&m)
}

// Get returns the mapping called name, or nil.
func (in *JSONInputs) Get(name string) *jsonevent.Mapping { return (*in.m.Load())[name] }

// Names returns the names of the mappings, sorted.
func (in *JSONInputs) Names() []string {
	m := *in.m.Load()
	names := make([]string, 0, len(m))
	for n := range m {
		names = append(names, n)
	}
	slices.Sort(names)
	return names
}

// JSONProtocol is JSON device events at JSONPathPrefix + {name}, mapped by
// the input of that name: 404 for a name no input has.
func JSONProtocol(inputs *JSONInputs) Protocol {
	return Protocol{
		Name: ProtocolJSON,
		Check: func(r *http.Request) (any, int, string) {
			name := strings.TrimPrefix(r.URL.Path, JSONPathPrefix)
			if m := inputs.Get(name); m != nil {
				return m, 0, ""
			}
			names := inputs.Names()
			if len(names) == 0 {
				return nil, http.StatusNotFound, fmt.Sprintf("no JSON input is configured (inputs.json), so %s has nothing to map events with", r.URL.Path)
			}
			return nil, http.StatusNotFound, fmt.Sprintf("no JSON input named %q (inputs.json has %s)", name, strings.Join(names, ", "))
		},
		Decode: func(parsed any, body []byte, b *batch.Batch, lim outcome.Limits, now int64, res *outcome.Result) error {
			s := jsonevent.GetScratch()
			defer jsonevent.PutScratch(s)
			return parsed.(*jsonevent.Mapping).Decode(body, b, lim, now, s, res)
		},
	}
}

// mediaType returns the lower-case media type of a Content-Type, without
// parameters.
func mediaType(ct string) string {
	if i := strings.IndexByte(ct, ';'); i >= 0 {
		ct = ct[:i]
	}
	return strings.ToLower(strings.TrimSpace(ct))
}

// influxPing answers Telegraf's and InfluxDB clients' health check.
func influxPing(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("X-Influxdb-Version", "1.8-compatible (premetrics)")
	w.WriteHeader(http.StatusNoContent)
}

// influxQuery answers the CREATE DATABASE that Telegraf's influxdb output
// sends before writing, with an empty result; premetrics has no databases.
func influxQuery(w http.ResponseWriter, _ *http.Request) {
	w.Header().Set("Content-Type", "application/json")
	_, _ = w.Write([]byte(`{"results":[{"statement_id":0}]}`))
}

// Inputs says which push protocols are served.
type Inputs struct {
	RemoteWrite    bool
	Influx         bool
	OTLP           bool
	OTLPOptions    OTLPOptions
	PrometheusText bool
	JSON           *JSONInputs // nil: none
}

// Register mounts the handlers of every enabled input on mux. They share
// one Gate, so max_concurrent_requests bounds them together.
func Register(mux *http.ServeMux, cfg Config, in Inputs, p Pipeline, m *Metrics, log *slog.Logger) {
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	gate := NewGate(cfg)
	if in.RemoteWrite {
		mux.Handle(RemoteWritePath, newRemoteWriteHandler(cfg, gate, p, m, log))
	}
	push := func(proto Protocol, paths ...string) {
		h := NewPushHandler(cfg, gate, proto, p, m, log)
		for _, path := range paths {
			mux.Handle(path, h)
		}
	}
	if in.Influx {
		push(InfluxProtocol(), InfluxV1Path, InfluxV2Path)
		mux.HandleFunc(InfluxPingPath, influxPing)
		mux.HandleFunc(InfluxQueryPath, influxQuery)
	}
	if in.OTLP {
		push(OTLPProtocol(in.OTLPOptions), OTLPPath)
	}
	if in.PrometheusText {
		push(PrometheusTextProtocol(), PrometheusTextPath)
	}
	if in.JSON != nil {
		push(JSONProtocol(in.JSON), JSONPathPrefix)
	}
}

// PayloadDecoder decodes message payloads (MQTT) of one format: "json",
// mapped by a JSON input, or "influx" (nanosecond timestamps). It is safe
// for concurrent use.
type PayloadDecoder struct {
	format, input string
	json          *JSONInputs
	lim           outcome.Limits
}

// NewPayloadDecoder returns the decoder of format; for "json", input names
// the JSON input, looked up in json on every payload so a reload applies.
func NewPayloadDecoder(format, input string, json *JSONInputs, lim outcome.Limits) (*PayloadDecoder, error) {
	switch format {
	case ProtocolInflux:
	case ProtocolJSON:
		if json == nil || json.Get(input) == nil {
			return nil, fmt.Errorf("no JSON input named %q", input)
		}
	default:
		return nil, fmt.Errorf("unknown payload format %q: want json or influx", format)
	}
	return &PayloadDecoder{format: format, input: input, json: json, lim: lim}, nil
}

// Decode decodes payload into b; now is the receive time in Unix ms.
func (d *PayloadDecoder) Decode(payload []byte, b *batch.Batch, now int64, res *outcome.Result) error {
	if d.format == ProtocolInflux {
		return influx.Decode(payload, b, d.lim, influx.Options{Precision: influx.Nanosecond, Now: now}, res)
	}
	m := d.json.Get(d.input)
	if m == nil {
		return outcome.Errorf(outcome.KindUnsupported, "", "the JSON input %q no longer exists", d.input)
	}
	s := jsonevent.GetScratch()
	defer jsonevent.PutScratch(s)
	return m.Decode(payload, b, d.lim, now, s, res)
}

// DecoderLimits returns the per-series and per-line limits c sets for
// every decoder.
func (c Config) DecoderLimits() outcome.Limits {
	c = c.withDefaults()
	return c.limits()
}

// SharedCounters returns premetrics_ingest_samples_total and
// premetrics_ingest_rejected_samples_total, for transports outside this
// package (MQTT) that count into them with their own protocol label.
func (m *Metrics) SharedCounters() (samples, rejected *prometheus.CounterVec) {
	return m.samples, m.rejected
}
