// Package jsonevent maps JSON device events to series, by a named input
// of the `inputs: json:` config list, for POST /api/v1/push/{name}. It is
// a pure decoder over bytes: no I/O, no metrics, no logging. It follows
// the contract of package ingest/outcome; its items are events
// (ItemKind "event", Item = the 0-based index of the event in the
// request).
//
//	Config ──Compile──► *Mapping (immutable, shared by concurrent requests)
//	body ──► Mapping.Decode(body, batch, limits, now, *Scratch, *Result)
//	             │ per event: match `when` → timestamp → value, labels → limits
//	             ▼
//	         batch: one series with one sample per matched metric
//
// # Body
//
// Decode takes three shapes, told apart by the first byte that is not
// whitespace (a UTF-8 byte order mark is skipped) and by the content:
//
//   - '[': an array of events. The whole array must be valid JSON,
//     otherwise Decode returns an *outcome.Error (400) and keeps nothing:
//     after a syntax error the rest of an array cannot be split into
//     events safely. An element that is valid JSON but not an object is
//     one rejected event (malformed).
//   - NDJSON: one event per line, when the body has a second non-blank
//     line and its first line does not end inside a JSON value. Blank
//     lines are skipped and are not events; a line may end in "\r\n". A
//     line that is not valid JSON, or holds more than one value, is one
//     rejected event (malformed); the other lines are decoded.
//   - otherwise one JSON value (an object, possibly pretty-printed over
//     several lines). Invalid JSON is an *outcome.Error, like an array.
//
// An empty body (or only whitespace) is an empty request. JSON is strict
// (RFC 8259: no NaN, no trailing commas, no comments, no control
// characters in strings); objects and arrays nest at most MaxDepth deep.
// A duplicate key: the first one counts. Strings are not checked for
// UTF-8 here; a label value that is not UTF-8 is rejected
// (invalid_label_value) by Limits.CheckSeries.
//
// Limits. A body over Limits.MaxDecodedBytes is an *outcome.Error
// (outcome.ErrTooLarge, 413). Limits.MaxLineBytes bounds every event: an
// NDJSON line, an array element, a single object. An event over it is
// rejected (line_too_long) without being parsed, which also bounds the
// parser's memory to a small multiple of MaxLineBytes; set it.
//
// # Config
//
//	inputs:
//	  json:
//	    - name: vehicles                                   # [a-zA-Z0-9_-]+: POST /api/v1/push/vehicles
//	      timestamp: {field: timestamp, unit: ms}          # optional; s|ms|us|ns|rfc3339, default ms
//	      labels: {vehicle_id: vehicleId, region: region}  # label name: dotted field path
//	      const_labels: {source: fleet}                    # optional constant labels
//	      metrics:
//	        - {name: vehicle_rpm, value: measurement, labels: {engine: ic}, when: {eventType: IC_RPM}}
//	        - {name: vehicle_rpm, value: measurement, labels: {engine: electric}, when: {eventType: ELECTRIC_RPM}}
//	        - {name: vehicle_warnings, value: measurement, when: {eventType: WARNINGS}}
//
// Field paths are dotted: "a.b.c" reads {"a": {"b": {"c": ...}}}; a
// segment that is a decimal number indexes an array ("readings.0.v"). A
// key that contains a dot cannot be addressed.
//
// timestamp. Absent from the config: every event gets the receive time
// (Decode's now). Otherwise the field holds the event time; an event
// without the field, or with null, gets the receive time. Units s, ms,
// us, ns take a JSON number or a string holding one ("1730621749123");
// they are converted in decimal, exactly, and rounded down to the
// millisecond, so fractional seconds (1633956783.483) and nanoseconds
// both work. rfc3339 takes a string like 2024-11-03T08:15:49.123Z or
// 2024-11-03T09:15:49+01:00. A time that does not parse, is negative, or
// is outside [MinTimestamp, MaxTimestamp) = [2000-01-01, 2200-01-01) is
// rejected (bad_timestamp): such values are almost always a wrong unit
// or a clock that was never set.
//
// metrics. Every metric whose `when` matches the event yields one series
// (several may match one event, e.g. cpu_usage and cpu_idle read from
// two fields of the same event); metrics without `when` match every
// event. An event that no metric matches is rejected (unmapped).
//
//   - name: a Prometheus legacy metric name, [a-zA-Z_:][a-zA-Z0-9_:]*.
//   - value: the field of the sample value: a number; a string holding a
//     JSON number ("87.28", accepted because devices often quote numbers);
//     true or false (1 or 0). Anything else is wrong_type; a number beyond
//     float64 range is bad_value.
//   - labels: constant labels of this metric; labels_from: label name to
//     field path, for this metric only.
//   - when: field path to the value it must hold; all entries must hold.
//     A value is a JSON scalar compared by type: a YAML string matches a
//     JSON string (write "42" quoted to match the string "42"), a number
//     matches a number numerically (1 matches 1.0), a bool a bool. A list
//     is alternatives: {eventType: [IC_RPM, ELECTRIC_RPM]}. An absent
//     field never matches.
//
// Labels of a series: __name__, the input's labels and const_labels, the
// metric's labels and labels_from. Validate rejects a label name set
// twice, names starting with __, and names outside
// [a-zA-Z_][a-zA-Z0-9_]*. A label read from a field takes a string, a
// number (its JSON text as sent: 12, 1.50, 1e3) or a bool ("true",
// "false"). An empty string or null gives no label (Prometheus: an empty
// value is an absent label); an absent field is missing_field; an object
// or array is wrong_type. Every series then passes Limits.CheckSeries.
//
// # Events are all or nothing
//
// An event is accepted when every metric it matches yields a valid
// series; otherwise it is rejected as a whole with the first problem, in
// this order: malformed or line_too_long, unmapped, bad_timestamp, then
// per matched metric in config order its value (missing_field,
// wrong_type, bad_value), its labels in name order (missing_field,
// wrong_type), and the label limits (too_many_labels, ...). A rejection's
// Samples is the number of metrics the event matched (1 for an event
// rejected before matching), so Result.RejectedSamples is the number of
// samples lost. The valid events of a request are kept; the transport
// answers 400 with Result.Message when any event was rejected.
//
// Details name the field path, e.g. `field "measurement": want a number,
// got a string`, `field "vehicleId" is missing (label vehicle_id of
// vehicle_rpm)`, `no metric matches the event ("eventType": "SPEED")`;
// NDJSON syntax errors say `line 7, column 12: invalid JSON: ...`.
//
// # Memory ownership
//
// Label values read from events are copied into the batch arena
// (b.Bytes): body may be reused as soon as Decode returns, and the
// parser reuses its buffers for the next event. Constant labels and
// metric names alias the immutable Mapping. A Scratch holds the parser
// and per-event buffers; one Decode at a time uses it. With a reused
// Scratch, Batch and Result, decoding valid events allocates nothing
// (rfc3339 times with an offset other than whole hours excepted).
//
// # Example: connected vehicles (SCENARIOS 1)
//
// With the config above, NDJSON lines
//
//	{"eventType": "IC_RPM", "vehicleId": "V0000012345", "region": "UK", "timestamp": 1730621749123, "measurement": 2356}
//	{"eventType": "WARNINGS", "vehicleId": "V0000012345", "region": "UK", "timestamp": 1730621750000, "measurement": 2}
//	{"eventType": "SPEED", "vehicleId": "V0000012345", "region": "UK", "timestamp": 1730621750000, "measurement": 88}
//
// yield
//
//	vehicle_rpm{engine="ic", region="UK", vehicle_id="V0000012345"} 2356 @1730621749123
//	vehicle_warnings{region="UK", vehicle_id="V0000012345"} 2 @1730621750000
//
// and one rejection: `event 2: unmapped: no metric matches the event
// ("eventType": "SPEED")`.
//
// # Example: per-device CPU (SCENARIOS 2)
//
//	inputs:
//	  json:
//	    - name: hosts
//	      timestamp: {field: occurred_at, unit: ms}
//	      labels: {hostname: hostname, cpu: cpu}
//	      metrics:
//	        - {name: cpu_usage_percent, value: usage}
//
// maps {"hostname": "sleepy", "cpu": "cpu2", "usage": 87.28,
// "occurred_at": 1633956783483} to
//
//	cpu_usage_percent{cpu="cpu2", hostname="sleepy"} 87.28 @1633956783483
package jsonevent
