package promtext

import (
	"unicode/utf8"
	"unsafe"
)

// nameChar[c] is 1 for the bytes a Prometheus label name may hold
// ([a-zA-Z0-9_]) and 2 for ':' (allowed in metric names only).
var nameChar = func() (t [256]uint8) {
	for c := 'a'; c <= 'z'; c++ {
		t[c], t[c-'a'+'A'] = 1, 1
	}
	for c := '0'; c <= '9'; c++ {
		t[c] = 1
	}
	t['_'] = 1
	t[':'] = 2
	return t
}()

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

// isMetricStart and isLabelStart tell the first byte of an unquoted
// metric name ([a-zA-Z_:]) and label name ([a-zA-Z_]).
func isMetricStart(c byte) bool { return nameChar[c] != 0 && !isDigit(c) }
func isLabelStart(c byte) bool  { return nameChar[c] == 1 && !isDigit(c) }

// scanName returns the end of the unquoted name that starts at s[i]:
// the first byte that is not [a-zA-Z0-9_] (or ':' when colonOK).
func scanName(s []byte, i int, colonOK bool) int {
	for i < len(s) {
		if k := nameChar[s[i]]; k == 0 || (k == 2 && !colonOK) {
			return i
		}
		i++
	}
	return i
}

// isValidName reports whether s is a valid Prometheus 2 metric name
// (colonOK) or label name as it is.
func isValidName(s string, colonOK bool) bool {
	if s == "" || isDigit(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if k := nameChar[s[i]]; k == 0 || (k == 2 && !colonOK) {
			return false
		}
	}
	return true
}

// sanitizeInto writes s into dst (len(dst) >= len(s)) with every rune
// that is not allowed in a name replaced by '_': an invalid UTF-8 byte or
// a multi-byte rune becomes one '_'. It returns the bytes written.
func sanitizeInto(dst []byte, s string, colonOK bool) int {
	w := 0
	for i := 0; i < len(s); {
		c, n := s[i], 1
		if c >= utf8.RuneSelf {
			_, n = utf8.DecodeRuneInString(s[i:])
			c = '_'
		}
		if k := nameChar[c]; k == 0 || (k == 2 && !colonOK) {
			c = '_'
		}
		dst[w] = c
		w++
		i += n
	}
	return w
}

// prefixDigit returns the name written at buf[1:1+n], with buf[0] set to
// '_' and included when the name starts with a digit.
func prefixDigit(buf []byte, n int) []byte {
	if n > 0 && isDigit(buf[1]) {
		buf[0] = '_'
		return buf[:1+n]
	}
	return buf[1 : 1+n]
}

// unescapeInto writes the content of a quoted string, tok (without its
// quotes), into dst (len(dst) >= len(tok)): \\ is a backslash, \" a quote
// and \n a newline; a backslash before any other byte is kept, as
// Prometheus does. It returns the bytes written.
func unescapeInto(dst, tok []byte) int {
	w := 0
	for i := 0; i < len(tok); i++ {
		c := tok[i]
		if c == '\\' && i+1 < len(tok) {
			switch tok[i+1] {
			case '\\', '"':
				c = tok[i+1]
				i++
			case 'n':
				c = '\n'
				i++
			}
		}
		dst[w] = c
		w++
	}
	return w
}

// aliasString returns a string sharing b's memory; b must not change while
// the string is in use (the batch arena guarantees that until Reset).
func aliasString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
