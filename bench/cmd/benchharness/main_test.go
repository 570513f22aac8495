package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestRealMainRejectsBadFlags(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-premetrics", "/nonexistent/premetrics", "-loadgen", "/nonexistent/loadgen"}, "-premetrics: stat /nonexistent/premetrics"},
		{[]string{"-scenarios", "a,x"}, `-scenarios: unknown scenario "x"`},
		{[]string{"-interval", "0s"}, "-interval: must be a positive whole number of milliseconds"},
		{[]string{"extra"}, "unexpected arguments"},
	} {
		var stdout, stderr bytes.Buffer
		if code := realMain(tc.args, &stdout, &stderr); code != 2 || !strings.Contains(stderr.String(), tc.want) {
			t.Errorf("%v: exit %d, stderr %q, want 2 and %q", tc.args, code, stderr.String(), tc.want)
		}
	}
}
