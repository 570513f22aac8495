package influx

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

// isLabelName reports whether s is a valid Prometheus 2 label name,
// [a-zA-Z_][a-zA-Z0-9_]*, without escapes: usable as it is.
func isLabelName(s []byte) bool {
	if len(s) == 0 || isDigit(s[0]) {
		return false
	}
	for _, c := range s {
		if nameChar[c] != 1 {
			return false
		}
	}
	return true
}

// unescapedByte reports what s[i], a backslash, and the byte after it
// stand for: an escaped space, comma, equals sign or backslash is that
// byte (2 bytes consumed); any other backslash is literal (1 byte).
func unescapedByte(s []byte, i int) (c byte, n int) {
	if i+1 < len(s) {
		switch s[i+1] {
		case ' ', ',', '=', '\\':
			return s[i+1], 2
		}
	}
	return '\\', 1
}

// sanitizeInto unescapes tok into dst (len(dst) >= len(tok)) and replaces
// every rune that is not allowed in a name by '_': an invalid UTF-8 byte
// or a multi-byte rune becomes one '_'. colonOK allows ':' (metric names).
// It returns the number of bytes written, at most len(tok).
func sanitizeInto(dst, tok []byte, colonOK bool) int {
	w := 0
	for i := 0; i < len(tok); {
		c := tok[i]
		n := 1
		if c == '\\' {
			c, n = unescapedByte(tok, i)
		} else if c >= utf8.RuneSelf {
			_, n = utf8.DecodeRune(tok[i:])
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

// unescapeInto unescapes tok into dst (len(dst) >= len(tok)) and returns
// the number of bytes written.
func unescapeInto(dst, tok []byte) int {
	w := 0
	for i := 0; i < len(tok); {
		c, n := tok[i], 1
		if c == '\\' {
			c, n = unescapedByte(tok, i)
		}
		dst[w] = c
		w++
		i += n
	}
	return w
}

// hasBackslash reports whether tok holds an escape.
func hasBackslash(tok []byte) bool {
	for _, c := range tok {
		if c == '\\' {
			return true
		}
	}
	return false
}

// unescapeString returns tok unescaped in new memory, for messages.
func unescapeString(tok []byte) string {
	buf := make([]byte, len(tok))
	return string(buf[:unescapeInto(buf, tok)])
}

// labelNameString returns the label name tok becomes, in new memory.
func labelNameString(tok []byte) string {
	buf := make([]byte, len(tok)+1)
	return string(prefixDigit(buf, sanitizeInto(buf[1:], tok, false)))
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

// aliasString returns a string sharing b's memory; b must not change while
// the string is in use (the batch arena guarantees that until Reset).
func aliasString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
