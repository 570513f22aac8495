package promname

import "unicode/utf8"

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

// IsDigit reports whether c is an ASCII digit.
func IsDigit(c byte) bool { return c >= '0' && c <= '9' }

// IsNameByte reports whether c may stand in a metric name (colonOK:
// [a-zA-Z0-9_:]) or a label name ([a-zA-Z0-9_]) after its first byte.
func IsNameByte(c byte, colonOK bool) bool {
	k := nameChar[c]
	return k == 1 || (k == 2 && colonOK)
}

// IsNameStart reports whether c may start a metric name (colonOK:
// [a-zA-Z_:]) or a label name ([a-zA-Z_]).
func IsNameStart(c byte, colonOK bool) bool { return IsNameByte(c, colonOK) && !IsDigit(c) }

// IsValid reports whether s is a valid metric name (colonOK) or label
// name as it is.
func IsValid[S ~string | ~[]byte](s S, colonOK bool) bool {
	if len(s) == 0 || IsDigit(s[0]) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !IsNameByte(s[i], colonOK) {
			return false
		}
	}
	return true
}

// Sanitize returns c when it may stand in a name (see IsNameByte), else
// '_'.
func Sanitize(c byte, colonOK bool) byte {
	if !IsNameByte(c, colonOK) {
		return '_'
	}
	return c
}

// SanitizeInto writes s into dst (len(dst) >= len(s)) with every rune
// that is not allowed in a name replaced by '_': an invalid UTF-8 byte or
// a multi-byte rune becomes one '_'. It returns the bytes written, at
// most len(s). A leading digit stays: see PrefixDigit.
func SanitizeInto(dst []byte, s string, colonOK bool) int {
	w := 0
	for i := 0; i < len(s); {
		c, n := s[i], 1
		if c >= utf8.RuneSelf {
			_, n = utf8.DecodeRuneInString(s[i:])
			c = '_'
		}
		dst[w] = Sanitize(c, colonOK)
		w++
		i += n
	}
	return w
}

// PrefixDigit returns the name written at buf[1:1+n], with buf[0] set to
// '_' and included when the name starts with a digit. A caller that
// sanitizes into buf[1:] gets a valid name for any input but the empty
// one.
func PrefixDigit(buf []byte, n int) []byte {
	if n > 0 && IsDigit(buf[1]) {
		buf[0] = '_'
		return buf[:1+n]
	}
	return buf[1 : 1+n]
}
