package jsonevent_test

import (
	"fmt"
	"strings"

	"gopkg.in/yaml.v3"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/jsonevent"
	"github.com/premetrics/premetrics/ingest/outcome"
)

func decodeAndPrint(config, body string) {
	var c jsonevent.Config
	dec := yaml.NewDecoder(strings.NewReader(config))
	dec.KnownFields(true)
	if err := dec.Decode(&c); err != nil {
		panic(err)
	}
	m, err := jsonevent.Compile(c)
	if err != nil {
		panic(err)
	}
	b := batch.GetBatch()
	defer batch.PutBatch(b)
	s := jsonevent.GetScratch()
	defer jsonevent.PutScratch(s)
	var res outcome.Result
	const receivedAt = 1730621760000
	if err := m.Decode([]byte(body), b, outcome.Limits{MaxLineBytes: 1 << 16}, receivedAt, s, &res); err != nil {
		panic(err)
	}
	for _, ser := range b.Series {
		fmt.Printf("%s %v @%d\n", batch.String(ser.Labels), ser.Samples[0].Value, ser.Samples[0].Timestamp)
	}
	for _, r := range res.Rejected {
		fmt.Printf("%s %d: %s: %s\n", r.ItemKind, r.Item, r.Reason, r.Detail)
	}
}

// Connected vehicles (SCENARIOS.md 1), NDJSON.
func ExampleMapping_Decode_vehicles() {
	decodeAndPrint(`
name: vehicles
timestamp: {field: timestamp, unit: ms}
labels: {vehicle_id: vehicleId, region: region}
metrics:
  - {name: vehicle_rpm, value: measurement, labels: {engine: ic}, when: {eventType: IC_RPM}}
  - {name: vehicle_rpm, value: measurement, labels: {engine: electric}, when: {eventType: ELECTRIC_RPM}}
  - {name: vehicle_warnings, value: measurement, when: {eventType: WARNINGS}}
`, `{"eventType": "IC_RPM", "vehicleId": "V0000012345", "region": "UK", "timestamp": 1730621749123, "measurement": 2356}
{"eventType": "WARNINGS", "vehicleId": "V0000012345", "region": "UK", "timestamp": 1730621750000, "measurement": 2}
{"eventType": "SPEED", "vehicleId": "V0000012345", "region": "UK", "timestamp": 1730621750000, "measurement": 88}
`)
	// Output:
	// vehicle_rpm{engine="ic", region="UK", vehicle_id="V0000012345"} 2356 @1730621749123
	// vehicle_warnings{region="UK", vehicle_id="V0000012345"} 2 @1730621750000
	// event 2: unmapped: no metric matches the event ("eventType": "SPEED")
}

// Per-device CPU (SCENARIOS.md 2), one object.
func ExampleMapping_Decode_hosts() {
	decodeAndPrint(`
name: hosts
timestamp: {field: occurred_at, unit: ms}
labels: {hostname: hostname, cpu: cpu}
metrics:
  - {name: cpu_usage_percent, value: usage}
`, `{"hostname": "sleepy", "cpu": "cpu2", "usage": 87.28, "occurred_at": 1633956783483}`)
	// Output:
	// cpu_usage_percent{cpu="cpu2", hostname="sleepy"} 87.28 @1633956783483
}
