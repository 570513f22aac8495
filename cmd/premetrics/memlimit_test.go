package main

import (
	"strings"
	"testing"
	"testing/fstest"
)

func TestResolveMemoryLimit(t *testing.T) {
	cgroupV1 := fstest.MapFS{
		"proc/self/cgroup": {Data: []byte("9:name=systemd:/\n4:cpu,memory:/job/7\n0::/\n")},
		"sys/fs/cgroup/memory/job/7/memory.limit_in_bytes": {Data: []byte("2147483648\n")},
		"sys/fs/cgroup/memory/memory.limit_in_bytes":       {Data: []byte("9223372036854771712\n")},
		"proc/meminfo": {Data: []byte("MemFree: 1 kB\nMemTotal:       24683656 kB\n")},
	}
	cgroupV2 := fstest.MapFS{
		"proc/self/cgroup":                 {Data: []byte("0::/\n")},
		"sys/fs/cgroup/memory.max":         {Data: []byte("1000000000\n")},
		"proc/meminfo":                     {Data: []byte("MemTotal: 1000 kB\n")},
		"sys/fs/cgroup/memory/ignored.txt": {Data: nil},
	}
	unlimited := fstest.MapFS{
		"proc/self/cgroup":         {Data: []byte("0::/user.slice\n")},
		"sys/fs/cgroup/memory.max": {Data: []byte("max\n")},
		"proc/meminfo":             {Data: []byte("MemTotal: 1000 kB\n")},
	}
	noEnv := func(string) string { return "" }
	cases := []struct {
		flag   string
		root   fstest.MapFS
		env    func(string) string
		want   int64
		source string
	}{
		{flag: "auto", root: cgroupV1, env: noEnv, want: 1932735283, source: "auto: 90% of the cgroup memory limit"},
		{flag: "auto", root: cgroupV2, env: noEnv, want: 900000000, source: "auto: 90%"},
		{flag: "auto", root: unlimited, env: noEnv, want: 0, source: "no cgroup memory limit"},
		{flag: "auto", root: cgroupV1, env: func(k string) string {
			if k == "GOMEMLIMIT" {
				return "1GiB"
			}
			return ""
		}, want: 0, source: "GOMEMLIMIT=1GiB"},
		{flag: "off", root: cgroupV1, env: noEnv, want: 0, source: "off"},
		{flag: "0", root: cgroupV1, env: noEnv, want: 0, source: "off"},
		{flag: "2GiB", root: unlimited, env: noEnv, want: 2 << 30, source: "--memory.limit"},
		{flag: "1.5GB", root: unlimited, env: noEnv, want: 1_500_000_000, source: "--memory.limit"},
		{flag: "512MiB", root: unlimited, env: noEnv, want: 512 << 20, source: "--memory.limit"},
		{flag: "1048576", root: unlimited, env: noEnv, want: 1 << 20, source: "--memory.limit"},
		{flag: "100KB", root: unlimited, env: noEnv, want: 100_000, source: "--memory.limit"},
		{flag: "50%", root: cgroupV2, env: noEnv, want: 500_000_000, source: "50% of the cgroup memory limit"},
		{flag: "50%", root: unlimited, env: noEnv, want: 512_000, source: "50% of physical memory"},
	}
	for _, c := range cases {
		got, err := resolveMemoryLimit(c.flag, c.root, c.env)
		if err != nil {
			t.Errorf("%s: %v", c.flag, err)
			continue
		}
		if got.bytes != c.want || !strings.Contains(got.source, c.source) {
			t.Errorf("%s: got %d (%s), want %d (%s)", c.flag, got.bytes, got.source, c.want, c.source)
		}
	}
	for _, bad := range []string{"", "lots", "-1GiB", "2XB", "0%", "101%", "GiB", "1e400"} {
		if _, err := resolveMemoryLimit(bad, unlimited, noEnv); err == nil || !strings.Contains(err.Error(), "--memory.limit") {
			t.Errorf("%q: error %v, want one naming --memory.limit", bad, err)
		}
	}
	if _, err := resolveMemoryLimit("50%", fstest.MapFS{}, noEnv); err == nil {
		t.Error("a percentage without any known memory size was accepted")
	}
}

func TestResolveGCPercent(t *testing.T) {
	env := func(v string) func(string) string {
		return func(k string) string {
			if k == "GOGC" {
				return v
			}
			return ""
		}
	}
	for _, tc := range []struct {
		flag       int
		gogc       string
		want       int
		wantSource string
	}{
		{0, "", defaultGCPercent, "default"},
		{0, "200", 200, "GOGC"},
		{0, "off", -1, "GOGC"},
		{0, "junk", defaultGCPercent, "default"}, // the runtime ignores it too
		{20, "200", 20, "flag"},
		{-1, "", -1, "flag"},
	} {
		got, source := resolveGCPercent(tc.flag, env(tc.gogc))
		if got != tc.want || source != tc.wantSource {
			t.Errorf("resolveGCPercent(%d, GOGC=%q) = %d, %s; want %d, %s", tc.flag, tc.gogc, got, source, tc.want, tc.wantSource)
		}
	}
}
