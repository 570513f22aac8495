package jsonevent

import (
	"encoding/json"
	"strings"
	"testing"
)

var syntaxCases = []string{
	`{}`, `[]`, `""`, `0`, `-0`, `1.5e+10`, `1E-2`, `true`, `false`, `null`,
	`{"a": [1, {"b": null}], "c": "\"\\\/\b\f\n\r\t\u00e9\uD83D\uDE00"}`,
	" \t\r\n{ \"a\" : 1 , \"b\" : [ ] } \n",
	`{"a": 1,}`, `[1,]`, `[1 2]`, `{"a" 1}`, `{a: 1}`, `{"a": 01}`, `{"a": 1.}`, `{"a": .5}`, `{"a": -}`,
	`{"a": 1e}`, `{"a": +1}`, `{"a": NaN}`, `{"a": Infinity}`, `{"a": tru}`, `{"a": nul}`, `{"a": "x`,
	"{\"a\": \"x\ny\"}", `{"a": "\x"}`, `{"a": "\u12G4"}`, `{"a": "\u12"}`, `{"a" : }`, `{`, `[`, `"`, `{"a"`,
	`{"a":1}}`, `[1]]`, `{"a":1} x`, `1 2`, `[[[[]]]]`, `{"":""}`, "{\"\xff\": \"\xfe\"}", `'a'`, `//`, ``, ` `,
}

// scanValue agrees with encoding/json on what is valid JSON.
func TestScanValueAgreesWithEncodingJSON(t *testing.T) {
	for _, s := range syntaxCases {
		checkSyntaxAgrees(t, []byte(s))
	}
}

func checkSyntaxAgrees(t *testing.T, s []byte) {
	t.Helper()
	end, e := scanValue(s, 0)
	ours := e.code == synOK && isBlank(s[end:])
	if e.code != synOK && (e.off < 0 || e.off > len(s)) {
		t.Fatalf("%q: error offset %d out of range", s, e.off)
	}
	if e.code == synDepth {
		return // encoding/json nests deeper
	}
	if theirs := json.Valid(s); ours != theirs {
		t.Fatalf("%q: scanValue says valid=%v (%v), encoding/json says %v", s, ours, e, theirs)
	}
}

func FuzzScanValue(f *testing.F) {
	for _, s := range syntaxCases {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, s []byte) {
		checkSyntaxAgrees(t, s)
		if end, e := scanValue(s, 0); e.code == synOK {
			if end > len(s) || end == 0 {
				t.Fatalf("%q: end %d", s, end)
			}
		} else {
			_ = e.message(s) // must not panic
			_ = where(s, e.off)
		}
	})
}

func TestScanValueDepth(t *testing.T) {
	nest := func(n int) []byte {
		return []byte(strings.Repeat("[", n) + strings.Repeat("]", n))
	}
	if _, e := scanValue(nest(MaxDepth), 0); e.code != synOK {
		t.Errorf("depth %d: %v", MaxDepth, e)
	}
	if _, e := scanValue(nest(MaxDepth+1), 0); e.code != synDepth || e.off != MaxDepth {
		t.Errorf("depth %d: %+v, want synDepth at %d", MaxDepth+1, e, MaxDepth)
	}
	// Deep input fails fast and without recursion.
	if _, e := scanValue([]byte(strings.Repeat(`{"a":`, 1<<20)), 0); e.code != synDepth {
		t.Errorf("very deep: %+v", e)
	}
}

func TestScanValueMessages(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{`{"a" 1}`, "byte 5: invalid character '1': want ':' after an object key"},
		{`{"a": 1 "b"}`, `byte 8: invalid character '"': want ',' or '}' after an object value`},
		{`[1 2]`, "byte 3: invalid character '2': want ',' or ']' after an array value"},
		{`{1: 2}`, `byte 1: invalid character '1': want a string key in "..."`},
		{`{"a": x}`, "byte 6: invalid character 'x': want a value"},
		{`{"a": 1.}`, "byte 6: malformed number"},
		{`{"a": tru}`, "byte 6: invalid literal: want true, false or null"},
		{`{"a": "\x"}`, "byte 7: invalid escape sequence in a string"},
		{"{\"a\": \"\x01\"}", "byte 7: control character 0x01 in a string (escape it)"},
		{`{"a": `, "byte 6: unexpected end of JSON input"},
		{"{\n\"a\": x}", "byte 7 (line 2, column 6): invalid character 'x': want a value"},
	} {
		_, e := scanValue([]byte(tc.in), 0)
		if got := where([]byte(tc.in), e.off) + ": " + e.message([]byte(tc.in)); got != tc.want {
			t.Errorf("%q: got %q\n want %q", tc.in, got, tc.want)
		}
	}
}

func TestIsNDJSON(t *testing.T) {
	for _, tc := range []struct {
		body string
		want bool
	}{
		{`{"a": 1}`, false},
		{"{\"a\": 1}\n", false},
		{"{\"a\": 1}\n \r\n", false},
		{"{\"a\": 1}\n{\"a\": 2}", true},
		{"{\"a\": 1,,}\n{\"a\": 2}", true},      // a broken first line is one bad event
		{"{\"a\": 1} x\n{\"a\": 2}", true},      // so is a line with two values
		{"garbage\n{\"a\": 2}", true},           // and a line that is not JSON
		{"{\n\"a\": 1\n}", false},               // the first line is open: one value
		{"{\"a\": [1,\n2]}\n{\"a\": 2}", false}, // the first value spans lines
		{"{\"a\": \"x\n\"}\n{}", false},         // a string cut by the newline
	} {
		if got := isNDJSON([]byte(tc.body), 0); got != tc.want {
			t.Errorf("isNDJSON(%q) = %v, want %v", tc.body, got, tc.want)
		}
	}
}

func TestIsNumber(t *testing.T) {
	for s, want := range map[string]bool{
		"0": true, "-1.5e3": true, "12": true, "": false, " 1": false, "1 ": false, "01": false, "1.": false,
		"+1": false, "0x10": false, "NaN": false, "1e": false, "-": false, "1_000": false,
	} {
		if got := isNumber([]byte(s)); got != want {
			t.Errorf("isNumber(%q) = %v", s, got)
		}
	}
}

func TestParseFloat(t *testing.T) {
	for s, want := range map[string]float64{
		"0": 0, "123456789012345": 123456789012345, "-42": -42, "1234567890123456789": 1234567890123456789,
		"87.28": 87.28, "1e3": 1000, "-2.5E-3": -0.0025,
	} {
		if got, ok := parseFloat([]byte(s)); !ok || got != want {
			t.Errorf("parseFloat(%q) = %v %v, want %v", s, got, ok, want)
		}
	}
	if _, ok := parseFloat([]byte("1e309")); ok {
		t.Error("1e309 parsed")
	}
}
