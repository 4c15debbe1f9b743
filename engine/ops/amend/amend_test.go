package amend

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/stretchr/testify/require"

	"medispatcher/connpool"
	"medispatcher/internal/testsrv"
)

// buryIn puts n jobs into tube and buries them, as a crashed old daemon
// left them.
func buryIn(t *testing.T, c *beanstalk.Conn, tube string, n int) {
	t.Helper()
	tb := beanstalk.NewTube(c, tube)
	ts := beanstalk.NewTubeSet(c, tube)
	for i := 0; i < n; i++ {
		_, err := tb.Put([]byte("job"), 1024, 0, time.Minute)
		require.NoError(t, err)
		id, _, err := ts.Reserve(time.Second)
		require.NoError(t, err)
		require.NoError(t, c.Bury(id, 1024))
	}
}

func counts(t *testing.T, c *beanstalk.Conn, tube string) (ready, delayed, buried int) {
	t.Helper()
	st, err := beanstalk.NewTube(c, tube).Stats()
	require.NoError(t, err)
	n := func(k string) int { v, _ := strconv.Atoi(st[k]); return v }
	return n("current-jobs-ready"), n("current-jobs-delayed"), n("current-jobs-buried")
}

func TestKicksBuriedJobsOfMedispatcherTubesOnly(t *testing.T) {
	a, b := testsrv.StartBeanstalkd(t), testsrv.StartBeanstalkd(t)
	ca, err := beanstalk.Dial("tcp", a.Addr)
	require.NoError(t, err)
	defer ca.Close()
	cb, err := beanstalk.Dial("tcp", b.Addr)
	require.NoError(t, err)
	defer cb.Close()

	buryIn(t, ca, "event_center_messages", 2)
	buryIn(t, ca, "order_paid/sub-queue/17", 3)
	buryIn(t, cb, "order_paid/sub-queue/17/FAIL", 1)
	buryIn(t, cb, "someone_elses_tube", 4)
	// A retry that is not due yet must stay delayed.
	_, err = beanstalk.NewTube(cb, "order_paid/sub-queue/17/FAIL").Put([]byte("later"), 1024, time.Hour, time.Minute)
	require.NoError(t, err)

	pool, err := connpool.New(context.Background(), connpool.Config{Addrs: []string{a.Addr, b.Addr}})
	require.NoError(t, err)
	defer pool.Close()

	dry, err := Run(context.Background(), pool, "event_center_messages", "sub-queue/", true, nil)
	require.NoError(t, err)
	require.Len(t, dry, 3)
	for _, r := range dry {
		require.Zero(t, r.Kicked, "a dry run kicks nothing")
	}
	_, _, buried := counts(t, ca, "order_paid/sub-queue/17")
	require.Equal(t, 3, buried)

	reps, err := Run(context.Background(), pool, "event_center_messages", "sub-queue/", false, nil)
	require.NoError(t, err)
	got := map[string]int{}
	for _, r := range reps {
		require.NoError(t, r.Err)
		got[r.Tube] = r.Kicked
	}
	require.Equal(t, map[string]int{"event_center_messages": 2, "order_paid/sub-queue/17": 3, "order_paid/sub-queue/17/FAIL": 1}, got)

	ready, _, buried := counts(t, ca, "event_center_messages")
	require.Equal(t, [2]int{2, 0}, [2]int{ready, buried})
	ready, delayed, buried := counts(t, cb, "order_paid/sub-queue/17/FAIL")
	require.Equal(t, [3]int{1, 1, 0}, [3]int{ready, delayed, buried}, "the not-yet-due retry stays delayed")
	_, _, buried = counts(t, cb, "someone_elses_tube")
	require.Equal(t, 4, buried, "tubes that are not medispatcher's are left alone")
}
