package daemon

import (
	"sort"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/testsrv"
)

// A subscriber answers 500 for a while, then is healthy again: every
// message is delivered, exactly one push of each jobid succeeds, and the
// retries of one jobid come RetryTimes² × CoeOfIntervalForRetrySendingMsg
// seconds apart (the retry schedule producers and subscribers expect).
func TestSubscriber500ThenHealthyDeliversEverything(t *testing.T) {
	failFor, batchGap := 3*time.Second, 1500*time.Millisecond
	if long(t, "500s for 3 s", "500s for 60 s") {
		failFor, batchGap = 60*time.Second, 30*time.Second
	}
	const coe = time.Second // CoeOfIntervalForRetrySendingMsg = 1
	w := newWorld(t,
		&subs.Subscription{ID: 1, Topic: "s500", URL: "/a", AlertEnabled: true},
		&subs.Subscription{ID: 2, Topic: "s500", URL: "/b", AlertEnabled: true},
	)
	cfg := w.configVariant("s500.toml", map[string]string{"CoeOfIntervalForRetrySendingMsg": "1"})
	d := w.startWith(cfg, w.logs)

	// The answer depends on when the push arrived only, so that it can be
	// told from the recorded hits afterwards.
	healthyAt := time.Now().Add(failFor)
	failed := func(h testsrv.Hit) bool { return h.At.Before(healthyAt) }
	w.sub.SetAnswer(func(h testsrv.Hit) (int, string, time.Duration) {
		if failed(h) {
			return 500, "down for maintenance", 0
		}
		return 200, `{"status":1}`, 0
	})

	// Two batches: one at the start of the failure, one in its middle, so
	// that retries of different rounds overlap.
	const n = 20
	w.produce("s500", n)
	time.Sleep(batchGap) // the second batch's place in the failure, not a synchronisation
	w.produce("s500", n)
	jobs := 2 * n * 2 // messages × subscriptions

	// The longest path: a message of the first batch fails until failFor
	// is over; its retries come 1, 4, 9, … s apart.
	worst, at := time.Duration(0), time.Duration(0)
	for k := 1; at < failFor; k++ {
		at += time.Duration(k*k) * coe
		worst = at
	}
	w.sub.WaitFor(worst+30*time.Second, "one successful push per jobid", func(h []testsrv.Hit) bool {
		ok := map[string]bool{}
		for _, x := range h {
			if !failed(x) {
				ok[x.JobID] = true
			}
		}
		return len(ok) == jobs
	})
	// Once no job is left anywhere no more push can come: count then.
	require.EventuallyWithT(t, func(c *assert.CollectT) {
		idle, what := tubesIdle(w.bs.Addr)
		assert.True(c, idle, "a job is left: %s", what)
	}, 10*time.Second, 20*time.Millisecond)

	byJob := map[string][]testsrv.Hit{}
	for _, h := range w.sub.Hits() {
		byJob[h.JobID] = append(byJob[h.JobID], h)
	}
	require.Len(t, byJob, jobs)
	// Upper bound of a gap: reserving a job that just became ready, the
	// failure record and the put take milliseconds; the slack is for a
	// loaded 2-core machine.
	const slack = time.Second
	pushes, maxLate, minLate := 0, time.Duration(0), time.Hour
	for id, hs := range byJob {
		sort.Slice(hs, func(i, j int) bool { return hs[i].At.Before(hs[j].At) })
		oks := 0
		for i, h := range hs {
			pushes++
			require.Equal(t, i, h.RetryTimes, "jobid %s: retry_times of push %d", id, i)
			if !failed(h) {
				oks++
				require.Equal(t, len(hs)-1, i, "jobid %s: no push after its success", id)
			}
			if i == 0 {
				continue
			}
			want := time.Duration(i*i) * coe
			gap := h.At.Sub(hs[i-1].At)
			maxLate, minLate = max(maxLate, gap-want), min(minLate, gap-want)
			// A few ms of tolerance below: the clocks of beanstalkd and of
			// this process are read at different moments.
			require.GreaterOrEqual(t, gap, want-20*time.Millisecond, "jobid %s: gap before retry %d", id, i)
			require.LessOrEqual(t, gap, want+slack, "jobid %s: gap before retry %d", id, i)
		}
		require.Equal(t, 1, oks, "jobid %s: exactly one successful push", id)
	}
	t.Logf("%d jobids, each delivered once after %d pushes in all; retries came %v to %v after their due time",
		jobs, pushes, minLate.Round(time.Millisecond), maxLate.Round(time.Millisecond))

	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	<-d.exited
	require.NoError(t, d.err)
}
