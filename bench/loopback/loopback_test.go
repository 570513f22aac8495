package loopback

import (
	"strings"
	"testing"
)

func TestCheckURL(t *testing.T) {
	tests := []struct {
		url  string
		want string // error substring; "" for accepted
	}{
		{"http://127.0.0.1:9201/api/v1/write", ""},
		{"http://127.1.2.3/api/v1/write", ""},
		{"https://localhost:9201/api/v1/write", ""},
		{"http://LOCALHOST./x", ""},
		{"http://[::1]:9201/api/v1/write", ""},
		{"http://[::ffff:127.0.0.1]:9201/", ""},
		{"http://10.0.0.1:9201/api/v1/write", `host "10.0.0.1" is not a loopback address (127.0.0.0/8, ::1 or localhost)`},
		{"http://example.com/api/v1/write", `refusing to send to -url "http://example.com/api/v1/write": host "example.com" is not a loopback`},
		{"http://localhost.example.com/", `host "localhost.example.com" is not a loopback`},
		{"http://127.0.0.1.nip.io/", `host "127.0.0.1.nip.io" is not a loopback`},
		{"http://0.0.0.0:9201/", `host "0.0.0.0" is not a loopback`},
		{"http://[::]:9201/", `host "::" is not a loopback`},
		{"ftp://127.0.0.1/", `scheme must be http or https`},
		{"127.0.0.1:9201", `cannot parse -url`},
		{"localhost:9201/api/v1/write", `scheme must be http or https`},
		{"http://%zz", `cannot parse -url`},
	}
	for _, tc := range tests {
		err := CheckURL(tc.url)
		switch {
		case tc.want == "" && err != nil:
			t.Errorf("%s: unexpected error %v", tc.url, err)
		case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
			t.Errorf("%s: got %v, want an error containing %q", tc.url, err, tc.want)
		}
	}
}

func TestIsLoopbackHost(t *testing.T) {
	for host, want := range map[string]bool{
		"127.0.0.1": true, "::1": true, "localhost": true, "127.9.9.9": true,
		"": false, "0.0.0.0": false, "192.168.1.1": false, "localhost.localdomain": false,
	} {
		if got := IsLoopbackHost(host); got != want {
			t.Errorf("IsLoopbackHost(%q) = %v, want %v", host, got, want)
		}
	}
}
