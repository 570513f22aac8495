// Package rwtest is a scripted fake Prometheus remote-write 1.0 receiver
// for tests.
//
// A Receiver is an HTTP server on 127.0.0.1 that decodes every request
// with the reference decoder (snappy + prometheus/prompb), checks it the
// way a strict receiver would, records it, and answers:
//
//  1. a malformed request (method, Content-Encoding, Content-Type, body,
//     labels not sorted/unique) gets 400, 405 or 415 with the reason;
//  2. otherwise the next scripted Response, if any is left (Script);
//  3. otherwise the response of the first rejected series (RejectSeries)
//     the request contains;
//  4. otherwise the default response (SetDefault; initially 204).
//
// Only requests answered with 2xx are stored, like a real receiver would.
// Series are identified by batch.String of their labels, e.g.
// `cpu{host="a", region="eu"}`. Tests read what arrived with Samples,
// Stored, SampleCount and Requests, and wait for it with Wait or
// WaitSamples (no sleeps).
package rwtest
