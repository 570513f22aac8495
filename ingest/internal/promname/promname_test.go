package promname

import (
	"regexp"
	"testing"

	"github.com/premetrics/premetrics/internal/race"
)

// The byte classes against the Prometheus 2 rules written as regexps.
func TestByteClasses(t *testing.T) {
	metric := regexp.MustCompile(`^[a-zA-Z_:][a-zA-Z0-9_:]*$`)
	label := regexp.MustCompile(`^[a-zA-Z_][a-zA-Z0-9_]*$`)
	for i := 0; i < 256; i++ {
		c := byte(i)
		s := string([]byte{c})
		if got, want := IsNameStart(c, true), metric.MatchString(s); got != want {
			t.Errorf("IsNameStart(%q, true) = %v", c, got)
		}
		if got, want := IsNameStart(c, false), label.MatchString(s); got != want {
			t.Errorf("IsNameStart(%q, false) = %v", c, got)
		}
		if got, want := IsNameByte(c, true), metric.MatchString("a"+s); got != want {
			t.Errorf("IsNameByte(%q, true) = %v", c, got)
		}
		if got, want := IsNameByte(c, false), label.MatchString("a"+s); got != want {
			t.Errorf("IsNameByte(%q, false) = %v", c, got)
		}
		if got, want := IsDigit(c), c >= '0' && c <= '9'; got != want {
			t.Errorf("IsDigit(%q) = %v", c, got)
		}
	}
}

func TestIsValid(t *testing.T) {
	tests := []struct {
		s             string
		metric, label bool
	}{
		{"", false, false},
		{"up", true, true},
		{"_x9", true, true},
		{"job:rate", true, false},
		{":x", true, false},
		{"9x", false, false},
		{"a.b", false, false},
		{"a b", false, false},
		{"ünï", false, false},
		{"a\xff", false, false},
	}
	for _, tt := range tests {
		if got := IsValid(tt.s, true); got != tt.metric {
			t.Errorf("IsValid(%q, true) = %v", tt.s, got)
		}
		if got := IsValid([]byte(tt.s), false); got != tt.label {
			t.Errorf("IsValid([]byte(%q), false) = %v", tt.s, got)
		}
	}
}

func TestSanitize(t *testing.T) {
	tests := []struct {
		s, metric, label string
	}{
		{s: "", metric: "", label: ""},
		{s: "up", metric: "up", label: "up"},
		{s: "disk.io", metric: "disk_io", label: "disk_io"},
		{s: "a:b.c", metric: "a:b_c", label: "a_b_c"},
		{s: "1st", metric: "_1st", label: "_1st"},
		{s: "ünï", metric: "_n_", label: "_n_"},
		{s: "a\xff\xfeb", metric: "a__b", label: "a__b"},
		{s: "0", metric: "_0", label: "_0"},
	}
	for _, tt := range tests {
		for _, colonOK := range []bool{true, false} {
			want := tt.label
			if colonOK {
				want = tt.metric
			}
			buf := make([]byte, len(tt.s)+1)
			got := string(PrefixDigit(buf, SanitizeInto(buf[1:], tt.s, colonOK)))
			if got != want {
				t.Errorf("%q, colonOK %v: got %q, want %q", tt.s, colonOK, got, want)
			}
			if want != "" && !IsValid(got, colonOK) {
				t.Errorf("%q, colonOK %v: %q is not valid", tt.s, colonOK, got)
			}
		}
	}
}

func TestSanitizeZeroAlloc(t *testing.T) {
	if race.Enabled {
		t.Skip("the race detector allocates")
	}
	buf := make([]byte, 64)
	s := "1st.disk_io:ünï"
	allocs := testing.AllocsPerRun(100, func() {
		if !IsValid(PrefixDigit(buf, SanitizeInto(buf[1:], s, true)), true) {
			t.Fatal("not valid")
		}
	})
	if allocs != 0 {
		t.Errorf("%v allocs, want 0", allocs)
	}
}
