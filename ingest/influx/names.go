package influx

import (
	"unicode/utf8"
	"unsafe"

	"github.com/premetrics/premetrics/ingest/internal/promname"
)

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
// It returns the number of bytes written, at most len(tok). It is
// promname.SanitizeInto but for the escapes, which it reads in the same
// pass: an escaped byte (never a name byte) becomes one '_'.
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
		dst[w] = promname.Sanitize(c, colonOK)
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

// unescapeString returns tok unescaped in new memory, for messages.
func unescapeString(tok []byte) string {
	buf := make([]byte, len(tok))
	return string(buf[:unescapeInto(buf, tok)])
}

// labelNameString returns the label name tok becomes, in new memory.
func labelNameString(tok []byte) string {
	buf := make([]byte, len(tok)+1)
	return string(promname.PrefixDigit(buf, sanitizeInto(buf[1:], tok, false)))
}

// aliasString returns a string sharing b's memory; b must not change while
// the string is in use (the batch arena guarantees that until Reset).
func aliasString(b []byte) string {
	if len(b) == 0 {
		return ""
	}
	return unsafe.String(&b[0], len(b))
}
