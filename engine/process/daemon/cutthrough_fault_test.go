package daemon

import (
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/testsrv"
	"medispatcher/internal/wire"
)

// Fault tests of cut-through (CutThrough = true, the default): copies
// handed from the main tube straight to the push workers, the main job
// held reserved until every copy is settled.

// channelPrefix is the channel tubes' prefix in the world's config (the
// default): "<topic>/sub-queue/<id>".
const channelPrefix = "sub-queue/"

// handoffs is a daemon's copies handed over by path ("direct" or
// "spilled"), from its /metrics.
func handoffs(t *testing.T, addr, path string) float64 {
	t.Helper()
	v, ok := scrape(addr, "medispatcher_handoffs_total", `path="`+path+`"`)
	require.True(t, ok, "metrics on %s", addr)
	return v
}

// stopWithin sends SIGTERM to d and requires exit status 0 within limit;
// it returns how long the stop took.
func (w *world) stopWithin(d *daemon, limit time.Duration) time.Duration {
	w.t.Helper()
	sent := time.Now()
	require.NoError(w.t, d.cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-d.exited:
		require.NoError(w.t, d.err, "exit status after SIGTERM:\n%s", w.logs)
	case <-time.After(limit):
		w.t.Fatalf("no exit within %v of SIGTERM:\n%s", limit, w.logs)
	}
	return time.Since(sent)
}

// startCutThrough starts a daemon on a variant of the world's config,
// named name, with CutThrough on and /metrics served; it returns the
// config file (for a restart) and the metrics address.
func (w *world) startCutThrough(name string) (d *daemon, cfg, metrics string) {
	w.t.Helper()
	metrics = freeAddr(w.t)
	cfg = w.configVariant(name, map[string]string{"PrometheusApiAddr": strconv.Quote(metrics), "CutThrough": "true"})
	d = w.startWith(cfg, w.logs)
	waitMetrics(w.t, metrics, w.logs)
	return d, cfg, metrics
}

// loadUntil puts a message of topic every gap (a producer of its own)
// until the subscriber has seen hits pushes, then reads the daemon's
// handoffs from metrics; stop ends the load and returns how many messages
// it put.
func (w *world) loadUntil(metrics, topic string, gap time.Duration, hits int) (stop func() int, direct, spilled float64) {
	w.t.Helper()
	stop = newProducer(w.t, w.bs.Addr, 1732500000).paced(topic, gap)
	w.sub.WaitFor(30*time.Second, "some deliveries", func(h []testsrv.Hit) bool { return len(h) >= hits })
	return stop, handoffs(w.t, metrics, "direct"), handoffs(w.t, metrics, "spilled")
}

// mainJobID is the main-tube job id in a push's jobid
// "<time>-<main job id>-<subscription>": the copies of one message share it.
func mainJobID(jobid string) string {
	parts := strings.Split(jobid, "-")
	if len(parts) != 3 {
		return jobid
	}
	return parts[1]
}

// A daemon killed with SIGKILL while direct pushes are in flight (a
// subscriber answering in 200 ms, messages paced below what the push slots
// can take, so that copies go direct and their main jobs are held): after a
// restart every jobid is delivered. The duplicates are the messages whose
// main job was held at the kill. Paced below the slots' rate, the main
// jobs held are those with a copy in a push slot (a spilled copy's main
// job is deleted once it is put; a burst of messages fanned out at once
// can hold more, see TestKill9UnderLoadThenRestartDeliversEverything): at
// most as many messages as there are slots (subscriptions × concurrency),
// each pushed again to every subscription that had it.
func TestCutThroughKill9WithDirectPushesInFlight(t *testing.T) {
	const nSubs, concurrency = 2, 8
	w := newWorld(t,
		&subs.Subscription{ID: 1, Topic: "ctk", URL: "/one", Concurrency: concurrency, AlertEnabled: true},
		&subs.Subscription{ID: 2, Topic: "ctk", URL: "/two", Concurrency: concurrency, AlertEnabled: true},
	)
	var fast atomic.Bool
	w.sub.SetAnswer(func(testsrv.Hit) (int, string, time.Duration) {
		if fast.Load() {
			return 200, `{"status":1}`, 2 * time.Millisecond
		}
		return 200, `{"status":1}`, 200 * time.Millisecond
	})
	d, cfg, metrics := w.startCutThrough("ctk.toml")
	// 33 messages a second; each subscription can take 8 / 200 ms = 40.
	stopProducing, direct, spilled := w.loadUntil(metrics, "ctk", 30*time.Millisecond, 200)
	require.Positive(t, direct, "copies went direct before the kill:\n%s", w.logs)
	held := w.counts("event_center_messages")["current-jobs-reserved"]
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGKILL))
	<-d.exited
	n := stopProducing()
	fast.Store(true)
	before := len(w.sub.Hits())

	d = w.startWith(cfg, w.logs)
	w.sub.WaitFor(60*time.Second, "every message delivered at least once", func(h []testsrv.Hit) bool {
		seen, _ := distinct(h)
		return len(seen) == nSubs*n
	})
	requireIdle(t, w.bs.Addr)
	seen, dups := distinct(w.sub.Hits())
	dupMessages := map[string]bool{}
	for jobid, k := range seen {
		if k > 1 {
			dupMessages[mainJobID(jobid)] = true
		}
	}
	t.Logf("kill -9 after %d pushes (%.0f copies direct, %.0f spilled until then; %d main jobs reserved just before); %d messages, %d jobids delivered; %d duplicates, of %d messages (bound: %d push slots)",
		before, direct, spilled, held, n, len(seen), dups, len(dupMessages), nSubs*concurrency)
	require.Len(t, seen, nSubs*n)
	require.LessOrEqual(t, len(dupMessages), nSubs*concurrency, "duplicated messages were held by a push slot each")
	require.LessOrEqual(t, dups, nSubs*nSubs*concurrency, "each held message pushed again at most once per subscription")
	w.stopWithin(d, 15*time.Second)
}

// SIGTERM while direct pushes are in flight (a fast subscription, its
// copies handed over directly) and copies are queued (a slow one, its
// copies spilled into its channel tube): the daemon exits 0 within the
// grace (max process time + 5 s), having settled or spilled what it held.
// Every message is then delivered once or ready in a tube, nothing is
// reserved, delayed or buried; a restart delivers the rest, none twice.
func TestCutThroughSIGTERMWithDirectPushesInFlight(t *testing.T) {
	w := newWorld(t,
		&subs.Subscription{ID: 1, Topic: "cts", URL: "/fast", Concurrency: 4, AlertEnabled: true},
		&subs.Subscription{ID: 2, Topic: "cts", URL: "/slow", Concurrency: 2, AlertEnabled: true},
	)
	w.sub.SetAnswer(func(h testsrv.Hit) (int, string, time.Duration) {
		if h.Path == "/slow" {
			return 200, `{"status":1}`, 200 * time.Millisecond // 10 a second: it falls behind
		}
		return 200, `{"status":1}`, 50 * time.Millisecond // 80 a second: it keeps up
	})
	d, cfg, metrics := w.startCutThrough("cts.toml")
	stopProducing, direct, spilled := w.loadUntil(metrics, "cts", 25*time.Millisecond, 60)
	require.Positive(t, direct, "copies went direct:\n%s", w.logs)
	require.Positive(t, spilled, "copies were queued in a channel tube:\n%s", w.logs)
	n := stopProducing()
	took := w.stopWithin(d, 2*time.Second+5*time.Second+3*time.Second)

	_, dups := distinct(w.sub.Hits())
	require.Zero(t, dups, "a graceful stop pushes nothing twice")
	require.Empty(t, tubeHolding(w.bs.Addr, "current-jobs-reserved", "current-jobs-delayed", "current-jobs-buried"), "nothing reserved, delayed or buried after the stop")
	mainReady := w.counts("event_center_messages")["current-jobs-ready"]
	var waiting [2]int
	for i, sub := range []struct {
		id   int64
		path string
	}{{1, "/fast"}, {2, "/slow"}} {
		delivered := 0
		for _, h := range w.sub.Hits() {
			if h.Path == sub.path {
				delivered++
			}
		}
		waiting[i] = w.counts(wire.ChannelTube("cts", channelPrefix, sub.id))["current-jobs-ready"]
		require.Equal(t, n, delivered+waiting[i]+mainReady,
			"subscription %d: every message delivered, ready in its channel tube or in the main tube", sub.id)
	}
	t.Logf("SIGTERM after %d messages (%.0f copies direct, %.0f spilled): stopped in %v; ready after it: %d in the main tube, %d and %d in the channel tubes",
		n, direct, spilled, took.Round(time.Millisecond), mainReady, waiting[0], waiting[1])
	require.Positive(t, waiting[1], "the stop came with copies queued")

	w.sub.SetAnswer(func(testsrv.Hit) (int, string, time.Duration) { return 200, `{"status":1}`, 2 * time.Millisecond })
	d = w.startWith(cfg, w.logs)
	w.sub.WaitFor(30*time.Second, "the rest delivered", func(h []testsrv.Hit) bool {
		s, _ := distinct(h)
		return len(s) == 2*n
	})
	requireIdle(t, w.bs.Addr)
	_, dups = distinct(w.sub.Hits())
	require.Zero(t, dups, "nothing pushed twice across the stop and restart")
	w.stopWithin(d, 15*time.Second)
}

// A fleet of one cut-through daemon and one two-hop daemon on the same
// servers and subscriptions, under load: the two-hop daemon's copies go
// through the channel tubes, which the cut-through one also reserves from
// once it finds them holding jobs. Every jobid is delivered exactly once,
// both daemons push a share, only the first hands copies over directly.
func TestCutThroughMixedFleetDeliversOnce(t *testing.T) {
	f := newFleetWith(t, [2]map[string]string{{"CutThrough": "true"}, {"CutThrough": "false"}}, fleetSubscriptions()...)
	f.w.sub.SetAnswer(func(testsrv.Hit) (int, string, time.Duration) { return 200, `{"status":1}`, 5 * time.Millisecond })
	f.start()
	total := f.produce(200, fleetTopics())

	dups := f.deliverAll(total)
	share := f.shares(total)
	direct := [2]float64{handoffs(t, f.metrics[0], "direct"), handoffs(t, f.metrics[1], "direct")}
	spilled := [2]float64{handoffs(t, f.metrics[0], "spilled"), handoffs(t, f.metrics[1], "spilled")}
	t.Logf("%d pushes, %d duplicates; shares: cut-through daemon %.0f (%.0f copies direct, %.0f spilled), two-hop daemon %.0f (%.0f direct, %.0f put into channel tubes)",
		total, dups, share[0], direct[0], spilled[0], share[1], direct[1], spilled[1])
	require.Zero(t, dups, "no message pushed twice without a fault")
	require.Positive(t, share[0], "the cut-through daemon pushed a share:\n%s", f.logs[0])
	require.Positive(t, share[1], "the two-hop daemon pushed a share:\n%s", f.logs[1])
	require.Positive(t, direct[0], "the cut-through daemon handed copies over directly")
	require.Zero(t, direct[1], "the two-hop daemon hands nothing over directly")
	f.stop(0)
	f.stop(1)
}
