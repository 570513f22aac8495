package main

import (
	"strings"
	"testing"
)

func TestCompareByRegion(t *testing.T) {
	r := &report{}
	groups, same := r.compare("12:00:05", "vehicles in motion",
		map[string]float64{"US": 10, "UK": 3, "Japan": 1},
		map[string]float64{"US": 10, "UK": 2, "Spain": 4})
	if groups != 4 || same != 1 {
		t.Errorf("groups %d, same %d; want 4 and 1", groups, same)
	}
	want := []string{
		"12:00:05 Japan vehicles in motion: expected 1, read back none",
		"12:00:05 Spain vehicles in motion: expected none, read back 4",
		"12:00:05 UK vehicles in motion: expected 3, read back 2",
	}
	if strings.Join(r.details, "\n") != strings.Join(want, "\n") {
		t.Errorf("details:\n%s\nwant\n%s", strings.Join(r.details, "\n"), strings.Join(want, "\n"))
	}
	r.checked, r.mismatches, r.groups = 3, 1, 120
	if err := r.verdict(); err == nil || !strings.Contains(err.Error(), "1 of 3 windows differ from the ground truth (3 of 120 per-region values)") {
		t.Errorf("verdict %v", err)
	}
}
