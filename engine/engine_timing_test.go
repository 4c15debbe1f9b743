package engine

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"medispatcher/connpool"
	"medispatcher/engine/message"
	"medispatcher/engine/push"
	"medispatcher/engine/subs"
	"medispatcher/engine/testsrv"
)

// countingSubscriber answers every push with success and signals when it
// has seen want pushes.
type countingSubscriber struct {
	url  string
	n    atomic.Int64
	want atomic.Int64
	done chan struct{}
	once sync.Once
}

func newCountingSubscriber(b *testing.B) *countingSubscriber {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	c := &countingSubscriber{url: "http://" + ln.Addr().String() + "/hook", done: make(chan struct{})}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetBodyString(`{"status":1}`)
		if c.n.Add(1) == c.want.Load() {
			c.once.Do(func() { close(c.done) })
		}
	}}
	go func() { _ = srv.Serve(ln) }()
	b.Cleanup(func() { _ = srv.Shutdown() })
	return c
}

// BenchmarkEndToEnd measures the whole cycle on one beanstalkd: main tube →
// channel tubes → HTTP push → delete, for b.N messages already waiting in
// the main tube, spread over the given number of topics (one subscription
// each). Run with -benchtime=20000x or more.
func BenchmarkEndToEnd(b *testing.B) {
	for _, topics := range []int{1, 50, 500} {
		b.Run(fmt.Sprintf("topics=%d", topics), func(b *testing.B) { benchEndToEnd(b, topics) })
	}
}

func benchEndToEnd(b *testing.B, topics int) {
	bs := testsrv.StartBeanstalkd(b)
	sub := newCountingSubscriber(b)
	sub.want.Store(int64(b.N))
	ctx := context.Background()
	pool, err := connpool.New(ctx, connpool.Config{Addrs: []string{bs.Addr}})
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()

	// Fill the main tube first (not measured).
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for {
				i := next.Add(1) - 1
				if i >= int64(b.N) {
					return
				}
				m := message.Message{Topic: []byte(fmt.Sprintf("bench.t%d", i%int64(topics))),
					Body: msgpackBody("seq", int(i), "pad", "0123456789abcdef0123456789abcdef0123456789abcdef"), Time: 1732500000}
				buf = message.AppendMainJob(buf[:0], &m)
				if _, err := pool.Put(ctx, 0, mainTube, buf, 1024, 0, time.Minute); err != nil {
					b.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if st, err := pool.StatsTube(ctx, 0, mainTube); err != nil || st.Ready != int64(b.N) {
		b.Fatalf("main tube holds %d of %d jobs (%v)", st.Ready, b.N, err)
	}

	list := make([]*subs.Subscription, topics)
	for i := range list {
		list[i] = &subs.Subscription{ID: int64(i + 1), Topic: fmt.Sprintf("bench.t%d", i), URL: sub.url, Concurrency: 10}
		if err := list[i].Validate(subs.Limits{ChannelPrefix: "sub-queue/"}); err != nil {
			b.Fatal(err)
		}
	}
	src := newStaticSource()
	src.sets <- subs.NewSet(list)
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
	eng, err := New(Options{MainTube: mainTube, RedistWorkers: 64}, Deps{
		Pool: pool, Push: push.NewClient(push.Config{}), Source: src, Data: &recordingLog{}, Log: log,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	bsCPU0, _ := bs.CPUTime()
	b.ResetTimer()
	start := time.Now()
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- eng.Run(rctx) }()
	select {
	case <-sub.done:
	case <-time.After(10 * time.Minute):
		b.Fatalf("only %d of %d delivered", sub.n.Load(), b.N)
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
	if bsCPU1, err := bs.CPUTime(); err == nil {
		b.ReportMetric(float64(bsCPU1-bsCPU0)/float64(time.Millisecond)/float64(b.N)*1000, "beanstalkd-cpu-ms/1k")
	}
}
