package dispatch

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"medispatcher/internal/datalog"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/valyala/fasthttp"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/dispatch/push"
	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/testsrv"
)

// countingSubscriber answers every push with success and signals when it
// has seen want pushes. Its handler allocates nothing (fasthttp reuses its
// request contexts), so the allocations of a process running it are the
// engine's.
type countingSubscriber struct {
	url  string
	n    atomic.Int64
	want atomic.Int64
	done chan struct{}
	once sync.Once
}

func newCountingSubscriber(tb testing.TB) *countingSubscriber {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	c := &countingSubscriber{url: "http://" + ln.Addr().String() + "/hook", done: make(chan struct{})}
	srv := &fasthttp.Server{Handler: func(ctx *fasthttp.RequestCtx) {
		ctx.SetBodyString(`{"status":1}`)
		if c.n.Add(1) == c.want.Load() {
			c.once.Do(func() { close(c.done) })
		}
	}}
	go func() { _ = srv.Serve(ln) }()
	tb.Cleanup(func() { _ = srv.Shutdown() })
	return c
}

// fillMain puts n messages into the main tube, spread over topics topics
// ("bench.t0" …), from 64 goroutines; with delay > 0 they wait delayed.
func fillMain(tb testing.TB, pool *connpool.Pool, n, topics int, delay time.Duration) {
	tb.Helper()
	ctx := context.Background()
	var wg sync.WaitGroup
	var next atomic.Int64
	for w := 0; w < 64; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var buf []byte
			for {
				i := next.Add(1) - 1
				if i >= int64(n) {
					return
				}
				m := message.Message{Topic: []byte(fmt.Sprintf("bench.t%d", i%int64(topics))),
					Body: msgpackBody("seq", int(i), "pad", "0123456789abcdef0123456789abcdef0123456789abcdef"), Time: 1732500000}
				buf = message.AppendMainJob(buf[:0], &m)
				if _, err := pool.Put(ctx, 0, mainTube, buf, 1024, delay, time.Minute); err != nil {
					tb.Error(err)
					return
				}
			}
		}()
	}
	wg.Wait()
	if tb.Failed() {
		tb.FailNow()
	}
}

// benchSubs is one subscription per topic ("bench.t0" …), each pushing to
// url with concurrency 10.
func benchSubs(tb testing.TB, topics int, url string) *subs.Set {
	tb.Helper()
	list := make([]*subs.Subscription, topics)
	for i := range list {
		list[i] = &subs.Subscription{ID: int64(i + 1), Topic: fmt.Sprintf("bench.t%d", i), URL: url, Concurrency: 10}
		if err := list[i].Validate(subs.Limits{ChannelPrefix: "sub-queue/"}); err != nil {
			tb.Fatal(err)
		}
	}
	return subs.NewSet(list)
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

	fillMain(b, pool, b.N, topics, 0) // not measured
	if st, err := pool.StatsTube(ctx, 0, mainTube); err != nil || st.Ready != int64(b.N) {
		b.Fatalf("main tube holds %d of %d jobs (%v)", st.Ready, b.N, err)
	}

	src := newStaticSource()
	src.sets <- benchSubs(b, topics, sub.url)
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
	runUntil(b, eng, sub.done, func() string { return fmt.Sprintf("only %d of %d delivered", sub.n.Load(), b.N) })
	if bsCPU1, err := bs.CPUTime(); err == nil {
		b.ReportMetric(float64(bsCPU1-bsCPU0)/float64(time.Millisecond)/float64(b.N)*1000, "beanstalkd-cpu-ms/1k")
	}
}

// redistFailLog counts the REDISTFAIL lines confirmed durable by a real
// DATA log and signals when it has seen want.
type redistFailLog struct {
	*recordingLog
	n, want atomic.Int64
	done    chan struct{}
}

func (l *redistFailLog) RedistFail(topic string, subID int64, job []byte, reason string) error {
	if err := l.w.RedistFail(topic, subID, job, reason); err != nil {
		return err
	}
	if l.n.Add(1) == l.want.Load() {
		close(l.done)
	}
	return nil
}

// BenchmarkRedistFailPath measures the REDISTFAIL path end to end: b.N
// messages wait in the main tube, beanstalkd refuses every channel put
// (draining), so each message costs a failed put and a durable DATA line
// (written and fsynced, group-committed across the redistribution
// workers) before its delete. Run with -benchtime=5000x or more.
func BenchmarkRedistFailPath(b *testing.B) {
	bs := testsrv.StartBeanstalkd(b)
	ctx := context.Background()
	pool, err := connpool.New(ctx, connpool.Config{Addrs: []string{bs.Addr}})
	if err != nil {
		b.Fatal(err)
	}
	defer pool.Close()
	var buf []byte
	for i := 0; i < b.N; i++ {
		m := message.Message{Topic: []byte("bench.fail"), Body: msgpackBody("seq", i, "pad", "0123456789abcdef0123456789abcdef0123456789abcdef"), Time: 1732500000}
		buf = message.AppendMainJob(buf[:0], &m)
		if _, err := pool.Put(ctx, 0, mainTube, buf, 1024, 0, time.Minute); err != nil {
			b.Fatal(err)
		}
	}
	bs.Drain()
	w, err := datalog.Open(datalog.Config{Dir: b.TempDir(), Split: true})
	if err != nil {
		b.Fatal(err)
	}
	defer w.Close(ctx)
	data := &redistFailLog{recordingLog: &recordingLog{w: w}, done: make(chan struct{})}
	data.want.Store(int64(b.N))
	s := &subs.Subscription{ID: 1, Topic: "bench.fail", URL: "http://127.0.0.1:9/never", Concurrency: 10}
	if err := s.Validate(subs.Limits{ChannelPrefix: "sub-queue/"}); err != nil {
		b.Fatal(err)
	}
	src := newStaticSource()
	src.sets <- subs.NewSet([]*subs.Subscription{s})
	log := slog.New(slog.NewTextHandler(io.Discard, nil)) // one ERROR line per failed put
	eng, err := New(Options{MainTube: mainTube, RedistWorkers: 50}, Deps{
		Pool: pool, Push: push.NewClient(push.Config{}), Source: src, Data: data, Log: log,
	})
	if err != nil {
		b.Fatal(err)
	}
	b.ResetTimer()
	runUntil(b, eng, data.done, func() string { return fmt.Sprintf("only %d of %d lines", data.n.Load(), b.N) })
}

// runUntil runs eng from the benchmark's timer start until finished is
// closed (at most 10 minutes: then it fails with what), stops the timer
// and the engine, and reports b.N messages per second.
func runUntil(b *testing.B, eng *Engine, finished <-chan struct{}, what func() string) {
	start := time.Now()
	rctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(rctx) }()
	select {
	case <-finished:
	case <-time.After(10 * time.Minute):
		b.Fatal(what())
	}
	elapsed := time.Since(start)
	b.StopTimer()
	cancel()
	<-done
	b.ReportMetric(float64(b.N)/elapsed.Seconds(), "msgs/s")
}
