// Package mqtt is the MQTT transport of premetrics: a Subscriber connects
// to a broker (MQTT 3.1.1, through paho.mqtt.golang), subscribes to topic
// filters, decodes each message payload with an injected Decoder and
// hands the batch to the ingest.Pipeline. It owns the connection, the
// acknowledgements and its self metrics; it does not know any payload
// format (the integrator injects the JSON and Influx decoders through a
// DecoderFunc).
//
//	broker ──PUBLISH──► paho ──onMessage──► queue (queue_size) ──► worker ──► Decode ──► topic labels ──► Pipeline.Ingest
//	   ▲                                                              │                                       │ nil
//	   └──────────────────────────── PUBACK (msg.Ack) ◄───────────────┴───────────────────────────────────────┘
//
// Acknowledgement and backpressure. Automatic acknowledgement is off: a
// QoS 1 message is acknowledged (PUBACK; PUBREC for QoS 2) only after
// Pipeline.Ingest returned nil for it. While Pipeline.Admit says no or
// Ingest returns an error (ErrBackoff or another), the worker holds the
// message unacknowledged, waits for the pipeline's hint (Admit's
// retryAfter or the error's RetryAfter(); 1s when there is none; at most
// 10s) and tries the same message again, counting
// premetrics_mqtt_messages_total{result="retried"} per wait. Messages
// behind it wait in the queue in order, and the broker, seeing no
// acknowledgements, stops sending once its in-flight window is full
// (max_inflight_messages, 20 in Mosquitto) and queues the rest in the
// session. The pipeline is never bypassed and nothing is dropped to make
// room. The payload is decoded afresh for every attempt because Ingest
// edits the batch in place. QoS 0 has no acknowledgement and no flow
// control: when the queue is full, paho's reader stops and TCP pushes
// back; as that reader also answers keep-alive pings, a queue that stays
// full for keep_alive + 10s makes paho drop the connection (the handler
// then gives up the message it was queueing), and the Subscriber
// reconnects.
//
// Bad input. A payload the decoder cannot use at all (it returns an
// error) is acknowledged, dropped and counted (result="malformed");
// redelivering poison forever would block the session. A payload with
// some rejected items is ingested without them, acknowledged and counted
// (result="rejected", and the rejected samples per reason in
// premetrics_ingest_rejected_samples_total{protocol="mqtt",reason}). A
// message on a topic that no configured filter matches (left over in a
// persistent session by an earlier config) is acknowledged and dropped
// (result="unmatched"). Warnings name the topic and the reason and are
// throttled to one per kind per 10s, with the number suppressed.
//
// Topic labels. TopicConfig.TopicLabels adds labels whose values are
// levels of the message's actual topic (vehicles/+/events with
// {vehicle_id: 1}: vehicles/v42/events gives vehicle_id="v42") to every
// series the decoder appended. The topic wins: a topic label replaces a
// payload label of the same name, because broker ACLs control who may
// publish where while the payload says whatever the device sends. An
// empty or absent level adds nothing. The topic is copied into the
// batch's byte arena, so the label values belong to the batch.
//
// Connections. Start returns at once: an unreachable broker or refused
// credentials are logged (throttled, saying why), shown as
// premetrics_mqtt_connected 0, and retried with exponential backoff
// (reconnect.min_backoff doubling to max_backoff, ±20% jitter); with
// required: true, Start waits for the first connection instead. Brokers
// are a failover list tried in order. The Subscriber subscribes to all
// its filters on the first connection and on every reconnect into a new
// session, and logs filters the broker refused; a reconnect into a
// present session (the broker kept it) does not subscribe again, because
// that would make the broker resend its retained messages. Retained
// messages are otherwise ingested like any other. With clean_session:
// false (the default) the broker
// keeps a persistent session for the client ID: subscriptions, QoS 1/2
// messages published while premetrics is away, and messages received but
// not acknowledged, which it delivers again on reconnect. So a held
// message whose connection is lost is abandoned (it will come again)
// instead of being ingested twice; with clean_session: true or QoS 0 it
// is still ingested. Delivery is at least once: a PUBACK lost with the
// connection means the broker sends that message again.
//
// Shutdown. Stop (safe without Start, idempotent, bounded by its
// context) stops queueing new messages, ingests the queued ones that the
// pipeline admits without waiting, abandons the rest unacknowledged
// (result="abandoned"; the broker redelivers QoS 1/2 of a persistent
// session), and disconnects cleanly. It does not unsubscribe: in a
// persistent session that would stop the broker from queueing messages
// until premetrics is back.
//
// Self metrics (one Metrics for all inputs):
//
//	premetrics_mqtt_messages_total{input,result}          accepted|rejected|malformed|unmatched|abandoned; retried per wait
//	premetrics_mqtt_connected{input,broker}                1 while connected to that broker
//	premetrics_mqtt_reconnects_total{input}                connections re-established after a loss
//	premetrics_ingest_samples_total{protocol="mqtt"}       samples ingested (shared with HTTP ingest)
//	premetrics_ingest_rejected_samples_total{protocol="mqtt",reason}  (shared with HTTP ingest)
package mqtt
