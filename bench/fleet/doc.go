// Package fleet simulates the connected-vehicle fleet of SCENARIOS.md
// scenario 1 and encodes its readings as the JSON events vehicles push
// (POST /api/v1/push/vehicles) or as Prometheus remote write 1.0
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
// # JSON events (EventEncoder)
//
// Each reading becomes three events, one NDJSON line each, with exactly
// the fields of SCENARIOS.md, in its order:
//
//	{"eventType":"IC_RPM","vehicleId":"V0000012345","region":"UK","timestamp":1730621749123,"measurement":2356}
//	{"eventType":"ELECTRIC_RPM","vehicleId":"V0000012345","region":"UK","timestamp":1730621749123,"measurement":-512}
//	{"eventType":"WARNINGS","vehicleId":"V0000012345","region":"UK","timestamp":1730621749123,"measurement":1}
//
// timestamp is the event time in Unix ms; measurements are whole numbers.
// The model is not in the events: it comes from the vehicle registry
// (Registry writes it as CSV) through enrichment. A body is the lines of
// a batch of events, optionally gzipped. The `vehicles` input of
// config.example.yaml maps them to the series below, without model.
// AppendEventHead, EventMeasurement and EventEnd are the parts of a line,
// for pre-encoders (bench/load).
//
// # Remote write (Encoder)
//
// Each reading becomes three series with one sample:
//
//	vehicle_rpm{vehicle_id, region, model, engine="ic"}
//	vehicle_rpm{vehicle_id, region, model, engine="electric"}
//	vehicle_warnings{vehicle_id, region, model}
//
// stamped with the event time in milliseconds. The model label stands in
// for the vehicle-registry enrichment; Options.NoModelLabel leaves it off.
//
// # Ground truth
//
// Truth computes, from the readings, what the reference pipeline must
// output per 5 s window: vehicles in motion and the sum of each vehicle's
// latest warning count, per region, and per model and region when the
// series carry the model label.
package fleet
