package lines

import (
	"fmt"
	"strings"
	"testing"
)

func TestScanner(t *testing.T) {
	for body, want := range map[string]string{
		"":              "",
		"a":             "1:a",
		"a\n":           "1:a",
		"a\r\nb":        "1:a 2:b",
		"\n\nc\r\n":     "1: 2: 3:c",
		"x\r\r\ny\n\nz": "1:x\r 2:y 3: 4:z",
	} {
		var got []string
		s := New([]byte(body))
		for text, n, ok := s.Next(); ok; text, n, ok = s.Next() {
			got = append(got, fmt.Sprintf("%d:%s", n, text))
		}
		if strings.Join(got, " ") != want {
			t.Errorf("%q: %q, want %q", body, strings.Join(got, " "), want)
		}
	}
}
