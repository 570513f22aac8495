package derive

import (
	"time"

	"github.com/prometheus/common/model"
)

// Config is one entry of the top-level `derive:` list: a record evaluated
// at each window close over the outputs of that window.
//
//	derive:
//	  - record: video_errors:1m_by_title_ratio
//	    expr: video_errors:1m_by_title_sum_samples / video_views:1m_by_title_sum_samples
//	  - record: video_errors:1m_by_title_ratio_anomaly_score
//	    expr: video_errors:1m_by_title_ratio
//	    anomaly: {alpha: 0.1, min_history: 10}
type Config struct {
	Record string            `yaml:"record"` // the metric name of the result
	Expr   string            `yaml:"expr"`   // PromQL subset (see the package doc)
	Labels map[string]string `yaml:"labels"` // added to every result series
	// Anomaly, when set, emits for each result series its score against
	// that series' own history instead of the value.
	Anomaly *Anomaly `yaml:"anomaly"`
}

// Anomaly configures the in-stream anomaly score of a record.
type Anomaly struct {
	// Alpha is the weight of the newest window in the exponentially
	// weighted mean and variance of a series' history; default 0.1.
	Alpha *float64 `yaml:"alpha"`
	// MinHistory is how many windows a series needs in its history before
	// it is scored; default 10. Sparse series stay quiet until then.
	MinHistory *int `yaml:"min_history"`
	// Forget drops the history of a series absent this long; default 1h.
	Forget *model.Duration `yaml:"forget"`
}

// Defaults of Anomaly and of Options.
const (
	DefaultAlpha             = 0.1
	DefaultMinHistory        = 10
	DefaultForget            = model.Duration(time.Hour)
	DefaultMaxObservedSeries = 1_000_000
	DefaultMaxAnomalySeries  = 100_000
)

// anomalyParams are the resolved settings of an Anomaly.
type anomalyParams struct {
	alpha      float64
	minHistory int
	forget     int64 // ms
}

func (a *Anomaly) params() anomalyParams {
	p := anomalyParams{alpha: DefaultAlpha, minHistory: DefaultMinHistory, forget: time.Duration(DefaultForget).Milliseconds()}
	if a.Alpha != nil {
		p.alpha = *a.Alpha
	}
	if a.MinHistory != nil {
		p.minHistory = *a.MinHistory
	}
	if a.Forget != nil {
		p.forget = time.Duration(*a.Forget).Milliseconds()
	}
	return p
}
