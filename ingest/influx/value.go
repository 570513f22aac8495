package influx

import (
	"math"
	"strconv"

	"github.com/premetrics/premetrics/ingest/outcome"
)

// Precision is the unit of the timestamps in a request, from the
// precision query parameter. The zero value is nanoseconds, the default of
// both Influx write APIs.
type Precision uint8

// Precisions.
const (
	Nanosecond Precision = iota
	Microsecond
	Millisecond
	Second
	Minute
	Hour
	numPrecisions
)

var precisionNames = [numPrecisions]string{"ns", "us", "ms", "s", "m", "h"}

// String returns the v2 spelling: ns, us, ms, s, m or h.
func (p Precision) String() string {
	if p < numPrecisions {
		return precisionNames[p]
	}
	return "precision_" + strconv.Itoa(int(p))
}

// ParsePrecision parses the precision query parameter of /write (v1: n,
// ns, u, µ, ms, s, m, h) and /api/v2/write (v2: ns, us, ms, s); it takes
// the values of both, and "" as nanoseconds. The error is an
// *outcome.Error of KindMalformed (a 400).
func ParsePrecision(s string) (Precision, error) {
	switch s {
	case "", "n", "ns":
		return Nanosecond, nil
	case "u", "us", "µ", "μ": // U+00B5 MICRO SIGN as documented, U+03BC GREEK MU as often typed
		return Microsecond, nil
	case "ms":
		return Millisecond, nil
	case "s":
		return Second, nil
	case "m":
		return Minute, nil
	case "h":
		return Hour, nil
	}
	return 0, outcome.Errorf(outcome.KindMalformed, "", "invalid precision %s: want one of ns, us, ms, s (v2) or n, u, µ, m, h (v1)", outcome.Quote(s))
}

// toMillis converts a timestamp of precision p to Unix milliseconds,
// rounding towards zero; ok is false when it overflows int64.
func toMillis(ts int64, p Precision) (ms int64, ok bool) {
	var mul int64
	switch p {
	case Nanosecond:
		return ts / 1e6, true
	case Microsecond:
		return ts / 1e3, true
	case Millisecond:
		return ts, true
	case Second:
		mul = 1e3
	case Minute:
		mul = 60e3
	default:
		mul = 3600e3
	}
	if ts > math.MaxInt64/mul {
		return 0, false
	}
	return ts * mul, true
}

// Timestamp problems.
const (
	tsOK = iota
	tsSyntax
	tsNegative
	tsRange
)

// parseTimestamp parses a non-negative decimal int64.
func parseTimestamp(s []byte) (int64, int) {
	neg := len(s) > 0 && s[0] == '-'
	if neg {
		s = s[1:]
	}
	if !allDigits(s) {
		return 0, tsSyntax
	}
	v, ok := parseUint(s, math.MaxInt64)
	switch {
	case neg && (v != 0 || !ok):
		return 0, tsNegative
	case !ok:
		return 0, tsRange
	}
	return int64(v), tsOK
}

// parseUint parses decimal digits into a value of at most limit.
func parseUint(s []byte, limit uint64) (uint64, bool) {
	if len(s) == 0 {
		return 0, false
	}
	var v uint64
	for _, c := range s {
		if !isDigit(c) {
			return 0, false
		}
		d := uint64(c - '0')
		if v > (limit-d)/10 {
			return 0, false
		}
		v = v*10 + d
	}
	return v, true
}

// valueProblem says why a field value does not parse.
type valueProblem uint8

const (
	valueOK valueProblem = iota
	badFloat
	floatRange
	badInteger
	integerRange
	badUnsigned
	unsignedRange
	badValue
)

var valueProblemText = [...]struct{ msg, tail string }{
	badFloat:      {"invalid float", ""},
	floatRange:    {"float", " out of range"},
	badInteger:    {"invalid integer", ""},
	integerRange:  {"integer", " out of range"},
	badUnsigned:   {"invalid unsigned integer", ""},
	unsignedRange: {"unsigned integer", " out of range"},
	badValue:      {"invalid value", ": want a number, a boolean or a quoted string"},
}

// parseValue parses an unquoted field value: a float (1, -1.5, 2e-3), an
// integer (12i), an unsigned integer (12u) or a boolean (t, T, true, True,
// TRUE, f, F, false, False, FALSE).
func parseValue(v []byte) (float64, valueProblem) {
	c := v[0]
	if !isDigit(c) && c != '-' && c != '+' && c != '.' {
		switch string(v) {
		case "t", "T", "true", "True", "TRUE":
			return 1, valueOK
		case "f", "F", "false", "False", "FALSE":
			return 0, valueOK
		}
		return 0, badValue
	}
	switch v[len(v)-1] {
	case 'i':
		digits := v[:len(v)-1]
		neg := false
		if len(digits) > 0 && (digits[0] == '-' || digits[0] == '+') {
			neg = digits[0] == '-'
			digits = digits[1:]
		}
		if !allDigits(digits) {
			return 0, badInteger
		}
		limit := uint64(math.MaxInt64)
		if neg {
			limit++
		}
		u, ok := parseUint(digits, limit)
		if !ok {
			return 0, integerRange
		}
		if neg {
			return -float64(u), valueOK
		}
		return float64(u), valueOK
	case 'u':
		digits := v[:len(v)-1]
		if !allDigits(digits) {
			return 0, badUnsigned
		}
		u, ok := parseUint(digits, math.MaxUint64)
		if !ok {
			return 0, unsignedRange
		}
		return float64(u), valueOK
	}
	if !isDecimalFloat(v) {
		return 0, badFloat
	}
	f, err := strconv.ParseFloat(aliasString(v), 64)
	if err != nil {
		return 0, floatRange // the syntax is checked: only the range is left
	}
	return f, valueOK
}

func isDigit(c byte) bool { return c >= '0' && c <= '9' }

func allDigits(s []byte) bool {
	for _, c := range s {
		if !isDigit(c) {
			return false
		}
	}
	return len(s) > 0
}

// isDecimalFloat reports whether s is [+-]?(d+(.d*)?|.d+)([eE][+-]?d+)?:
// what Influx accepts, without Go's hex floats, underscores, NaN and Inf.
func isDecimalFloat(s []byte) bool {
	i := 0
	if i < len(s) && (s[i] == '+' || s[i] == '-') {
		i++
	}
	mant := 0
	for i < len(s) && isDigit(s[i]) {
		i++
		mant++
	}
	if i < len(s) && s[i] == '.' {
		i++
		for i < len(s) && isDigit(s[i]) {
			i++
			mant++
		}
	}
	if mant == 0 {
		return false
	}
	if i < len(s) && (s[i] == 'e' || s[i] == 'E') {
		i++
		if i < len(s) && (s[i] == '+' || s[i] == '-') {
			i++
		}
		exp := 0
		for i < len(s) && isDigit(s[i]) {
			i++
			exp++
		}
		if exp == 0 {
			return false
		}
	}
	return i == len(s)
}
