package jsonevent

import (
	"bytes"
	"fmt"
	"strconv"
)

// MaxDepth is how deeply objects and arrays may nest in one event (the
// event object itself is depth 1). The scanner enforces it before the
// fastjson parser, whose recursion it bounds, sees the event.
const MaxDepth = 64

// synCode says what is wrong at a byte offset of the input.
type synCode uint8

const (
	synOK        synCode = iota
	synEOF               // the input ends inside a value
	synValue             // a character that cannot start a value
	synKey               // want a string key (or '}' after '{')
	synColon             // want ':' after an object key
	synObjectSep         // want ',' or '}' after an object value
	synArraySep          // want ',' or ']' after an array value
	synControl           // a control character (< 0x20) inside a string
	synEscape            // an invalid escape sequence in a string
	synNumber            // a malformed number
	synLiteral           // a malformed true, false or null
	synDepth             // nested deeper than MaxDepth
	synTail              // data after the value
)

// synErr is a syntax problem: what and where (byte offset into the
// scanned input). The zero value means no problem. It is built without
// allocating; message formats it.
type synErr struct {
	code synCode
	off  int
}

// message says what is wrong, quoting the offending byte of s.
func (e synErr) message(s []byte) string {
	what := ""
	switch e.code {
	case synEOF:
		return "unexpected end of JSON input"
	case synValue:
		what = "want a value"
	case synKey:
		what = `want a string key in "..."`
	case synColon:
		what = "want ':' after an object key"
	case synObjectSep:
		what = "want ',' or '}' after an object value"
	case synArraySep:
		what = "want ',' or ']' after an array value"
	case synControl:
		return fmt.Sprintf("control character %#02x in a string (escape it)", s[e.off])
	case synEscape:
		return "invalid escape sequence in a string"
	case synNumber:
		return "malformed number"
	case synLiteral:
		return "invalid literal: want true, false or null"
	case synDepth:
		return fmt.Sprintf("nested deeper than %d levels", MaxDepth)
	case synTail:
		what = "want the end of the JSON value"
	default:
		return "invalid JSON"
	}
	return fmt.Sprintf("invalid character %s: %s", quoteByte(s, e.off), what)
}

func quoteByte(s []byte, off int) string {
	if off >= len(s) {
		return "at end of input"
	}
	return strconv.QuoteRune(rune(s[off]))
}

// where formats a byte offset with line and column when s has several
// lines.
func where(s []byte, off int) string {
	if bytes.IndexByte(s, '\n') < 0 {
		return fmt.Sprintf("byte %d", off)
	}
	line := 1 + bytes.Count(s[:off], []byte{'\n'})
	col := off - bytes.LastIndexByte(s[:off], '\n')
	return fmt.Sprintf("byte %d (line %d, column %d)", off, line, col)
}

// isSpace reports JSON whitespace.
func isSpace(c byte) bool { return c == ' ' || c == '\n' || c == '\r' || c == '\t' }

func skipSpace(s []byte, i int) int {
	for i < len(s) && isSpace(s[i]) {
		i++
	}
	return i
}

func isBlank(s []byte) bool { return skipSpace(s, 0) == len(s) }

// scanValue checks the strict JSON value (RFC 8259) that starts at s[i]
// (after optional whitespace) and returns the offset just past it. It is
// iterative: nesting is bounded by MaxDepth, not by the goroutine stack.
// It does not check that strings are valid UTF-8 (label values are
// checked later).
func scanValue(s []byte, i int) (int, synErr) {
	var objects uint64 // bit d: the container at depth d+1 is an object
	depth := 0
	for {
		// A value starts here.
		i = skipSpace(s, i)
		if i >= len(s) {
			return i, synErr{synEOF, i}
		}
		var e synErr
		switch c := s[i]; {
		case c == '{' || c == '[':
			if depth == MaxDepth {
				return i, synErr{synDepth, i}
			}
			i = skipSpace(s, i+1)
			if i >= len(s) {
				return i, synErr{synEOF, i}
			}
			if c == '[' {
				objects &^= 1 << depth
				depth++
				if s[i] != ']' {
					continue // the first element
				}
				depth--
				i++
				break
			}
			objects |= 1 << depth
			depth++
			if s[i] != '}' {
				if i, e = scanKey(s, i); e.code != synOK {
					return i, e
				}
				continue // the first member's value
			}
			depth--
			i++
		case c == '"':
			i, e = scanString(s, i)
		case c == '-' || isDigit(c):
			i, e = scanNumber(s, i)
		case c == 't':
			i, e = scanLiteral(s, i, "true")
		case c == 'f':
			i, e = scanLiteral(s, i, "false")
		case c == 'n':
			i, e = scanLiteral(s, i, "null")
		default:
			return i, synErr{synValue, i}
		}
		if e.code != synOK {
			return i, e
		}

		// A value ended at i: close containers until the next value.
		for next := false; !next; {
			if depth == 0 {
				return i, synErr{}
			}
			i = skipSpace(s, i)
			if i >= len(s) {
				return i, synErr{synEOF, i}
			}
			c := s[i]
			if objects&(1<<(depth-1)) != 0 {
				switch c {
				case ',':
					if i, e = scanKey(s, skipSpace(s, i+1)); e.code != synOK {
						return i, e
					}
					next = true
				case '}':
					depth--
					i++
				default:
					return i, synErr{synObjectSep, i}
				}
				continue
			}
			switch c {
			case ',':
				i++
				next = true
			case ']':
				depth--
				i++
			default:
				return i, synErr{synArraySep, i}
			}
		}
	}
}

// scanKey checks `"key" :` at s[i] and returns the offset after ':'.
func scanKey(s []byte, i int) (int, synErr) {
	if i >= len(s) {
		return i, synErr{synEOF, i}
	}
	if s[i] != '"' {
		return i, synErr{synKey, i}
	}
	i, e := scanString(s, i)
	if e.code != synOK {
		return i, e
	}
	i = skipSpace(s, i)
	if i >= len(s) {
		return i, synErr{synEOF, i}
	}
	if s[i] != ':' {
		return i, synErr{synColon, i}
	}
	return i + 1, synErr{}
}

// plainByte marks the bytes a string may hold without a closer look:
// everything but control characters, '"' and '\\'.
var plainByte = func() (t [256]bool) {
	for c := 0x20; c < 256; c++ {
		t[c] = c != '"' && c != '\\'
	}
	return t
}()

// scanString checks the string whose opening quote is s[i].
func scanString(s []byte, i int) (int, synErr) {
	for i++; i < len(s); i++ {
		for i < len(s) && plainByte[s[i]] {
			i++
		}
		if i == len(s) {
			break
		}
		switch c := s[i]; {
		case c == '"':
			return i + 1, synErr{}
		case c < 0x20:
			return i, synErr{synControl, i}
		case c == '\\':
			i++
			if i >= len(s) {
				return i, synErr{synEOF, i}
			}
			switch s[i] {
			case '"', '\\', '/', 'b', 'f', 'n', 'r', 't':
			case 'u':
				for k := 1; k <= 4; k++ {
					if i+k >= len(s) {
						return i + k, synErr{synEOF, i + k}
					}
					if !isHex(s[i+k]) {
						return i - 1, synErr{synEscape, i - 1}
					}
				}
				i += 4
			default:
				return i - 1, synErr{synEscape, i - 1}
			}
		}
	}
	return i, synErr{synEOF, i}
}

func isHex(c byte) bool { return isDigit(c) || (c|0x20 >= 'a' && c|0x20 <= 'f') }

// scanNumber checks -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)? at s[i].
func scanNumber(s []byte, i int) (int, synErr) {
	start := i
	if s[i] == '-' {
		i++
	}
	switch {
	case i < len(s) && s[i] == '0':
		i++
	case i < len(s) && isDigit(s[i]):
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	default:
		return start, synErr{synNumber, start}
	}
	if i < len(s) && s[i] == '.' {
		i++
		if i >= len(s) || !isDigit(s[i]) {
			return start, synErr{synNumber, start}
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		if i >= len(s) || !isDigit(s[i]) {
			return start, synErr{synNumber, start}
		}
		for i < len(s) && isDigit(s[i]) {
			i++
		}
	}
	return i, synErr{}
}

// isNumber reports whether all of s is one JSON number.
func isNumber(s []byte) bool {
	if len(s) == 0 {
		return false
	}
	end, e := scanNumber(s, 0)
	return e.code == synOK && end == len(s)
}

func scanLiteral(s []byte, i int, lit string) (int, synErr) {
	if len(s)-i < len(lit) || string(s[i:i+len(lit)]) != lit {
		return i, synErr{synLiteral, i}
	}
	return i + len(lit), synErr{}
}
