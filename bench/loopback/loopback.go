package loopback

import (
	"fmt"
	"net"
	"net/url"
	"strings"
)

// CheckURL returns nil when raw is an http or https URL whose host is a
// loopback address, and otherwise an error naming the -url flag, the URL
// and the host.
func CheckURL(raw string) error {
	u, err := url.Parse(raw)
	if err != nil {
		return fmt.Errorf("cannot parse -url %q: %w", raw, err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return fmt.Errorf("-url %q: scheme must be http or https", raw)
	}
	if IsLoopbackHost(u.Hostname()) {
		return nil
	}
	return fmt.Errorf("refusing to send to -url %q: host %q is not a loopback address (127.0.0.0/8, ::1 or localhost)", raw, u.Hostname())
}

// IsLoopbackHost reports whether host (a name or an IP address without
// port or brackets) is "localhost" or a loopback IP address.
func IsLoopbackHost(host string) bool {
	if strings.EqualFold(strings.TrimSuffix(host, "."), "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}
