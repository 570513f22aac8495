package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/premetrics/premetrics/bench/fleet"
	"github.com/premetrics/premetrics/bench/loopback"
)

// Protocols of -protocol.
const (
	protocolJSON        = "json"
	protocolRemoteWrite = "remote_write"
)

// Default URLs by protocol.
const (
	defaultJSONURL        = "http://127.0.0.1:9201/api/v1/push/vehicles"
	defaultRemoteWriteURL = "http://127.0.0.1:9201/api/v1/write"
)

// options are the command-line settings.
type options struct {
	Protocol     string
	URL          string
	Gzip         bool
	Vehicles     int
	Interval     time.Duration
	Duration     time.Duration
	Seed         uint64
	Batch        int
	Concurrency  int
	LateFraction float64
	LateDelay    time.Duration
	Retries      int
	Timeout      time.Duration
	Progress     time.Duration
	TruthWindow  time.Duration
	NoModelLabel bool
}

// defaults fills in the URL of the protocol.
func (o *options) defaults() {
	if o.URL != "" {
		return
	}
	o.URL = defaultJSONURL
	if o.Protocol == protocolRemoteWrite {
		o.URL = defaultRemoteWriteURL
	}
}

func (o *options) validate() error {
	if o.Protocol != protocolJSON && o.Protocol != protocolRemoteWrite {
		return fmt.Errorf("-protocol: must be %q or %q, got %q", protocolJSON, protocolRemoteWrite, o.Protocol)
	}
	if o.Gzip && o.Protocol != protocolJSON {
		return fmt.Errorf("-gzip: only with -protocol %s (remote write is always snappy)", protocolJSON)
	}
	if err := loopback.CheckURL(o.URL); err != nil {
		return err
	}
	switch {
	case o.Vehicles <= 0:
		return fmt.Errorf("-vehicles: must be > 0, got %d", o.Vehicles)
	case o.Interval <= 0 || o.Interval%time.Millisecond != 0:
		return fmt.Errorf("-interval: must be a positive whole number of milliseconds, got %s", o.Interval)
	case o.Duration < o.Interval:
		return fmt.Errorf("-duration: must be at least -interval (%s), got %s", o.Interval, o.Duration)
	case o.Batch <= 0:
		return fmt.Errorf("-batch: must be > 0, got %d", o.Batch)
	case o.Concurrency <= 0:
		return fmt.Errorf("-concurrency: must be > 0, got %d", o.Concurrency)
	case o.LateFraction < 0 || o.LateFraction > 1:
		return fmt.Errorf("-late-fraction: must be in [0, 1], got %v", o.LateFraction)
	case o.LateDelay < 0:
		return fmt.Errorf("-late-delay: must be >= 0, got %s", o.LateDelay)
	case o.Retries < 0:
		return fmt.Errorf("-retries: must be >= 0, got %d", o.Retries)
	case o.TruthWindow <= 0 || o.TruthWindow%time.Millisecond != 0:
		return fmt.Errorf("-truth-window: must be a positive whole number of milliseconds, got %s", o.TruthWindow)
	}
	return nil
}

// encoder turns readings into request bodies: fleet.EventEncoder (JSON)
// or fleet.Encoder (remote write).
type encoder interface {
	Add(fleet.Reading)
	Len() int
	Encode(n int) (body []byte, samples int, err error)
}

// run simulates the fleet for o.Duration of wall-clock time, sending each
// interval's readings as JSON events or remote write requests, and
// returns the summary. Cancelling ctx stops generating; requests already
// made are still sent.
func run(ctx context.Context, o options, client *http.Client, out io.Writer) (*summary, error) {
	o.defaults()
	if err := o.validate(); err != nil {
		return nil, err
	}
	// JSON events never carry the model, so the ground truth is per region.
	noModel := o.NoModelLabel || o.Protocol == protocolJSON
	f := fleet.New(fleet.Options{Vehicles: o.Vehicles, Seed: o.Seed, NoModelLabel: noModel})
	var enc encoder
	headers := remoteWriteHeaders
	if o.Protocol == protocolJSON {
		enc = fleet.NewEventEncoder(f, fleet.EventOptions{Gzip: o.Gzip})
		headers = jsonHeaders(o.Gzip)
	} else {
		enc = fleet.NewEncoder(f)
	}
	truth := fleet.NewTruth(f, o.TruthWindow)
	lateRNG := rand.New(rand.NewPCG(o.Seed, 0x1a7e))
	st := &stats{}
	snd := &sender{url: o.URL, headers: headers, client: client, retries: o.Retries, stats: st, log: out}

	jobs := make(chan job, 2*o.Concurrency)
	var workers, delayed sync.WaitGroup
	for range o.Concurrency {
		workers.Go(func() {
			for j := range jobs {
				snd.send(j)
			}
		})
	}
	submit := func(body []byte, samples int) {
		st.requests.Add(1)
		st.samplesGenerated.Add(int64(samples))
		st.bodyBytes.Add(int64(len(body)))
		j := job{body: body, samples: samples}
		if o.LateFraction > 0 && lateRNG.Float64() < o.LateFraction {
			st.lateRequests.Add(1)
			delayed.Add(1)
			time.AfterFunc(o.LateDelay, func() {
				defer delayed.Done()
				jobs <- j
			})
			return
		}
		jobs <- j
	}

	began := time.Now()
	stopProgress := startProgress(o.Progress, began, st, out)
	start := began.Truncate(o.Interval)
	ticks := int(o.Duration / o.Interval)
	var readings []fleet.Reading
	var runErr error
	done := 0
	timer := time.NewTimer(0)
	<-timer.C
loop:
	for k := 1; k <= ticks; k++ {
		due := start.Add(time.Duration(k) * o.Interval)
		if wait := time.Until(due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-timer.C:
			case <-ctx.Done():
				break loop
			}
		}
		from := due.Add(-o.Interval).UnixMilli()
		readings = f.Tick(from, o.Interval, readings)
		truth.Observe(readings)
		truth.Cover(from, due.UnixMilli())
		for _, r := range readings {
			enc.Add(r)
			for enc.Len() >= o.Batch {
				if runErr = flush(enc, o.Batch, submit); runErr != nil {
					break loop
				}
			}
		}
		if enc.Len() > 0 {
			if runErr = flush(enc, 0, submit); runErr != nil {
				break loop
			}
		}
		done++
	}
	delayed.Wait()
	close(jobs)
	workers.Wait()
	stopProgress()

	s := newSummary(o, st, done, time.Since(began), truth)
	if runErr == nil && ctx.Err() != nil {
		runErr = fmt.Errorf("interrupted after %d of %d ticks: %w", done, ticks, ctx.Err())
	}
	return s, runErr
}

func flush(enc encoder, n int, submit func([]byte, int)) error {
	body, series, err := enc.Encode(n)
	if err != nil {
		return err
	}
	submit(body, series)
	return nil
}

// startProgress prints a progress line every interval until stopped.
func startProgress(every time.Duration, began time.Time, st *stats, out io.Writer) (stop func()) {
	if every <= 0 {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case now := <-t.C:
				fmt.Fprintf(out, "fleetsim: %s: %d requests, %d samples sent, %d failed, %d retries; responses %s\n",
					now.Sub(began).Round(time.Second), st.requests.Load(), st.samplesSent.Load(),
					st.samplesFailed.Load(), st.retries.Load(), formatCounts(st.statusCounts()))
			}
		}
	})
	return func() {
		close(done)
		wg.Wait()
	}
}

// formatCounts renders status counts sorted by code: "204=10 429=2".
func formatCounts(m map[string]int64) string {
	if len(m) == 0 {
		return "none"
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var sb strings.Builder
	for i, k := range keys {
		if i > 0 {
			sb.WriteByte(' ')
		}
		fmt.Fprintf(&sb, "%s=%d", k, m[k])
	}
	return sb.String()
}

var errFailedRequests = errors.New("some requests were not accepted")
