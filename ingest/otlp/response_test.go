package otlp

import (
	"encoding/json"
	"strings"
	"testing"

	"google.golang.org/protobuf/encoding/protowire"

	"github.com/premetrics/premetrics/ingest/outcome"
)

func TestAppendResponse(t *testing.T) {
	var ok outcome.Result
	if got := AppendResponse(nil, Protobuf, &ok); len(got) != 0 {
		t.Errorf("protobuf success body %x, want empty", got)
	}
	if got := string(AppendResponse(nil, JSON, &ok)); got != "{}" {
		t.Errorf("JSON success body %s, want {}", got)
	}

	req := oneScope(gaugeOf("g", "", pt(1.0)),
		tMetric{name: "e", typ: "exphist", temporality: 2, points: []tPoint{{time: t0}, {time: t0}}})
	_, res := decodeWith(t, encodeProto(req, encOpts{}), false, testLimits, Options{})
	msg := res.Message(Protocol)
	if !strings.Contains(msg, "rejected 2 items") || !strings.Contains(msg, "exponential histograms") {
		t.Fatalf("message %q", msg)
	}

	// JSON: {"partialSuccess":{"rejectedDataPoints":"2","errorMessage":msg}}
	var resp struct {
		PartialSuccess struct {
			RejectedDataPoints string
			ErrorMessage       string
		}
	}
	body := AppendResponse([]byte("prefix"), JSON, res)
	if !strings.HasPrefix(string(body), "prefix") {
		t.Fatalf("dst not appended to: %s", body)
	}
	if err := json.Unmarshal(body[len("prefix"):], &resp); err != nil {
		t.Fatalf("%v: %s", err, body)
	}
	if resp.PartialSuccess.RejectedDataPoints != "2" || resp.PartialSuccess.ErrorMessage != msg {
		t.Errorf("JSON response %+v", resp)
	}

	// Protobuf: ExportMetricsServiceResponse{1: ExportMetricsPartialSuccess{1: 2, 2: msg}}.
	b := AppendResponse(nil, Protobuf, res)
	num, typ, n := protowire.ConsumeTag(b)
	if num != 1 || typ != protowire.BytesType {
		t.Fatalf("field %d type %d", num, typ)
	}
	ps, m := protowire.ConsumeBytes(b[n:])
	if n+m != len(b) {
		t.Fatalf("trailing bytes in %x", b)
	}
	var rejected uint64
	var errMsg string
	for len(ps) > 0 {
		num, typ, n := protowire.ConsumeTag(ps)
		ps = ps[n:]
		switch {
		case num == 1 && typ == protowire.VarintType:
			rejected, n = protowire.ConsumeVarint(ps)
		case num == 2 && typ == protowire.BytesType:
			var v []byte
			v, n = protowire.ConsumeBytes(ps)
			errMsg = string(v)
		default:
			t.Fatalf("unexpected field %d type %d", num, typ)
		}
		if n < 0 {
			t.Fatal("bad protobuf")
		}
		ps = ps[n:]
	}
	if rejected != 2 || errMsg != msg {
		t.Errorf("protobuf response: rejected %d, message %q", rejected, errMsg)
	}
}

func TestAppendStatus(t *testing.T) {
	var st struct {
		Code    int32
		Message string
	}
	if err := json.Unmarshal(AppendStatus(nil, JSON, 3, `bad "input" <here>`), &st); err != nil || st.Code != 3 || st.Message != `bad "input" <here>` {
		t.Errorf("JSON status %+v, %v", st, err)
	}
	b := AppendStatus(nil, Protobuf, 3, "bad")
	want := protowire.AppendTag(nil, 1, protowire.VarintType)
	want = protowire.AppendVarint(want, 3)
	want = protowire.AppendTag(want, 2, protowire.BytesType)
	want = protowire.AppendString(want, "bad")
	if string(b) != string(want) {
		t.Errorf("protobuf status %x, want %x", b, want)
	}
	if JSON.ContentType() != "application/json" || Protobuf.ContentType() != "application/x-protobuf" {
		t.Error("content types")
	}
}
