package push

import (
	"context"
	"testing"
	"time"

	"github.com/valyala/fasthttp"
)

// benchKeys are two 32-byte keys, the case while secrets rotate.
var benchKeys = [][]byte{[]byte("0123456789abcdefghijklmnopqrstuv"), []byte("vutsrqponmlkjihgfedcba9876543210")}

// BenchmarkPushSigned pushes the spec's example message serially over
// loopback TCP unsigned, with one key and with two: the difference is
// what signing costs a push.
func BenchmarkPushSigned(b *testing.B) {
	url := benchSubscriber(b)
	msg := exampleMsg()
	for _, bc := range []struct {
		name string
		keys [][]byte
	}{{"unsigned", nil}, {"one_key", benchKeys[:1]}, {"two_keys", benchKeys}} {
		b.Run(bc.name, func(b *testing.B) {
			c := NewClient(Config{})
			p := &Push{URL: url, Msg: msg, SubID: 1, Timeout: 5 * time.Second, Keys: bc.keys}
			var r Result
			ctx := context.Background()
			b.ReportAllocs()
			for b.Loop() {
				c.Push(ctx, p, &r)
				if !r.OK {
					b.Fatalf("push failed: %v %v", r.Kind, r.Err)
				}
			}
		})
	}
}

// BenchmarkSign is the signing alone, without the network: the three
// headers for the example message's form body, per key count.
func BenchmarkSign(b *testing.B) {
	id := []byte("1732500000.123456-1-17")
	body := appendFormEscape([]byte("jobid=1732500000.123456-1-17&message="), []byte(`{"order_id":42,"items":[1,2,3],"note":"example"}`))
	for _, bc := range []struct {
		name string
		keys [][]byte
	}{{"one_key", benchKeys[:1]}, {"two_keys", benchKeys}} {
		b.Run(bc.name, func(b *testing.B) {
			var g signer
			var h fasthttp.RequestHeader
			now := time.Now()
			b.ReportAllocs()
			b.SetBytes(int64(len(body)))
			for b.Loop() {
				h.Reset()
				g.sign(&h, bc.keys, id, body, now)
			}
		})
	}
}
