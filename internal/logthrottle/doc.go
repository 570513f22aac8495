// Package logthrottle rate-limits warnings that bad input can repeat
// at request rate (a malformed body, a rejected series, a broker that
// refuses the connection): at most one line per kind per interval, and
// that line says how many of its kind were suppressed since the last.
//
//	kind 0:  allow ──── suppressed ×2 ──── allow (suppressed=2) ───►
//	         t0         t0 < t < t0+every  t ≥ t0+every
//	kind 1:       allow (its own clock)
//
// Kinds are small integers, 0 to kinds-1, that the caller defines (one
// per message, often one per outcome.Reason). A Throttle is safe for
// concurrent use; Allow takes the time as an argument, so a test can
// drive it without a clock. It neither logs nor allocates: the caller
// logs when Allow says so, adding the suppressed count to the line.
package logthrottle
