package main

import (
	"bufio"
	"fmt"
	"io/fs"
	"math"
	"path"
	"strconv"
	"strings"
)

// memoryLimitAuto is the default of --memory.limit.
const memoryLimitAuto = "auto"

// autoMemoryFraction is the share of the cgroup memory limit that "auto"
// gives the Go heap, leaving room for stacks, the runtime and page cache.
const autoMemoryFraction = 0.9

// defaultGCPercent is the GC target when neither --memory.gc-percent nor
// GOGC says otherwise. Lower than Go's 100 (VictoriaMetrics uses 30): the
// big structures (slots, tables, encoded blocks) hold no pointers, so a GC
// cycle costs little and the heap stays near its live size.
const defaultGCPercent = 50

// resolveGCPercent returns the GC target for the --memory.gc-percent flag
// (0: unset) and where it came from: "flag", "GOGC" (the runtime applied
// it already) or "default".
func resolveGCPercent(flag int, getenv func(string) string) (int, string) {
	if flag != 0 {
		return flag, "flag"
	}
	if v := getenv("GOGC"); v != "" {
		if v == "off" {
			return -1, "GOGC"
		}
		if n, err := strconv.Atoi(v); err == nil {
			return n, "GOGC"
		}
	}
	return defaultGCPercent, "default"
}

// unlimitedMemory: cgroup limits at or above this mean "no limit".
const unlimitedMemory = 1 << 60

// memoryLimit is what --memory.limit resolves to.
type memoryLimit struct {
	bytes  int64  // 0: leave the runtime's limit alone
	source string // for the startup log
}

// resolveMemoryLimit turns the --memory.limit flag into a soft memory
// limit for the Go runtime (debug.SetMemoryLimit):
//
//	auto        90% of the cgroup memory limit, if there is one; nothing
//	            when GOMEMLIMIT is set (the runtime applies it itself)
//	off, 0      no limit (GOMEMLIMIT, if set, still applies)
//	2GiB, 1.5GB a size: B, KB/MB/GB/TB (powers of 1000), KiB/MiB/GiB/TiB (of 1024)
//	75%         a share of the cgroup limit, or of physical memory without one
//
// root is the file system holding /proc and /sys (os.DirFS("/") in the
// daemon); getenv reads the environment.
func resolveMemoryLimit(flag string, root fs.FS, getenv func(string) string) (memoryLimit, error) {
	switch flag {
	case memoryLimitAuto:
		if v := getenv("GOMEMLIMIT"); v != "" {
			return memoryLimit{source: "GOMEMLIMIT=" + v}, nil
		}
		limit, ok := cgroupMemoryLimit(root)
		if !ok {
			return memoryLimit{source: "auto: no cgroup memory limit"}, nil
		}
		return memoryLimit{bytes: int64(float64(limit) * autoMemoryFraction), source: "auto: 90% of the cgroup memory limit"}, nil
	case "off", "0":
		return memoryLimit{source: "off"}, nil
	}
	if pct, ok := strings.CutSuffix(flag, "%"); ok {
		p, err := strconv.ParseFloat(pct, 64)
		if err != nil || p <= 0 || p > 100 {
			return memoryLimit{}, fmt.Errorf("--memory.limit: want a percentage in (0, 100], got %q", flag)
		}
		total, ok := cgroupMemoryLimit(root)
		source := "of the cgroup memory limit"
		if !ok {
			if total, ok = physicalMemory(root); !ok {
				return memoryLimit{}, fmt.Errorf("--memory.limit: cannot find the machine's memory for %q; give a size", flag)
			}
			source = "of physical memory"
		}
		return memoryLimit{bytes: int64(float64(total) * p / 100), source: flag + " " + source}, nil
	}
	n, err := parseBytes(flag)
	if err != nil {
		return memoryLimit{}, fmt.Errorf("--memory.limit: %w", err)
	}
	return memoryLimit{bytes: n, source: "--memory.limit"}, nil
}

// parseBytes parses a size such as 512MiB, 2GB, 1.5GiB or 1048576.
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   float64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30}, {"TiB", 1 << 40},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9}, {"TB", 1e12}, {"B", 1},
	}
	num, mult := s, 1.0
	for _, u := range units {
		if n, ok := strings.CutSuffix(s, u.suffix); ok {
			num, mult = n, u.mult
			break
		}
	}
	v, err := strconv.ParseFloat(num, 64)
	if err != nil || v <= 0 || math.IsInf(v, 0) || v*mult >= math.MaxInt64 {
		return 0, fmt.Errorf("want a size like 2GiB, 512MB or 75%%, got %q", s)
	}
	return int64(v * mult), nil
}

// cgroupMemoryLimit returns the memory limit of the process' cgroup
// (v2 memory.max or v1 memory.limit_in_bytes), if it has one.
func cgroupMemoryLimit(root fs.FS) (int64, bool) {
	for _, file := range cgroupLimitFiles(root) {
		data, err := fs.ReadFile(root, file)
		if err != nil {
			continue
		}
		v := strings.TrimSpace(string(data))
		if v == "max" {
			return 0, false
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil || n <= 0 || n >= unlimitedMemory {
			return 0, false
		}
		return n, true
	}
	return 0, false
}

// cgroupLimitFiles lists the files that may hold the limit, most specific
// first: the process' own cgroup from /proc/self/cgroup, then the root of
// the mount (what a container usually sees).
func cgroupLimitFiles(root fs.FS) []string {
	var files []string
	if data, err := fs.ReadFile(root, "proc/self/cgroup"); err == nil {
		for line := range strings.SplitSeq(string(data), "\n") {
			// hierarchy-ID:controller-list:cgroup-path
			parts := strings.SplitN(line, ":", 3)
			if len(parts) != 3 || parts[2] == "/" {
				continue
			}
			switch {
			case parts[0] == "0" && parts[1] == "":
				files = append(files, path.Join("sys/fs/cgroup", parts[2], "memory.max"))
			case hasController(parts[1], "memory"):
				files = append(files, path.Join("sys/fs/cgroup/memory", parts[2], "memory.limit_in_bytes"))
			}
		}
	}
	return append(files, "sys/fs/cgroup/memory.max", "sys/fs/cgroup/memory/memory.limit_in_bytes")
}

func hasController(list, name string) bool {
	for c := range strings.SplitSeq(list, ",") {
		if c == name {
			return true
		}
	}
	return false
}

// physicalMemory returns MemTotal from /proc/meminfo.
func physicalMemory(root fs.FS) (int64, bool) {
	f, err := root.Open("proc/meminfo")
	if err != nil {
		return 0, false
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		rest, ok := strings.CutPrefix(sc.Text(), "MemTotal:")
		if !ok {
			continue
		}
		kb, err := strconv.ParseInt(strings.TrimSuffix(strings.TrimSpace(rest), " kB"), 10, 64)
		if err != nil {
			return 0, false
		}
		return kb << 10, true
	}
	return 0, false
}
