// Package fleet simulates the connected-vehicle fleet of SCENARIOS.md
// scenario 1 and encodes its readings as Prometheus remote write 1.0
// requests. It is deterministic: the same Options give the same vehicles
// and the same readings, tick after tick.
//
// A vehicle has a fixed ID ("V" + 10 digits), region (one of 20, skewed:
// US most common), model (one of 7) and a phase within the reading
// interval. Each tick it reports three readings of a hybrid drive train:
//
//	IC_RPM        combustion engine rpm, 0..3000
//	ELECTRIC_RPM  electric motor rpm, -10000..10000 (negative: regenerating)
//	WARNINGS      warning lights on, 0..5
//
// Motion is a two-state Markov chain with persistence: a vehicle is
// stopped (both rpm 0) about StoppedFraction of the time, for
// MeanStopTicks ticks on average. A moving vehicle's combustion engine
// may be off (electric only), but its electric motor turns, so "moving"
// is "any rpm is non-zero". Warnings change rarely, one light at a time.
//
// As remote write, each reading becomes three series with one sample:
//
//	vehicle_rpm{vehicle_id, region, model, engine="ic"}
//	vehicle_rpm{vehicle_id, region, model, engine="electric"}
//	vehicle_warnings{vehicle_id, region, model}
//
// stamped with the event time in milliseconds. The model label is what the
// vehicle-registry enrichment will add once it exists; Options.ModelLabel
// turns it off for that day (Registry writes the matching CSV).
//
// Truth computes, from the readings, what the reference pipeline must
// output per 5 s window: vehicles in motion and the sum of each vehicle's
// latest warning count, per model and region.
package fleet
