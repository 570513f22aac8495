package influx

import (
	"errors"
	"testing"

	"github.com/premetrics/premetrics/batch"
	"github.com/premetrics/premetrics/ingest/internal/decodertest"
	"github.com/premetrics/premetrics/ingest/outcome"
)

func FuzzDecode(f *testing.F) {
	tele, _ := telegrafBody(8)
	for _, s := range []string{
		"",
		string(tele),
		"cpu,cpu=cpu0,host=a usage_idle=98.5,usage_user=1.25 1700000000123456789\nmem used=5i\n",
		`t f=1,g=-1.5,h=.5,i=2e-3,j=+1E6,k=12i,l=-12i,m=12u,n=t,o=FALSE,p=True,q="s" 1000000`,
		`log,host=a msg="a, b=c \"d\" \\",n=1i,msg2="x y" 5000000`,
		`my\ meas\,x,mount\ point=/a\,b\=c\ d\\e\q f\=1=1 0`,
		"disk.io,1st=x,température=20,a:b=c read-bytes=1i,9=2 0\n1m,x=y v=1 0\n",
		"# comment\n\n   \r\n  m v=1   2000000  \r\n\tm v=2\n",
		"cpu,host=a,host=b v=1\ncpu,a.b=1,a_b=2 v=1\ncpu,__name__=x v=1\ncpu,a=\xff v=1\n",
		"cpu v=1 -5\ncpu v=1 99999999999999999999\ncpu f=1e400\ncpu u=18446744073709551616u\ncpu b=yes\n",
		"cpu,a=b=c v=1\ncpu s=\"abc\ncpu v=1,\ncpu v=1 123 456\n,x v=1\ncpu\\",
		"cpu a=1,b=2 0\ncpu a=3,c=4 0\nmem a=5 0\ncpu x=\"s\",a=6 0\n",
	} {
		f.Add([]byte(s), uint8(0))
	}
	f.Add([]byte("m v=1 1700000000\nm v=2 2562047788016"), uint8(Hour))
	f.Fuzz(func(t *testing.T, body []byte, prec uint8) {
		opts := Options{Precision: Precision(prec % uint8(numPrecisions)), Now: 1700000000000}
		_, res, got := dec.CheckFuzz(t, body, decodertest.FuzzLimits, opts)

		// Lines are independent: decoding them one by one (with line
		// numbers kept by padding with empty lines) gives the same series
		// and rejections; this also checks the name cache.
		one, results := dec.DecodeLines(t, body, decodertest.FuzzLimits, opts)
		items, rejected, samples := 0, 0, 0
		for i, r := range results {
			n := i + 1
			items += r.Items
			rejected += r.RejectedItems
			samples += r.RejectedSamples
			if len(r.Rejected) == 1 && len(res.Rejected) > 0 && res.Rejected[0].Item == n {
				w := r.Rejected[0]
				w.Item = n
				if w != res.Rejected[0] {
					t.Fatalf("line %d alone: %+v, in the body: %+v", n, w, res.Rejected[0])
				}
			}
		}
		if one != got || items != res.Items || rejected != res.RejectedItems || samples != res.RejectedSamples {
			t.Fatalf("line by line: %d items, %d rejected (%d samples), series\n%s\nin one body: %d, %d (%d), series\n%s",
				items, rejected, samples, one, res.Items, res.RejectedItems, res.RejectedSamples, got)
		}
	})
}

func TestDecodeRejectsTooLargeBeforeCopying(t *testing.T) {
	b := &batch.Batch{}
	var res outcome.Result
	err := Decode(make([]byte, 1<<20), b, outcome.Limits{MaxDecodedBytes: 1 << 10}, Options{}, &res)
	if !errors.Is(err, outcome.ErrTooLarge) || cap(b.Bytes(0)) != 0 {
		t.Fatalf("got %v; arena cap %d", err, cap(b.Bytes(0)))
	}
}
