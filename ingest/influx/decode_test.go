package influx

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/internal/decodertest"
	"github.com/premetrics/premetrics/ingest/outcome"
)

// dec is Decode under the checks shared with the other line decoders:
// dec.Check(t, body, opts) decodes a table test's body.
var dec = decodertest.Decoder[Options]{Decode: Decode, ItemKind: ItemKind}

func TestDecodeAccepts(t *testing.T) {
	tests := []struct {
		name  string
		body  string
		opts  Options
		want  string
		items int
	}{
		{
			name:  "telegraf cpu",
			body:  "cpu,cpu=cpu0,host=a usage_idle=98.5,usage_user=1.25 1700000000123456789\n",
			want:  "cpu_usage_idle{cpu=\"cpu0\", host=\"a\"} 98.5 @1700000000123\ncpu_usage_user{cpu=\"cpu0\", host=\"a\"} 1.25 @1700000000123\n",
			items: 1,
		},
		{
			name:  "no timestamp takes Now",
			body:  "mem used=5i",
			opts:  Options{Now: 42},
			want:  "mem_used{} 5 @42\n",
			items: 1,
		},
		{
			name: "field types",
			body: `t f=1,g=-1.5,h=.5,i=2e-3,j=+1E6,k=12i,l=-12i,m=12u,n=t,o=FALSE,p=True,q="s",r=F,s=-9223372036854775808i,u=18446744073709551615u 1000000`,
			want: "t_f{} 1 @1\nt_g{} -1.5 @1\nt_h{} 0.5 @1\nt_i{} 0.002 @1\nt_j{} 1e+06 @1\nt_k{} 12 @1\nt_l{} -12 @1\n" +
				"t_m{} 12 @1\nt_n{} 1 @1\nt_o{} 0 @1\nt_p{} 1 @1\nt_r{} 0 @1\nt_s{} -9.223372036854776e+18 @1\nt_u{} 1.8446744073709552e+19 @1\n",
			items: 1,
		},
		{
			name:  "string fields are skipped, with separators and escapes inside",
			body:  `log,host=a msg="a, b=c \"d\" \\",n=1i,msg2="x y" 5000000`,
			want:  "log_n{host=\"a\"} 1 @5\n",
			items: 1,
		},
		{
			name:  "escapes",
			body:  `my\ meas\,x,mount\ point=/a\,b\=c\ d\\e\q f\=1=1 0`,
			want:  "my_meas_x_f_1{mount_point=\"/a,b=c d\\\\e\\\\q\"} 1 @0\n",
			items: 1,
		},
		{
			name: "names are sanitized for Prometheus 2",
			body: "disk.io,1st=x,température=20,a:b=c read-bytes=1i,9=2 0\n1m,x=y v=1 0\na=b v=1 0\n",
			want: "disk_io_read_bytes{_1st=\"x\", a_b=\"c\", temp_rature=\"20\"} 1 @0\ndisk_io_9{_1st=\"x\", a_b=\"c\", temp_rature=\"20\"} 2 @0\n" +
				"_1m_v{x=\"y\"} 1 @0\na_b_v{} 1 @0\n",
			items: 3,
		},
		{
			name:  "colons stay in metric names",
			body:  "job:rate v=1 0",
			want:  "job:rate_v{} 1 @0\n",
			items: 1,
		},
		{
			name:  "empty tag values are dropped",
			body:  "m,a=,b=2,c= v=1 0\nm,host=a,host= v=2 0",
			want:  "m_v{b=\"2\"} 1 @0\nm_v{host=\"a\"} 2 @0\n",
			items: 2,
		},
		{
			name:  "comments, blank lines, CRLF, blanks",
			body:  "# comment\n\n   \r\n  m v=1   2000000  \r\n\tm v=2\n  # indented comment\n",
			opts:  Options{Now: 7},
			want:  "m_v{} 1 @2\nm_v{} 2 @7\n",
			items: 2,
		},
		{
			name:  "only string fields",
			body:  `m s="x"`,
			want:  "",
			items: 1,
		},
		{
			name:  "names of the previous lines are reused only when they match",
			body:  "cpu a=1,b=2 0\ncpu a=3,c=4 0\nmem a=5 0\ncpu x=\"s\",a=6 0\n",
			want:  "cpu_a{} 1 @0\ncpu_b{} 2 @0\ncpu_a{} 3 @0\ncpu_c{} 4 @0\nmem_a{} 5 @0\ncpu_a{} 6 @0\n",
			items: 4,
		},
		{
			name:  "no trailing newline, unsorted tags",
			body:  "m,z=1,a=2 v=0.1 3000000",
			want:  "m_v{a=\"2\", z=\"1\"} 0.1 @3\n",
			items: 1,
		},
		{
			name:  "precision s",
			body:  "m v=1 1700000000",
			opts:  Options{Precision: Second},
			want:  "m_v{} 1 @1700000000000\n",
			items: 1,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, res := dec.Check(t, tt.body, tt.opts)
			if got := decodertest.Render(b); got != tt.want {
				t.Errorf("batch:\n got %s\nwant %s", got, tt.want)
			}
			if res.Items != tt.items || res.RejectedItems != 0 {
				t.Errorf("items %d rejected %d (%+v), want %d and 0", res.Items, res.RejectedItems, res.Rejected, tt.items)
			}
		})
	}
}

func TestDecodePrecision(t *testing.T) {
	tests := []struct {
		param string
		ts    string
		want  int64
	}{
		{"", "1700000000123456789", 1700000000123},
		{"n", "1999999", 1},
		{"ns", "999999", 0},
		{"u", "1700000000123456", 1700000000123},
		{"us", "1700000000123456", 1700000000123},
		{"µ", "1700000000123999", 1700000000123},
		{"ms", "1700000000123", 1700000000123},
		{"s", "1700000000", 1700000000000},
		{"m", "28333333", 1699999980000},
		{"h", "472222", 1699999200000},
		{"h", "2562047788015", 2562047788015 * 3600000},
	}
	for _, tt := range tests {
		p, err := ParsePrecision(tt.param)
		if err != nil {
			t.Fatalf("ParsePrecision(%q): %v", tt.param, err)
		}
		b, _ := dec.Check(t, "m v=1 "+tt.ts, Options{Precision: p})
		if b.Len() != 1 || b.Series[0].Samples[0].Timestamp != tt.want {
			t.Errorf("precision %q, timestamp %s: got %s, want @%d", tt.param, tt.ts, decodertest.Render(b), tt.want)
		}
	}
}

func TestParsePrecision(t *testing.T) {
	want := map[string]Precision{
		"": Nanosecond, "n": Nanosecond, "ns": Nanosecond, "u": Microsecond, "us": Microsecond,
		"µ": Microsecond, "μ": Microsecond, "ms": Millisecond, "s": Second, "m": Minute, "h": Hour,
	}
	for s, p := range want {
		if got, err := ParsePrecision(s); err != nil || got != p {
			t.Errorf("ParsePrecision(%q) = %v, %v; want %v", s, got, err, p)
		}
	}
	for _, s := range []string{"x", "NS", "sec", "mus", "d"} {
		_, err := ParsePrecision(s)
		if !errors.Is(err, outcome.ErrMalformed) || !strings.Contains(err.Error(), fmt.Sprintf("invalid precision %q", s)) {
			t.Errorf("ParsePrecision(%q): got %v, want a malformed error naming it", s, err)
		}
	}
	for p, s := range map[Precision]string{Nanosecond: "ns", Microsecond: "us", Millisecond: "ms", Second: "s", Minute: "m", Hour: "h"} {
		if p.String() != s {
			t.Errorf("%d.String() = %q, want %q", p, p.String(), s)
		}
	}
}

// TestDecodeRejects puts each bad line between two good ones: the bad line
// alone is rejected, with its line number, reason and detail.
func TestDecodeRejects(t *testing.T) {
	long33 := strings.Repeat("v", 33)
	m30 := strings.Repeat("m", 30)
	tests := []struct {
		line    string
		opts    Options
		reason  outcome.Reason
		detail  string
		series  string
		samples int
	}{
		{line: "cpu,host=a", reason: outcome.ReasonMalformed, detail: "column 11: missing fields"},
		{line: "cpu,host=a  ", reason: outcome.ReasonMalformed, detail: "column 11: missing fields"},
		{line: ",host=a v=1", reason: outcome.ReasonMalformed, detail: "column 1: missing measurement"},
		{line: "  ,x v=1", reason: outcome.ReasonMalformed, detail: "column 3: missing measurement"},
		{line: "cpu,host v=1", reason: outcome.ReasonMalformed, detail: `column 9: missing "=" after tag key "host"`},
		{line: "cpu,=a v=1", reason: outcome.ReasonMalformed, detail: "column 5: missing tag key"},
		{line: "cpu,a=1, v=1", reason: outcome.ReasonMalformed, detail: "column 9: missing tag key"},
		{line: "cpu,a=b=c v=1", reason: outcome.ReasonMalformed, detail: `column 8: unescaped "=" in tag value`},
		{line: "cpu v", reason: outcome.ReasonMalformed, detail: `column 6: missing "=" after field key "v"`},
		{line: "cpu =1", reason: outcome.ReasonMalformed, detail: "column 5: missing field key"},
		{line: "cpu v=", reason: outcome.ReasonMalformed, detail: `column 7: field "v": missing value`},
		{line: "cpu v=1,", reason: outcome.ReasonMalformed, detail: "column 9: missing field key"},
		{line: `cpu s="abc`, reason: outcome.ReasonMalformed, detail: `column 7: field "s": unterminated string`},
		{line: `cpu s="abc\"`, reason: outcome.ReasonMalformed, detail: `column 7: field "s": unterminated string`},
		{line: `cpu s="a"b`, reason: outcome.ReasonMalformed, detail: `column 10: field "s": unexpected text after string`},
		{line: "cpu v=1 123 456", reason: outcome.ReasonMalformed, detail: "column 13: unexpected text after timestamp"},
		{line: "cpu temp=1.2.3 0", reason: outcome.ReasonBadValue, samples: 1, detail: `column 10: field "temp": invalid float "1.2.3"`},
		{line: `cpu a=1,n\ x=9223372036854775808i`, reason: outcome.ReasonBadValue, samples: 2,
			detail: `column 14: field "n x": integer "9223372036854775808i" out of range`},
		{line: "cpu n=1.5i", reason: outcome.ReasonBadValue, samples: 1, detail: `column 7: field "n": invalid integer "1.5i"`},
		{line: "cpu u=-1u", reason: outcome.ReasonBadValue, samples: 1, detail: `column 7: field "u": invalid unsigned integer "-1u"`},
		{line: "cpu u=18446744073709551616u", reason: outcome.ReasonBadValue, samples: 1,
			detail: `column 7: field "u": unsigned integer "18446744073709551616u" out of range`},
		{line: "cpu b=yes", reason: outcome.ReasonBadValue, samples: 1,
			detail: `column 7: field "b": invalid value "yes": want a number, a boolean or a quoted string`},
		{line: "cpu f=NaN", reason: outcome.ReasonBadValue, samples: 1,
			detail: `column 7: field "f": invalid value "NaN": want a number, a boolean or a quoted string`},
		{line: "cpu f=0x10", reason: outcome.ReasonBadValue, samples: 1, detail: `column 7: field "f": invalid float "0x10"`},
		{line: "cpu f=1_000", reason: outcome.ReasonBadValue, samples: 1, detail: `column 7: field "f": invalid float "1_000"`},
		{line: "cpu f=1e400", reason: outcome.ReasonBadValue, samples: 1, detail: `column 7: field "f": float "1e400" out of range`},
		{line: `cpu v=1,s="x",w=2 1.5`, reason: outcome.ReasonBadTimestamp, samples: 2, detail: `column 19: invalid timestamp "1.5"`},
		{line: "cpu v=1 -5", reason: outcome.ReasonBadTimestamp, samples: 1, detail: `column 9: timestamp "-5" is negative (before 1970)`},
		{line: "cpu v=1 99999999999999999999", reason: outcome.ReasonBadTimestamp, samples: 1,
			detail: `column 9: timestamp "99999999999999999999" out of range`},
		{line: "cpu v=1 2562047788016", opts: Options{Precision: Hour}, reason: outcome.ReasonBadTimestamp, samples: 1,
			detail: `column 9: timestamp "2562047788016" out of range at precision h`},
		{line: "cpu,a=1,b=2,c=3,d=4,e=5 v=1", reason: outcome.ReasonTooManyLabels, samples: 1,
			detail: "6 labels, limit 5", series: `cpu_v{a="1", b="2", c="3", d="4", e="5"}`},
		{line: "cpu,abcdefghijklmnopq=1 v=1", reason: outcome.ReasonLabelNameTooLong, samples: 1,
			detail: `label name "abcdefghijklmnopq" is 17 bytes, limit 16`, series: `cpu_v{abcdefghijklmnopq="1"}`},
		{line: "cpu,a=" + long33 + " v=1", reason: outcome.ReasonLabelValueTooLong, samples: 1,
			detail: `value of label "a" is 33 bytes, limit 32`, series: `cpu_v{a="` + long33 + `"}`},
		{line: "cpu,a=\xff v=1", reason: outcome.ReasonInvalidLabelValue, samples: 1,
			detail: `value of label "a" is not valid UTF-8`, series: "cpu_v{a=\"\xff\"}"},
		{line: "cpu,host=a,host=b v=1,w=2", reason: outcome.ReasonDuplicateLabel, samples: 2, detail: `tag "host" appears more than once`},
		{line: "cpu,a.b=1,a_b=2 v=1", reason: outcome.ReasonDuplicateLabel, samples: 1, detail: `tags "a.b" and "a_b" both become label "a_b"`},
		{line: "cpu,__name__=x v=1", reason: outcome.ReasonDuplicateLabel, samples: 1, detail: `tag "__name__" clashes with the metric name label`},
		{line: m30 + "1 v=1", reason: outcome.ReasonLabelValueTooLong, samples: 1,
			detail: `value of label "__name__" is 33 bytes, limit 32`, series: m30 + "1_v{}"},
		{line: m30 + " v=1,ww=2", reason: outcome.ReasonLabelValueTooLong, samples: 2,
			detail: `field "ww": value of label "__name__" is 33 bytes, limit 32`},
		{line: "m v=1 " + strings.Repeat("1", 195), reason: outcome.ReasonLineTooLong, detail: "line is 201 bytes, limit 200"},
	}
	for _, tt := range tests {
		t.Run(tt.line, func(t *testing.T) {
			body := "good v=1 0\n" + tt.line + "\r\ngood v=2 0\n"
			b, res := dec.Check(t, body, tt.opts)
			decodertest.CheckOneRejected(t, b, res, "good_v{} 1 @0\ngood_v{} 2 @0\n",
				outcome.Rejection{Item: 2, ItemKind: "line", Series: tt.series, Reason: tt.reason, Samples: tt.samples, Detail: tt.detail})
		})
	}
}

func TestDecodeManyRejections(t *testing.T) {
	var sb strings.Builder
	for range 12 {
		sb.WriteString("bad\n")
	}
	sb.WriteString("ok v=1 0\n")
	b, res := dec.Check(t, sb.String(), Options{})
	if b.Len() != 1 || res.RejectedItems != 12 || len(res.Rejected) != outcome.MaxRejectionDetails || res.RejectedByReason[outcome.ReasonMalformed] != 12 {
		t.Fatalf("got %d series, result %+v", b.Len(), res)
	}
	msg := res.Message("influx")
	if !strings.HasPrefix(msg, "influx: accepted 1 samples of 1 series; rejected 12 items (0 samples)\nline 1: malformed: column 4: missing fields\n") ||
		!strings.HasSuffix(msg, "line 10: malformed: column 4: missing fields\n... and 2 more rejected items") {
		t.Errorf("message:\n%s", msg)
	}
}

func TestDecodeDoesNotRetainBodyAndAppends(t *testing.T) {
	dec.CheckAppends(t, `cpu,host=a,mount\ point=x\,y usage=1,idle=2 0`+"\n"+`cpu,host=b usage=3 0`, decodertest.Limits, Options{},
		"cpu_usage{host=\"a\", mount_point=\"x,y\"} 1 @0\ncpu_idle{host=\"a\", mount_point=\"x,y\"} 2 @0\ncpu_usage{host=\"b\"} 3 @0\n")
}

func TestDecodeRequestErrors(t *testing.T) {
	b := &batch.Batch{}
	var res outcome.Result
	err := Decode([]byte("m v=1 0\n"), b, outcome.Limits{MaxDecodedBytes: 7}, Options{}, &res)
	if !errors.Is(err, outcome.ErrTooLarge) || err.Error() != "body is 8 bytes, limit 7" {
		t.Errorf("over MaxDecodedBytes: got %v", err)
	}
	err = Decode([]byte("m v=1 0\n"), b, outcome.Limits{}, Options{Precision: numPrecisions}, &res)
	if !errors.Is(err, outcome.ErrMalformed) {
		t.Errorf("invalid precision: got %v", err)
	}
	if b.Len() != 0 {
		t.Errorf("a failed Decode appended %d series", b.Len())
	}
	if err := Decode(nil, b, decodertest.Limits, Options{}, &res); err != nil || b.Len() != 0 || res.Items != 0 {
		t.Errorf("empty body: %v, %d series, %+v", err, b.Len(), res)
	}
}

// TestDecodeNameCacheMatchesLineByLine decodes more measurements and
// fields than the name cache holds, twice over, and compares with
// decoding each line alone (an empty cache).
func TestDecodeNameCacheMatchesLineByLine(t *testing.T) {
	var body strings.Builder
	for round := range 2 {
		for m := range 2 * nameGroups {
			fmt.Fprintf(&body, "m%d,host=h ", m)
			for f := range groupFields + 4 {
				if f > 0 {
					body.WriteByte(',')
				}
				fmt.Fprintf(&body, "f%d=%di", (f+round)%(groupFields+4), f)
			}
			body.WriteString(" 0\n")
		}
	}
	b, res := dec.Check(t, body.String(), Options{})
	if res.RejectedItems != 0 {
		t.Fatalf("rejected: %+v", res.Rejected)
	}
	var want strings.Builder
	for _, line := range strings.SplitAfter(body.String(), "\n") {
		bl, _ := dec.Check(t, line, Options{})
		want.WriteString(decodertest.Render(bl))
	}
	if got := decodertest.Render(b); got != want.String() || b.Len() != 2*2*nameGroups*(groupFields+4) {
		t.Errorf("%d series; with the cache:\n%.2000s\nline by line:\n%.2000s", b.Len(), got, want.String())
	}
}
