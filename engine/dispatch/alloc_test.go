package dispatch

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"runtime"
	"testing"
	"time"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/push"
	"medispatcher/internal/datalog"
	"medispatcher/internal/testsrv"
)

// maxMessageAllocs is what one message may allocate on the whole path in a
// warm engine, by number of topics (one subscription each): the main job
// reserved, decoded and fanned out, its channel job put, reserved, decoded,
// pushed over HTTP, logged (SENT line) and deleted. Each reserved job is
// one allocation (its Job and body together): 2 per message. Measured on a
// loaded 2-core machine: 2.03–2.38 with one topic, 2.26–2.78 with 50. The
// rest depends on timing: connpool waking a long-polling link (5
// allocations a wake, 0.05–0.35 per message) and sync.Pool refills after a
// GC. One more allocation per message fails either bound. Raise a bound
// only with a reason; the point of the test is that garbage on the message
// path is noticed.
//
// With CutThrough a copy handed over directly skips the channel job's put,
// reserve and delete: one reserved job per message, one allocation
// (measured 1.00–1.05 with 50 topics). With one topic the 2 000 messages
// kicked at once find its 5 push slots taken, so most spill and cost what
// they cost on the two-hop path (2.06–2.18).
var maxMessageAllocs = map[bool]map[int]float64{
	false: {1: 2.6, 50: 3.0},
	true:  {1: 2.6, 50: 1.5},
}

// allocMessages is how many messages one measured round carries.
const allocMessages = 2000

// TestMessageAllocs counts the heap allocations (runtime.MemStats.Mallocs)
// of the whole process per message while a warm engine redistributes and
// pushes allocMessages messages through a real beanstalkd to a real
// fasthttp subscriber on loopback. The subscriber runs in this process; its
// handler allocates nothing (fasthttp reuses its request contexts, see the
// push package's allocation test), so every allocation counted is the
// engine's (connpool and the push client included). The messages are put
// delayed before the count starts and kicked all at once, so the producer
// is not counted either. The engine has the daemon's settings that touch
// the path (SENT lines to a real DATA log, lazy retry watching, circuit
// breakers on: every push asks its breaker and counts in its window;
// adaptive push windows on: every push enters and leaves its lane's), without an
// Observer: statistics and alerts assert their own zero allocations.
func TestMessageAllocs(t *testing.T) {
	if testing.Short() {
		t.Skip("starts beanstalkd and pushes thousands of messages")
	}
	for _, cut := range []bool{false, true} {
		for _, topics := range []int{1, 50} {
			t.Run(fmt.Sprintf("cutthrough=%v/topics=%d", cut, topics), func(t *testing.T) {
				allocs, bytes := messageAllocs(t, topics, cut)
				t.Logf("per message, %d topics, cut-through %v: %.2f allocations, %.0f bytes", topics, cut, allocs, bytes)
				if raceEnabled {
					return // the race detector allocates on its own
				}
				if bound := maxMessageAllocs[cut][topics]; allocs > bound {
					t.Errorf("%.2f allocations per message, at most %.1f expected", allocs, bound)
				}
			})
		}
	}
}

// messageAllocs runs an engine with one subscription per topic, warms it up
// with two rounds (connections open, buffers and pools grow), and returns
// the allocations and bytes allocated per message of a third.
func messageAllocs(t *testing.T, topics int, cutThrough bool) (allocs, bytes float64) {
	bs := testsrv.StartBeanstalkd(t)
	sub := newCountingSubscriber(t)
	ctx := context.Background()
	pool, err := connpool.New(ctx, connpool.Config{Addrs: []string{bs.Addr}})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = pool.Close() })
	w, err := datalog.Open(datalog.Config{Dir: t.TempDir()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = w.Close(context.Background()) })
	src := newStaticSource()
	src.sets <- benchSubs(t, topics, sub.url)
	eng, err := New(Options{MainTube: mainTube, SentLog: true, LazyRetryWatch: true, CutThrough: cutThrough,
		Breaker: BreakerOptions{On: true}, AdaptiveWindow: true}, Deps{
		Pool: pool, Push: push.NewClient(push.Config{}), Source: src, Data: w,
		Log: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	rctx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- eng.Run(rctx) }()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	<-eng.Applied()

	roundAllocs(t, pool, sub, topics, allocMessages)
	roundAllocs(t, pool, sub, topics, allocMessages)
	return roundAllocs(t, pool, sub, topics, allocMessages)
}

// roundAllocs puts n messages delayed into the main tube, then counts the
// process's allocations from the kick that makes them ready until the
// subscriber has seen them all (and the last deletes had time to go out);
// it returns them, and the bytes allocated, per message.
func roundAllocs(t *testing.T, pool *connpool.Pool, sub *countingSubscriber, topics, n int) (allocs, bytes float64) {
	t.Helper()
	fillMain(t, pool, n, topics, time.Hour)
	want := sub.n.Load() + int64(n)
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	if k, err := pool.Kick(context.Background(), 0, mainTube, n); err != nil || k != n {
		t.Fatalf("kicked %d of %d delayed messages (%v)", k, n, err)
	}
	deadline := time.Now().Add(time.Minute)
	for sub.n.Load() < want {
		if time.Now().After(deadline) {
			t.Fatalf("only %d of %d pushes within a minute", sub.n.Load()-want+int64(n), n)
		}
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond)
	runtime.ReadMemStats(&after)
	return float64(after.Mallocs-before.Mallocs) / float64(n), float64(after.TotalAlloc-before.TotalAlloc) / float64(n)
}
