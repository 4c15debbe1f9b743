package push

import (
	"context"
	"net"
	"runtime"
	"testing"
	"time"
)

// BenchmarkPush pushes the spec's example message to a fasthttp subscriber
// over loopback TCP: one routine at a time, then 64 at once (a sender with
// many subscriptions). Client and subscriber share the machine, so the
// figures are the cost of both.
func BenchmarkPush(b *testing.B) {
	url := benchSubscriber(b)
	msg := exampleMsg()
	msg.Context = []byte("ctx")

	run := func(b *testing.B, r *Result, c *Client, ctx context.Context, p *Push) {
		c.Push(ctx, p, r)
		if !r.OK {
			b.Fatalf("push failed: %v %v", r.Kind, r.Err)
		}
	}

	b.Run("serial", func(b *testing.B) {
		c := NewClient(Config{})
		p := &Push{URL: url, Msg: msg, SubID: 1, Timeout: 5 * time.Second}
		var r Result
		ctx := context.Background()
		b.ReportAllocs()
		b.SetBytes(int64(len(msg.Body)))
		for b.Loop() {
			run(b, &r, c, ctx, p)
		}
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pushes/s")
	})

	b.Run("parallel64", func(b *testing.B) {
		c := NewClient(Config{})
		procs := runtime.GOMAXPROCS(0)
		b.SetParallelism((64 + procs - 1) / procs)
		b.ReportAllocs()
		b.SetBytes(int64(len(msg.Body)))
		b.ResetTimer()
		b.RunParallel(func(pb *testing.PB) {
			p := &Push{URL: url, Msg: msg, SubID: 1, Timeout: 5 * time.Second}
			var r Result
			ctx := context.Background()
			for pb.Next() {
				run(b, &r, c, ctx, p)
			}
		})
		b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "pushes/s")
	})
}

// benchSubscriber starts a fastSubscriber on loopback TCP and returns a
// URL of it.
func benchSubscriber(b *testing.B) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	fastSubscriber(b, ln)
	return "http://" + ln.Addr().String() + "/hook?x=1"
}

func BenchmarkAnswerOK(b *testing.B) {
	for _, tc := range []struct{ name, in string }{
		{"short", `{"status":1}`},
		{"nested", `{"code":0,"data":{"list":[1,2,3],"msg":"ok \u00e9"},"status":"1"}`},
	} {
		b.Run(tc.name, func(b *testing.B) {
			doc := []byte(tc.in)
			b.ReportAllocs()
			b.SetBytes(int64(len(doc)))
			for b.Loop() {
				if !answerOK(doc) {
					b.Fatal("not ok")
				}
			}
		})
	}
}

func BenchmarkFormEscape(b *testing.B) {
	js := []byte(`{"7":"int-key","big":12345678901234,"f":0.1,"name":"Zo\u00eb \u003c\u0026\u003e \"q\"","order":{"id":"A-1234567","items":[{"sku":"x1","n":2}]}}`)
	dst := make([]byte, 0, 3*len(js))
	b.ReportAllocs()
	b.SetBytes(int64(len(js)))
	for b.Loop() {
		dst = appendFormEscape(dst[:0], js)
	}
}
