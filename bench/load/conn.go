package load

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"
)

// sender posts request bodies. Each worker owns one; not safe for
// concurrent use.
type sender interface {
	post(body []byte) answer
	close()
}

// answer is the outcome of one request.
type answer struct {
	code int   // HTTP status; 0 when err is set
	err  error // no answer: connection refused, timeout, ...
	// rejected counts the samples of a 2xx answer that the receiver says
	// it rejected (an OTLP partial success); msg is its message, or the
	// first line of a non-2xx answer's body.
	rejected int
	msg      string
	acked    bool // an MQTT PUBACK
}

// statusPuback is the status of an acknowledged MQTT publish.
const statusPuback = "puback"

// maxAnswerBytes bounds what is read of a 2xx answer's body (OTLP).
const maxAnswerBytes = 64 << 10

// readAnswer fills a's message or, for an OTLP 2xx, its partial success
// from resp's body, reading into buf (which it returns, grown).
func readAnswer(a *answer, resp *http.Response, partial bool, buf []byte) ([]byte, error) {
	if resp.StatusCode/100 != 2 {
		text, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		a.msg, _, _ = strings.Cut(strings.TrimSpace(string(text)), "\n")
		return buf, nil
	}
	if !partial {
		return buf, nil
	}
	buf = buf[:0]
	for {
		if len(buf) == cap(buf) {
			if len(buf) >= maxAnswerBytes {
				break
			}
			buf = slices.Grow(buf, 512)
		}
		n, err := resp.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			break
		}
		if err != nil {
			return buf, err
		}
	}
	rejected, msg, err := parseExportResponse(buf)
	if err != nil {
		// The samples were taken (200), but what was rejected is unknown.
		a.msg = err.Error()
		return buf, nil
	}
	a.rejected, a.msg = int(rejected), msg
	return buf, nil
}

// connSender is a minimal HTTP/1.1 client on one keep-alive connection:
// it writes the header and the body with one writev and parses the answer
// with http.ReadResponse on the same goroutine. Compared with net/http's
// Transport (a reader and a writer goroutine per connection, channels
// between them) it saves several goroutine wake-ups per request, which is
// most of a load generator's CPU on a small machine.
type connSender struct {
	addr    string // host:port to dial
	timeout time.Duration
	header  []byte // request line and headers up to "Content-Length: "
	scratch []byte
	conn    net.Conn
	br      *bufio.Reader
	// partial: 2xx answers carry an OTLP ExportMetricsServiceResponse,
	// read into resp.
	partial bool
	resp    []byte
}

// headersFor returns the content headers of requests in protocol.
func headersFor(protocol string) [][2]string {
	switch protocol {
	case ProtocolJSON:
		return [][2]string{{"Content-Type", "application/x-ndjson"}}
	case ProtocolInflux:
		return [][2]string{{"Content-Type", "text/plain; charset=utf-8"}}
	case ProtocolOTLP:
		return [][2]string{{"Content-Type", "application/x-protobuf"}}
	case ProtocolPrometheusText:
		return [][2]string{{"Content-Type", "text/plain; version=0.0.4; charset=utf-8"}}
	}
	return [][2]string{
		{"Content-Type", "application/x-protobuf"},
		{"Content-Encoding", "snappy"},
		{"X-Prometheus-Remote-Write-Version", "0.1.0"},
	}
}

func newConnSender(rawURL string, timeout time.Duration, protocol string) (*connSender, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("cannot parse -url %q: %w", rawURL, err)
	}
	if u.Scheme != "http" {
		return nil, fmt.Errorf("-url %q: the built-in client speaks plain http only", rawURL)
	}
	addr := u.Host
	if u.Port() == "" {
		addr = net.JoinHostPort(u.Hostname(), "80")
	}
	var h strings.Builder
	fmt.Fprintf(&h, "POST %s HTTP/1.1\r\nHost: %s\r\n", u.RequestURI(), u.Host)
	h.WriteString("User-Agent: premetrics-loadgen\r\n")
	for _, kv := range headersFor(protocol) {
		h.WriteString(kv[0] + ": " + kv[1] + "\r\n")
	}
	h.WriteString("Content-Length: ")
	return &connSender{addr: addr, timeout: timeout, header: []byte(h.String()), partial: protocol == ProtocolOTLP}, nil
}

func (s *connSender) post(body []byte) answer {
	if s.conn == nil {
		c, err := net.DialTimeout("tcp", s.addr, s.timeout)
		if err != nil {
			return answer{err: err}
		}
		s.conn = c
		if s.br == nil {
			s.br = bufio.NewReaderSize(c, 4096)
		} else {
			s.br.Reset(c)
		}
	}
	if err := s.conn.SetDeadline(time.Now().Add(s.timeout)); err != nil {
		s.close()
		return answer{err: err}
	}
	s.scratch = append(s.scratch[:0], s.header...)
	s.scratch = strconv.AppendInt(s.scratch, int64(len(body)), 10)
	s.scratch = append(s.scratch, "\r\n\r\n"...)
	bufs := net.Buffers{s.scratch, body}
	if _, err := bufs.WriteTo(s.conn); err != nil {
		s.close()
		return answer{err: err}
	}
	resp, err := http.ReadResponse(s.br, nil)
	if err != nil {
		s.close()
		return answer{err: err}
	}
	a := answer{code: resp.StatusCode}
	s.resp, err = readAnswer(&a, resp, s.partial, s.resp)
	if err == nil {
		_, err = io.Copy(io.Discard, resp.Body)
	}
	_ = resp.Body.Close()
	if err != nil || resp.Close {
		s.close()
	}
	return a
}

func (s *connSender) close() {
	if s.conn != nil {
		_ = s.conn.Close()
		s.conn = nil
	}
}

// httpSender posts with an http.Client (Options.Client).
type httpSender struct {
	url      string
	protocol string
	client   *http.Client
	resp     []byte
}

func (s *httpSender) post(body []byte) answer {
	// A copy: the Transport may still read the body after Do returns (an
	// early answer), when the caller already renders the next one.
	req, err := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(bytes.Clone(body)))
	if err != nil {
		return answer{err: err}
	}
	for _, kv := range headersFor(s.protocol) {
		req.Header.Set(kv[0], kv[1])
	}
	req.Header.Set("User-Agent", "premetrics-loadgen")
	resp, err := s.client.Do(req)
	if err != nil {
		return answer{err: err}
	}
	defer resp.Body.Close()
	a := answer{code: resp.StatusCode}
	s.resp, _ = readAnswer(&a, resp, s.protocol == ProtocolOTLP, s.resp)
	_, _ = io.Copy(io.Discard, resp.Body)
	return a
}

func (s *httpSender) close() {}
