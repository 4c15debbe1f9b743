package clean

import (
	"context"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/stretchr/testify/require"

	"medispatcher/connpool"
	"medispatcher/internal/testsrv"
)

func TestCleansUpToTheSnapshotWhileJobsKeepArriving(t *testing.T) {
	bs := testsrv.StartBeanstalkd(t)
	pool, err := connpool.New(context.Background(), connpool.Config{Addrs: []string{bs.Addr}})
	require.NoError(t, err)
	defer pool.Close()
	bc, err := beanstalk.Dial("tcp", bs.Addr)
	require.NoError(t, err)
	defer bc.Close()
	ch := beanstalk.NewTube(bc, "t/sub-queue/5")
	for i := 0; i < 200; i++ {
		_, err := ch.Put([]byte("old"), 1024, 0, time.Minute)
		require.NoError(t, err)
	}
	_, err = beanstalk.NewTube(bc, "t/sub-queue/5/FAIL").Put([]byte("retry"), 1024, time.Hour, time.Minute)
	require.NoError(t, err)
	_, err = beanstalk.NewTube(bc, "t/sub-queue/6").Put([]byte("other sub"), 1024, 0, time.Minute)
	require.NoError(t, err)

	// A producer keeps the tube filling during the cleaning.
	stop := make(chan struct{})
	var wg sync.WaitGroup
	var added atomic.Int64
	wg.Add(1)
	go func() {
		defer wg.Done()
		pc, err := beanstalk.Dial("tcp", bs.Addr)
		if err != nil {
			return
		}
		defer pc.Close()
		tb := beanstalk.NewTube(pc, "t/sub-queue/5")
		for {
			select {
			case <-stop:
				return
			default:
			}
			if _, err := tb.Put([]byte("new"), 1024, 0, time.Minute); err == nil {
				added.Add(1)
			}
		}
	}()
	var mu sync.Mutex
	var dropped []string
	reps, err := Run(context.Background(), pool, Options{Topic: "t", SubID: 5, ChannelPrefix: "sub-queue/"},
		func(topic string, sub int64, job []byte, reason string) error {
			mu.Lock()
			dropped = append(dropped, string(job))
			mu.Unlock()
			return nil
		})
	close(stop)
	wg.Wait()
	require.NoError(t, err)
	byTube := map[string]Report{}
	for _, r := range reps {
		byTube[r.Tube+" "+r.State] = r
	}
	// The snapshot holds the 200 old jobs and whatever the producer put
	// before the count was taken; exactly that many go, oldest first.
	snap := byTube["t/sub-queue/5 ready"]
	require.GreaterOrEqual(t, snap.Found, int64(200))
	require.EqualValues(t, snap.Found, snap.Deleted, "only jobs of the snapshot are deleted")
	require.Len(t, dropped, snap.Deleted, "each deleted job is in the drop log")
	for i, job := range dropped[:200] {
		require.Equal(t, "old", job, "drop %d: the oldest go first", i)
	}
	st, err := ch.Stats()
	require.NoError(t, err)
	n, _ := strconv.Atoi(st["current-jobs-ready"])
	require.EqualValues(t, added.Load()-(snap.Found-200), n, "jobs that arrived after the snapshot are kept")
	st, err = beanstalk.NewTube(bc, "t/sub-queue/5/FAIL").Stats()
	require.NoError(t, err)
	require.Equal(t, "1", st["current-jobs-delayed"], "delayed jobs are kept unless asked for")
	st, err = beanstalk.NewTube(bc, "t/sub-queue/6").Stats()
	require.NoError(t, err)
	require.Equal(t, "1", st["current-jobs-ready"], "other subscriptions are not touched")

	reps, err = Run(context.Background(), pool, Options{Topic: "t", SubID: 5, ChannelPrefix: "sub-queue/", Delayed: true, DryRun: true}, nil)
	require.NoError(t, err)
	found := int64(0)
	for _, r := range reps {
		require.Zero(t, r.Deleted)
		if r.Tube == "t/sub-queue/5/FAIL" && r.State == "delayed" {
			found = r.Found
		}
	}
	require.EqualValues(t, 1, found)
}
