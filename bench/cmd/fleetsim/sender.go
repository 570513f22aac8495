package main

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Retry bounds.
const (
	minBackoff   = 100 * time.Millisecond
	maxBackoff   = 5 * time.Second
	maxRetryWait = 30 * time.Second // cap on a server's Retry-After
	maxErrorLogs = 5                // detailed failure lines printed
)

// job is one request.
type job struct {
	body    []byte
	samples int
}

// stats are the counters shared by the senders and the progress printer.
type stats struct {
	requests, lateRequests, attempts, retries, failed atomic.Int64
	samplesGenerated, samplesSent, samplesFailed      atomic.Int64
	bodyBytes                                         atomic.Int64

	mu     sync.Mutex
	status map[string]int64 // every response by code, "error" for transport errors
}

func (s *stats) countStatus(code string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.status == nil {
		s.status = map[string]int64{}
	}
	s.status[code]++
}

func (s *stats) statusCounts() map[string]int64 {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make(map[string]int64, len(s.status))
	for k, v := range s.status {
		out[k] = v
	}
	return out
}

// sender posts requests, retrying 429, 5xx and transport errors with
// bounded backoff that honours Retry-After.
type sender struct {
	url     string
	headers [][2]string // set on every request
	client  *http.Client
	retries int
	stats   *stats
	log     io.Writer
	logged  atomic.Int64
}

func (s *sender) send(j job) {
	for attempt := 0; ; attempt++ {
		code, retryAfter, msg, err := s.post(j.body)
		s.stats.attempts.Add(1)
		status := strconv.Itoa(code)
		if err != nil {
			status, msg = "error", err.Error()
		}
		s.stats.countStatus(status)
		if err == nil && code/100 == 2 {
			s.stats.samplesSent.Add(int64(j.samples))
			return
		}
		retryable := err != nil || code == http.StatusTooManyRequests || code >= 500
		if !retryable || attempt >= s.retries {
			s.stats.failed.Add(1)
			s.stats.samplesFailed.Add(int64(j.samples))
			if s.logged.Add(1) <= maxErrorLogs {
				fmt.Fprintf(s.log, "fleetsim: request of %d samples failed after %d attempts: %s: %s\n", j.samples, attempt+1, status, msg)
			}
			return
		}
		s.stats.retries.Add(1)
		wait := retryAfter
		if wait <= 0 {
			wait = min(minBackoff<<attempt, maxBackoff)
		}
		time.Sleep(min(wait, maxRetryWait))
	}
}

// post sends body once and returns the status code, the Retry-After hint
// and the first line of an error response.
func (s *sender) post(body []byte) (code int, retryAfter time.Duration, msg string, err error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return 0, 0, "", err
	}
	for _, h := range s.headers {
		req.Header.Set(h[0], h[1])
	}
	req.Header.Set("User-Agent", "premetrics-fleetsim")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, 0, "", err
	}
	defer resp.Body.Close()
	text, _ := io.ReadAll(io.LimitReader(resp.Body, 1024))
	_, _ = io.Copy(io.Discard, resp.Body)
	first, _, _ := strings.Cut(string(text), "\n")
	return resp.StatusCode, parseRetryAfter(resp.Header.Get("Retry-After"), time.Now()), first, nil
}

// remoteWriteHeaders are the headers of a remote write 1.0 request.
var remoteWriteHeaders = [][2]string{
	{"Content-Type", "application/x-protobuf"},
	{"Content-Encoding", "snappy"},
	{"X-Prometheus-Remote-Write-Version", "0.1.0"},
}

// jsonHeaders are the headers of an NDJSON request.
func jsonHeaders(gzipped bool) [][2]string {
	h := [][2]string{{"Content-Type", "application/x-ndjson"}}
	if gzipped {
		h = append(h, [2]string{"Content-Encoding", "gzip"})
	}
	return h
}

// parseRetryAfter reads a Retry-After value in seconds or as an HTTP date;
// 0 when absent or invalid.
func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if secs, err := strconv.Atoi(v); err == nil {
		return time.Duration(max(secs, 0)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		return max(t.Sub(now), 0)
	}
	return 0
}
