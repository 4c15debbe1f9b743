package daemon

import (
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/testsrv"
)

// TestRetryJobsLeftByOthersAreDelivered: retry tubes are watched only while
// they hold jobs (LazyRetryWatch). Retry jobs another daemon left — one
// ready, one still delayed — are found by the backlog sampler and
// delivered; an empty retry tube is then left unwatched.
func TestRetryJobsLeftByOthersAreDelivered(t *testing.T) {
	w := newWorld(t, &subs.Subscription{ID: 4, Topic: "left", URL: "/hook", AlertEnabled: true})
	retry := beanstalk.NewTube(w.bc, "left/sub-queue/4/FAIL")
	for i, delay := range []time.Duration{0, 2 * time.Second} {
		m := message.Message{Topic: []byte("left"), Body: []byte{0xa1, byte('a' + i)}, Time: 1732500000,
			RetryTimes: 1, LogID: uint64(100 + i), OriginJobID: uint64(7 + i)}
		_, err := retry.Put(message.AppendRetryJob(nil, &m), 1024, delay, time.Minute)
		require.NoError(t, err)
	}
	d := w.start()
	hits := w.sub.WaitFor(30*time.Second, "both retry jobs", func(h []testsrv.Hit) bool { return len(h) >= 2 })
	for _, h := range hits {
		require.Equal(t, 2, h.RetryTimes, "a retry job with 1 retry done is pushed as retry 2")
	}
	// Empty now: a later sweep ignores the tube again (every watched tube
	// costs beanstalkd work on every event).
	require.Eventually(t, func() bool {
		st, err := retry.Stats()
		if err != nil {
			return false
		}
		n, _ := strconv.Atoi(st["current-watching"])
		return n == 0
	}, 30*time.Second, 50*time.Millisecond, "the empty retry tube is no longer watched")
	require.NoError(t, d.cmd.Process.Signal(syscall.SIGTERM))
	<-d.exited
	require.NoError(t, d.err)
}
