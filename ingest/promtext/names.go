package promtext

import (
	"unsafe"

	"github.com/premetrics/premetrics/ingest/internal/promname"
)

// scanName returns the end of the unquoted name that starts at s[i]:
// the first byte that is not [a-zA-Z0-9_] (or ':' when colonOK).
func scanName(s []byte, i int, colonOK bool) int {
	for i < len(s) {
		if !promname.IsNameByte(s[i], colonOK) {
			return i
		}
		i++
	}
	return i
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
