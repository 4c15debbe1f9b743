package daemon

import (
	"fmt"
	"strconv"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/testsrv"
	"medispatcher/internal/wire"
)

// fleet is two daemons on the same two beanstalkd servers and one Redis.
// Their config files differ only in LOG_DIR and PrometheusApiAddr, where
// each daemon's share of the pushes is read.
type fleet struct {
	w       *world
	servers [2]*testsrv.Server
	prod    [2]*producer // one per beanstalkd server
	cfgs    [2]string
	metrics [2]string
	logs    [2]*testsrv.LogBuffer
	d       [2]*daemon
}

func newFleet(t *testing.T, subscriptions ...*subs.Subscription) *fleet {
	t.Helper()
	return newFleetWith(t, [2]map[string]string{}, subscriptions...)
}

// newFleetWith is newFleet with more top-level keys set in each daemon's
// config file (set[i] for daemon i, as configVariant takes them).
func newFleetWith(t *testing.T, set [2]map[string]string, subscriptions ...*subs.Subscription) *fleet {
	t.Helper()
	f := &fleet{servers: [2]*testsrv.Server{testsrv.StartBeanstalkd(t), testsrv.StartBeanstalkd(t)}}
	f.w = newWorldOn(t, f.servers[:], subscriptions...)
	for i := range f.d {
		f.metrics[i] = freeAddr(t)
		f.logs[i] = &testsrv.LogBuffer{}
		keys := map[string]string{
			"LOG_DIR":           strconv.Quote(fmt.Sprintf("logs-%d", i)),
			"PrometheusApiAddr": strconv.Quote(f.metrics[i]),
		}
		for k, v := range set[i] {
			keys[k] = v
		}
		f.cfgs[i] = f.w.configVariant(fmt.Sprintf("fleet-%d.toml", i), keys)
		f.prod[i] = newProducer(t, f.servers[i].Addr, float64(1732500000+i))
	}
	return f
}

// start starts every daemon and waits until each serves /metrics.
func (f *fleet) start() {
	f.w.t.Helper()
	for i := range f.d {
		f.d[i] = f.w.startWith(f.cfgs[i], f.logs[i])
	}
	for i := range f.d {
		waitMetrics(f.w.t, f.metrics[i], f.logs[i])
	}
}

// produce puts n messages of every topic into the main tube of both
// servers, alternating; it returns the number of pushes expected.
func (f *fleet) produce(n int, topics map[string]int) int {
	f.w.t.Helper()
	pushes := 0
	for i := 0; i < n; i++ {
		for topic, subsOfTopic := range topics {
			for _, p := range f.prod {
				p.put(topic, i, 0)
				pushes += subsOfTopic
			}
		}
	}
	return pushes
}

// pushed is daemon i's successful pushes, from its /metrics.
func (f *fleet) pushed(i int) float64 {
	f.w.t.Helper()
	v, ok := scrape(f.metrics[i], "medispatcher_pushes_total", `result="ok"`)
	require.True(f.w.t, ok, "metrics of daemon %d:\n%s", i, f.logs[i])
	return v
}

// stop stops daemon i with SIGTERM and requires exit status 0.
func (f *fleet) stop(i int) {
	f.w.t.Helper()
	require.NoError(f.w.t, f.d[i].cmd.Process.Signal(syscall.SIGTERM))
	select {
	case <-f.d[i].exited:
		require.NoError(f.w.t, f.d[i].err, "exit status of daemon %d after SIGTERM:\n%s", i, f.logs[i])
	case <-time.After(15 * time.Second):
		f.w.t.Fatalf("daemon %d: no exit within 15 s of SIGTERM:\n%s", i, f.logs[i])
	}
}

// deliverAll waits until every one of total jobids is delivered and no
// job is left on either server; it returns the duplicates.
func (f *fleet) deliverAll(total int) (dups int) {
	f.w.t.Helper()
	f.w.sub.WaitFor(60*time.Second, "every message delivered", func(h []testsrv.Hit) bool {
		seen, _ := distinct(h)
		return len(seen) == total
	})
	f.requireIdle()
	seen, dups := distinct(f.w.sub.Hits())
	require.Len(f.w.t, seen, total)
	return dups
}

// shares is each daemon's successful pushes from its /metrics, once they
// add up to total. The metrics count a push once its answer is in, after
// the subscriber recorded it: it waits for them to agree with the
// subscriber.
func (f *fleet) shares(total int) [2]float64 {
	f.w.t.Helper()
	var share [2]float64
	require.EventuallyWithT(f.w.t, func(c *assert.CollectT) {
		share = [2]float64{f.pushed(0), f.pushed(1)}
		assert.Equal(c, float64(total), share[0]+share[1], "pushes in the daemons' metrics (%v) sum to those delivered", share)
	}, 10*time.Second, 20*time.Millisecond)
	return share
}

// requireIdle requires both servers to hold no job any more (nothing
// ready, reserved, delayed or buried), waiting a moment for deletes in
// flight.
func (f *fleet) requireIdle() {
	f.w.t.Helper()
	requireIdle(f.w.t, f.servers[0].Addr, f.servers[1].Addr)
}

// requireIdle requires the servers at addrs to hold no job any more
// (tubesIdle), waiting a moment for deletes in flight.
func requireIdle(t *testing.T, addrs ...string) {
	t.Helper()
	for _, addr := range addrs {
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			idle, what := tubesIdle(addr)
			assert.True(c, idle, "a job is left: %s", what)
		}, 10*time.Second, 20*time.Millisecond)
	}
}

func fleetSubscriptions() []*subs.Subscription {
	return []*subs.Subscription{
		{ID: 1, Topic: "fa", URL: "/fa1", Concurrency: 4, AlertEnabled: true},
		{ID: 2, Topic: "fa", URL: "/fa2", Concurrency: 4, AlertEnabled: true},
		{ID: 3, Topic: "fb", URL: "/fb", Concurrency: 4, AlertEnabled: true},
		{ID: 4, Topic: "fc", URL: "/fc", Concurrency: 4, AlertEnabled: true},
	}
}

// fleetTopics maps each topic of fleetSubscriptions to its number of
// subscriptions.
func fleetTopics() map[string]int { return map[string]int{"fa": 2, "fb": 1, "fc": 1} }

// Two daemons share two servers without faults: beanstalkd's reserve is
// exclusive, so no message reaches a subscriber twice, and both daemons
// push a share.
func TestFleetSharesLoadDeliversOnce(t *testing.T) {
	f := newFleet(t, fleetSubscriptions()...)
	f.w.sub.SetAnswer(func(testsrv.Hit) (int, string, time.Duration) { return 200, `{"status":1}`, time.Millisecond })
	f.start()
	total := f.produce(100, fleetTopics())

	dups := f.deliverAll(total)
	require.Zero(t, dups, "no message pushed twice without a fault")

	share := f.shares(total)
	t.Logf("%d pushes, no duplicate; shares from medispatcher_pushes_total: daemon 0 %.0f, daemon 1 %.0f", total, share[0], share[1])
	require.Positive(t, share[0], "daemon 0 pushed a share:\n%s", f.logs[0])
	require.Positive(t, share[1], "daemon 1 pushed a share:\n%s", f.logs[1])
	f.stop(0)
	f.stop(1)
}

// One daemon of a fleet is killed with SIGKILL under load: the other
// delivers everything left. The jobs the dead one held reserved come back
// as soon as beanstalkd sees its connections close (a killed process's
// sockets are closed by the kernel), not after their TTR: the test leaves
// less time than the TTR for the rest to be delivered. Both paths run:
// with cut-through the duplicates are the main jobs the dead daemon held
// while their copies were pushed (each subscription that had its copy gets
// it again), two-hop the channel jobs it had pushed and not yet deleted.
func TestFleetKill9OneDaemonOtherDeliversRest(t *testing.T) {
	for _, path := range dispatchPaths {
		t.Run(path.name, func(t *testing.T) { fleetKill9(t, path.cutThrough) })
	}
}

// dispatchPaths are the values of CutThrough a fault test runs with when
// both paths matter to what it asserts or counts.
var dispatchPaths = []struct{ name, cutThrough string }{{"cut-through", "true"}, {"two-hop", "false"}}

func fleetKill9(t *testing.T, cutThrough string) {
	set := map[string]string{"CutThrough": cutThrough}
	f := newFleetWith(t, [2]map[string]string{set, set}, fleetSubscriptions()...)
	// Slow answers until the kill, so that a busy machine cannot finish
	// the load before it; fast ones after.
	killedFlag := f.slowUntil()
	f.start()
	total := f.produce(200, fleetTopics())

	f.w.sub.WaitFor(30*time.Second, "some deliveries", func(h []testsrv.Hit) bool { return len(h) >= total/4 })
	require.Eventually(t, func() bool { return f.pushed(0) >= 20 }, 20*time.Second, 10*time.Millisecond,
		"daemon 0 pushing before its kill:\n%s", f.logs[0])
	survivorBefore := f.pushed(1)
	require.NoError(t, f.d[0].cmd.Process.Signal(syscall.SIGKILL))
	<-f.d[0].exited
	killedFlag.Store(true)
	killed := time.Now()
	before := len(f.w.sub.Hits())
	require.Less(t, before, total, "the kill came under load")

	// Less than the TTR: jobs the dead daemon held must not wait for it.
	wait := wire.TTR - 15*time.Second
	f.w.sub.WaitFor(wait, "every message delivered by the survivor", func(h []testsrv.Hit) bool {
		seen, _ := distinct(h)
		return len(seen) == total
	})
	took := time.Since(killed)
	f.requireIdle()
	_, dups := distinct(f.w.sub.Hits())
	survivor := f.pushed(1) - survivorBefore
	t.Logf("CutThrough = %s: kill -9 of daemon 0 after %d of %d pushes; the survivor pushed %.0f more and finished %v after the kill; %d duplicates (pushed by the dead daemon, their main or channel job not yet deleted)",
		cutThrough, before, total, survivor, took.Round(time.Millisecond), dups)
	require.Positive(t, survivor, "the survivor delivered the rest:\n%s", f.logs[1])
	f.stop(1)
}

// slowUntil makes the subscriber answer in 100 ms until the returned flag
// is set, then in 5 ms: a fault test's daemons hold jobs and pushes in
// flight when the fault comes, and finish quickly after it.
func (f *fleet) slowUntil() *atomic.Bool {
	var fast atomic.Bool
	f.w.sub.SetAnswer(func(testsrv.Hit) (int, string, time.Duration) {
		if fast.Load() {
			return 200, `{"status":1}`, 5 * time.Millisecond
		}
		return 200, `{"status":1}`, 100 * time.Millisecond
	})
	return &fast
}
