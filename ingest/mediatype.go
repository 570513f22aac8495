package ingest

import "strings"

// rwFormat is what a Content-Type asks the remote write endpoint for.
type rwFormat uint8

const (
	rwV1       rwFormat = iota // prometheus.WriteRequest (or no proto parameter)
	rwV2                       // io.prometheus.write.v2.Request
	rwBadMedia                 // not application/x-protobuf
	rwBadProto                 // some other proto parameter
)

const (
	protoV1       = "prometheus.WriteRequest"
	protoV2       = "io.prometheus.write.v2.Request"
	mediaProtobuf = "application/x-protobuf"
)

// parseRemoteWriteType classifies a Content-Type header value without
// allocating. An empty value is remote write 1.0, as in Prometheus.
func parseRemoteWriteType(ct string) (rwFormat, string) {
	if ct == "" {
		return rwV1, ""
	}
	media, params, _ := strings.Cut(ct, ";")
	if !strings.EqualFold(strings.TrimSpace(media), mediaProtobuf) {
		return rwBadMedia, ""
	}
	for params != "" {
		var p string
		p, params, _ = strings.Cut(params, ";")
		k, v, _ := strings.Cut(p, "=")
		if !strings.EqualFold(strings.TrimSpace(k), "proto") {
			continue
		}
		v = strings.Trim(strings.TrimSpace(v), `"`)
		switch v {
		case protoV1:
			return rwV1, v
		case protoV2:
			return rwV2, v
		}
		return rwBadProto, v
	}
	return rwV1, ""
}
