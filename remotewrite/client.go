package remotewrite

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/config"
)

// Client sends one remote-write request. compressed is a snappy-compressed
// prometheus.WriteRequest holding samples samples; it is only valid during
// the call. Store returns nil when the receiver accepted the request, a
// *RecoverableError when the same request should be retried later, a
// *StatusError (possibly wrapped) when the receiver refused it, or any
// other error, which drops the request. Store must return promptly once ctx
// is done. Calls for different shards run concurrently.
type Client interface {
	Store(ctx context.Context, compressed []byte, samples int) error
}

// RecoverableError marks a failure after which the request should be sent
// again: 5xx, 429 (when retry_on_http_429), network errors and timeouts.
// RetryAfter, when > 0, is how long the receiver asked to wait. Checked
// with errors.As.
type RecoverableError struct {
	Err        error
	RetryAfter time.Duration
}

func (e *RecoverableError) Error() string { return e.Err.Error() }
func (e *RecoverableError) Unwrap() error { return e.Err }

// StatusError is a non-2xx answer of the receiver. Message is the start of
// the response body.
type StatusError struct {
	Code    int
	Message string
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("server returned HTTP status %d %s: %s", e.Code, http.StatusText(e.Code), e.Message)
}

// ErrStopped is returned (wrapped) by Enqueue once Stop has begun.
var ErrStopped = errors.New("remote write queue is stopped")

const (
	maxErrorMessage  = 512     // bytes of a response body kept in StatusError
	maxDrainBody     = 1 << 20 // bytes read to let a connection be reused
	maxRetryAfter    = time.Hour
	userAgentProduct = "premetrics"
)

// httpClient is the Client used in production: one *http.Client (and so
// one Transport with keep-alive connections) per Queue.
type httpClient struct {
	url        string
	client     *http.Client
	timeout    time.Duration
	headers    http.Header
	retryOn429 bool
	requests   *prometheus.CounterVec // {code}, curried with the endpoint
}

func newHTTPClient(cfg *Config, userAgent string, requests *prometheus.CounterVec) (*httpClient, error) {
	hc, err := config.NewClientFromConfig(cfg.HTTPClientConfig, "remote_write", config.WithUserAgent(userAgent))
	if err != nil {
		return nil, fmt.Errorf("cannot create HTTP client: %w", err)
	}
	h := http.Header{}
	for k, v := range cfg.Headers {
		h.Set(k, v)
	}
	h.Set("Content-Encoding", "snappy")
	h.Set("Content-Type", "application/x-protobuf")
	h.Set("X-Prometheus-Remote-Write-Version", "0.1.0")
	h.Set("User-Agent", userAgent)
	return &httpClient{
		url:        cfg.URL,
		client:     hc,
		timeout:    time.Duration(cfg.RemoteTimeout),
		headers:    h,
		retryOn429: cfg.QueueConfig.RetryOnRateLimit,
		requests:   requests,
	}, nil
}

func (c *httpClient) Store(ctx context.Context, compressed []byte, samples int) error {
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.url, bytes.NewReader(compressed))
	if err != nil {
		return fmt.Errorf("cannot create request: %w", err)
	}
	req.Header = c.headers.Clone()
	resp, err := c.client.Do(req)
	if err != nil {
		c.requests.WithLabelValues("error").Inc()
		return &RecoverableError{Err: fmt.Errorf("cannot send %d samples: %w", samples, err)}
	}
	defer func() {
		// Drain so the connection goes back to the pool.
		_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, maxDrainBody))
		_ = resp.Body.Close()
	}()
	c.requests.WithLabelValues(strconv.Itoa(resp.StatusCode)).Inc()
	if resp.StatusCode/100 == 2 {
		return nil
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorMessage))
	serr := &StatusError{Code: resp.StatusCode, Message: strings.TrimSpace(string(body))}
	if resp.StatusCode/100 == 5 || (resp.StatusCode == http.StatusTooManyRequests && c.retryOn429) {
		return &RecoverableError{Err: serr, RetryAfter: parseRetryAfter(resp.Header.Get("Retry-After"), time.Now())}
	}
	return serr
}

// CloseIdleConnections closes kept-alive connections; Stop calls it.
func (c *httpClient) CloseIdleConnections() { c.client.CloseIdleConnections() }

// parseRetryAfter reads a Retry-After value: delay-seconds or an HTTP date.
// It returns 0 (use the normal backoff) when the value is absent, invalid,
// zero or in the past, and at most maxRetryAfter.
func parseRetryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	var d time.Duration
	if secs, err := strconv.ParseInt(v, 10, 64); err == nil {
		if secs <= 0 {
			return 0
		}
		if secs > int64(maxRetryAfter/time.Second) {
			return maxRetryAfter
		}
		d = time.Duration(secs) * time.Second
	} else if t, err := http.ParseTime(v); err == nil {
		d = t.Sub(now)
	}
	return min(max(d, 0), maxRetryAfter)
}
