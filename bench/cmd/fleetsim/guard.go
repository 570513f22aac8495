package main

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// checkLoopback refuses any URL whose host is not a loopback address:
// the simulator is a load generator and must never aim at someone else.
// The host is parsed, not resolved: 127.0.0.0/8, ::1 and localhost pass.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("cannot parse -url %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("-url %q: scheme must be http or https", raw)
	}
	host := u.Hostname()
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return nil
	}
	if ip := net.ParseIP(host); ip != nil && ip.IsLoopback() {
		return nil
	}
	return fmt.Errorf("refusing to send to -url %q: host %q is not a loopback address (127.0.0.0/8, ::1 or localhost)", raw, host)
}
