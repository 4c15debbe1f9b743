package daemon

import (
	"fmt"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/testsrv"
	"medispatcher/internal/wire"
)

// One daemon of a fleet hangs (SIGSTOP) under load. Unlike a killed one,
// its connections stay open, so beanstalkd gives the channel jobs it holds
// reserved to the other daemon only when their TTR runs out (ChannelJobTTR
// = 2 here, passed by the daemon as the engine's TTR). Main-tube jobs are
// put by producers with their own TTR, so the stop comes once the main
// tubes are drained.
//
// Asserted: within 10 × TTR (a third of the 60 s default) every message is
// delivered by the other daemon or its job is still reserved by the stopped
// one; some jobs did come back by TTR (the servers' job-timeouts); after
// SIGCONT everything is delivered and no job is left. Measured (and logged,
// not asserted, since it is beanstalkd's doing): with beanstalkd 1.12 some
// jobs of the stopped connection are never timed out (stats-job: reserves
// 1, timeouts 0, time-left -19 s after 21 s) and come back only when the
// daemon resumes or dies.
func TestFleetSIGSTOPShortTTR(t *testing.T) {
	const ttr = 2 // s
	f := newFleet(t, fleetSubscriptions()...)
	for i := range f.cfgs {
		f.cfgs[i] = f.w.configVariant(fmt.Sprintf("fleet-ttr-%d.toml", i), map[string]string{
			"LOG_DIR":                      strconv.Quote(fmt.Sprintf("logs-%d", i)),
			"PrometheusApiAddr":            strconv.Quote(f.metrics[i]),
			"ChannelJobTTR":                strconv.Itoa(ttr),
			"MaxMessageProcessTime":        "1000",
			"DefaultMaxMessageProcessTime": "1000",
		})
	}
	// Slow answers until the stop, so that the stopped daemon holds jobs
	// and pushes in flight; fast ones after.
	stoppedFlag := f.slowUntil()
	f.start()
	total := f.produce(200, fleetTopics())

	// Every main-tube job redistributed: what is left is channel jobs.
	for _, s := range f.servers {
		require.EventuallyWithT(t, func(c *assert.CollectT) {
			st := tubeStats(s.Addr, "event_center_messages")
			assert.Equal(c, "0", st["current-jobs-ready"])
			assert.Equal(c, "0", st["current-jobs-reserved"])
		}, 30*time.Second, 10*time.Millisecond, "main tube of %s drained", s.Addr)
	}
	require.Eventually(t, func() bool { return f.pushed(0) >= 20 }, 30*time.Second, 10*time.Millisecond,
		"daemon 0 pushing before its stop:\n%s", f.logs[0])
	before := len(f.w.sub.Hits())
	require.NoError(t, f.d[0].cmd.Process.Signal(syscall.SIGSTOP))
	stopped := time.Now()
	stoppedFlag.Store(true)
	t.Cleanup(func() { _ = f.d[0].cmd.Process.Signal(syscall.SIGCONT) })
	require.Less(t, before, total, "the stop came under load")
	survivorBefore := f.pushed(1)

	// The other daemon delivers every message whose channel job the
	// stopped one does not hold. Those it holds should come back after
	// their TTR; what is still reserved at the end of the window (the
	// servers' current-jobs-reserved: only the stopped daemon holds jobs
	// then) is counted, not waited for.
	bound := 10 * ttr * time.Second
	require.Less(t, bound, wire.TTR/2, "the bound would not tell a short TTR from the default one")
	var all time.Duration
	deadline := time.Now().Add(bound)
	for time.Now().Before(deadline) {
		if seen, _ := distinct(f.w.sub.Hits()); len(seen) == total {
			all = time.Since(stopped)
			break
		}
		// No signal tells when beanstalkd times a job out: poll.
		time.Sleep(20 * time.Millisecond)
	}
	seenStopped, dupsStopped := distinct(f.w.sub.Hits())
	held, timeouts := 0, 0
	for _, s := range f.servers {
		st := serverStats(t, s.Addr)
		n, _ := strconv.Atoi(st["current-jobs-reserved"])
		held += n
		n, _ = strconv.Atoi(st["job-timeouts"])
		timeouts += n
	}
	survivor := f.pushed(1) - survivorBefore
	require.Positive(t, timeouts, "jobs came back because their TTR ran out (the stopped daemon held some)")
	// A held job may have been pushed already (in flight at the stop).
	require.GreaterOrEqual(t, len(seenStopped)+held, total,
		"within %v of the stop, every message is delivered or its job held by the stopped daemon", bound)

	// Resumed, the stopped daemon pushes what it held; what it had in
	// flight was pushed again by the other after the TTR (duplicates), and
	// its deletes of those fail.
	require.NoError(t, f.d[0].cmd.Process.Signal(syscall.SIGCONT))
	resumed := time.Now()
	f.w.sub.WaitFor(30*time.Second, "every message delivered after SIGCONT", func(h []testsrv.Hit) bool {
		seen, _ := distinct(h)
		return len(seen) == total
	})
	afterCont := time.Since(resumed)
	waitMetrics(t, f.metrics[0], f.logs[0])
	f.stop(0)
	f.requireIdle()
	_, dups := distinct(f.w.sub.Hits())
	if all > 0 {
		t.Logf("SIGSTOP of daemon 0 after %d of %d pushes (ChannelJobTTR %d s): every jobid delivered %v after the stop", before, total, ttr, all.Round(time.Millisecond))
	} else {
		t.Logf("SIGSTOP of daemon 0 after %d of %d pushes (ChannelJobTTR %d s): %v after the stop %d delivered, %d still reserved by the stopped daemon (not timed out by beanstalkd); the rest came %v after SIGCONT",
			before, total, ttr, bound, len(seenStopped), held, afterCont.Round(time.Millisecond))
	}
	t.Logf("the other daemon pushed %.0f during the stop; %d TTR timeouts on the servers; duplicates: %d during the stop, %d in all",
		survivor, timeouts, dupsStopped, dups)
	require.Positive(t, survivor, "the other daemon delivered the rest:\n%s", f.logs[1])
	f.stop(1)
}

// tubeStats returns stats-tube of tube on the server at addr (empty when it
// cannot be read: the tube does not exist yet).
func tubeStats(addr, tube string) map[string]string {
	c, err := beanstalk.Dial("tcp", addr)
	if err != nil {
		return map[string]string{}
	}
	defer c.Close()
	st, err := beanstalk.NewTube(c, tube).Stats()
	if err != nil {
		return map[string]string{}
	}
	return st
}

func serverStats(t *testing.T, addr string) map[string]string {
	t.Helper()
	c, err := beanstalk.Dial("tcp", addr)
	require.NoError(t, err)
	defer c.Close()
	st, err := c.Stats()
	require.NoError(t, err)
	return st
}
