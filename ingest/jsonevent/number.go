package jsonevent

import (
	"math"
	"strconv"
	"time"
	"unsafe"
)

// Accepted event times, in Unix milliseconds: from 2000-01-01T00:00:00Z
// (inclusive) to 2200-01-01T00:00:00Z (exclusive). A timestamp outside is
// rejected (bad_timestamp): it is almost always a unit mistake (seconds
// sent as milliseconds land in January 1970, milliseconds sent as
// seconds in the year 56000) or a device clock that was never set.
const (
	MinTimestamp int64 = 946684800000
	MaxTimestamp int64 = 7258118400000
)

// unitExponent returns the power of ten that turns a value in unit into
// milliseconds.
func unitExponent(unit string) (int, bool) {
	switch unit {
	case UnitSeconds:
		return 3, true
	case UnitMilliseconds:
		return 0, true
	case UnitMicroseconds:
		return -3, true
	case UnitNanoseconds:
		return -6, true
	}
	return 0, false
}

// parseFloat parses a strict JSON number (checked by scanNumber). It
// reports false for a number out of float64 range.
func parseFloat(raw []byte) (float64, bool) {
	// Fast path: an integer of up to 15 digits is exact in a float64.
	neg := raw[0] == '-'
	digits := raw
	if neg {
		digits = raw[1:]
	}
	if len(digits) <= 15 {
		var n int64
		i := 0
		for ; i < len(digits) && isDigit(digits[i]); i++ {
			n = n*10 + int64(digits[i]-'0')
		}
		if i == len(digits) {
			if neg {
				return -float64(n), true
			}
			return float64(n), true
		}
	}
	f, err := strconv.ParseFloat(unsafe.String(unsafe.SliceData(raw), len(raw)), 64)
	return f, err == nil
}

// tsCode says why a numeric timestamp was refused.
type tsCode uint8

const (
	tsOK       tsCode = iota
	tsNegative        // a minus sign
	tsTooLarge        // beyond MaxTimestamp (the value overflowed while parsing)
	tsRange           // outside MinTimestamp..MaxTimestamp
)

// parseTimestamp converts a non-negative strict JSON number (checked by
// scanNumber) whose unit is 10^exp10 milliseconds into milliseconds,
// rounding down. It works on the decimal digits, so 1633956783.483 s is
// exactly 1633956783483 ms, with no float rounding.
func parseTimestamp(raw []byte, exp10 int) (int64, tsCode) {
	if raw[0] == '-' {
		return 0, tsNegative
	}
	i := 0
	for i < len(raw) && isDigit(raw[i]) {
		i++
	}
	intDigits := raw[:i]
	var fracDigits []byte
	if i < len(raw) && raw[i] == '.' {
		j := i + 1
		for i = j; i < len(raw) && isDigit(raw[i]); i++ {
		}
		fracDigits = raw[j:i]
	}
	exp := 0
	if i < len(raw) && (raw[i] == 'e' || raw[i] == 'E') {
		i++
		negExp := false
		if raw[i] == '+' || raw[i] == '-' {
			negExp = raw[i] == '-'
			i++
		}
		for ; i < len(raw); i++ {
			if exp < 1e6 { // far beyond any meaningful exponent; bounded
				exp = exp*10 + int(raw[i]-'0')
			}
		}
		if negExp {
			exp = -exp
		}
	}
	// The digits intDigits+fracDigits with the decimal point after the
	// first `point` of them form the value in milliseconds.
	point := len(intDigits) + exp + exp10
	total := len(intDigits) + len(fracDigits)
	var ms int64
	for k := 0; k < point; k++ {
		d := int64(0)
		switch {
		case k < len(intDigits):
			d = int64(intDigits[k] - '0')
		case k < total:
			d = int64(fracDigits[k-len(intDigits)] - '0')
		case ms == 0:
			k = point // only zeros remain
			continue
		}
		ms = ms*10 + d
		if ms >= MaxTimestamp {
			return 0, tsTooLarge
		}
	}
	if ms < MinTimestamp {
		return ms, tsRange
	}
	return ms, tsOK
}

// parseRFC3339 parses an RFC 3339 time, with or without fractional
// seconds, into Unix milliseconds (rounded down).
func parseRFC3339(s []byte) (int64, bool) {
	t, err := time.Parse(time.RFC3339, unsafe.String(unsafe.SliceData(s), len(s)))
	if err != nil {
		return 0, false
	}
	return t.UnixMilli(), true
}

// formatMs formats a Unix millisecond time for a message.
func formatMs(ms int64) string {
	return time.UnixMilli(ms).UTC().Format(time.RFC3339Nano)
}

var (
	minTimeText = formatMs(MinTimestamp)
	maxTimeText = formatMs(MaxTimestamp)
)

// isFinite reports whether f is neither NaN nor infinite.
func isFinite(f float64) bool { return !math.IsNaN(f) && !math.IsInf(f, 0) }
