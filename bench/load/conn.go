package load

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// sender posts request bodies. Each worker owns one; not safe for
// concurrent use.
type sender interface {
	post(body []byte) (code int, msg string, err error)
	close()
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
}

// headersFor returns the content headers of requests in protocol.
func headersFor(protocol string) [][2]string {
	switch protocol {
	case ProtocolJSON:
		return [][2]string{{"Content-Type", "application/x-ndjson"}}
	case ProtocolInflux:
		return [][2]string{{"Content-Type", "text/plain; charset=utf-8"}}
	}
	return [][2]string{
		{"Content-Type", "application/x-protobuf"},
		{"Content-Encoding", "snappy"},
		{"X-Prometheus-Remote-Write-Version", "0.1.0"},
	}
}

func newConnSender(rawURL string, timeout time.Duration, headers [][2]string) (*connSender, error) {
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
	for _, kv := range headers {
		h.WriteString(kv[0] + ": " + kv[1] + "\r\n")
	}
	h.WriteString("Content-Length: ")
	return &connSender{addr: addr, timeout: timeout, header: []byte(h.String())}, nil
}

func (s *connSender) post(body []byte) (int, string, error) {
	if s.conn == nil {
		c, err := net.DialTimeout("tcp", s.addr, s.timeout)
		if err != nil {
			return 0, "", err
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
		return 0, "", err
	}
	s.scratch = append(s.scratch[:0], s.header...)
	s.scratch = strconv.AppendInt(s.scratch, int64(len(body)), 10)
	s.scratch = append(s.scratch, "\r\n\r\n"...)
	bufs := net.Buffers{s.scratch, body}
	if _, err := bufs.WriteTo(s.conn); err != nil {
		s.close()
		return 0, "", err
	}
	resp, err := http.ReadResponse(s.br, nil)
	if err != nil {
		s.close()
		return 0, "", err
	}
	var msg string
	if resp.StatusCode/100 != 2 {
		text, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		msg, _, _ = strings.Cut(strings.TrimSpace(string(text)), "\n")
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if err != nil || resp.Close {
		s.close()
	}
	return resp.StatusCode, msg, nil
}

func (s *connSender) close() {
	if s.conn != nil {
		_ = s.conn.Close()
		s.conn = nil
	}
}

// httpSender posts with an http.Client (Options.Client).
type httpSender struct {
	url     string
	headers [][2]string
	client  *http.Client
}

func (s *httpSender) post(body []byte) (int, string, error) {
	// A copy: the Transport may still read the body after Do returns (an
	// early answer), when the caller already renders the next one.
	req, err := http.NewRequest(http.MethodPost, s.url, bytes.NewReader(bytes.Clone(body)))
	if err != nil {
		return 0, "", err
	}
	for _, kv := range s.headers {
		req.Header.Set(kv[0], kv[1])
	}
	req.Header.Set("User-Agent", "premetrics-loadgen")
	resp, err := s.client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var msg string
	if resp.StatusCode/100 != 2 {
		text, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		msg, _, _ = strings.Cut(strings.TrimSpace(string(text)), "\n")
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, msg, nil
}

func (s *httpSender) close() {}
