package dispatch

import (
	"context"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/stretchr/testify/require"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/push"
	"medispatcher/internal/testsrv"
)

// stuckLog is a DataLog whose DecodeErr holds the redistributor that
// calls it until release is closed: a stuck redistribution.
type stuckLog struct {
	*recordingLog
	entered chan struct{}
	release chan struct{}
}

func (l *stuckLog) DecodeErr(raw []byte, reason string) error {
	close(l.entered)
	<-l.release
	return nil
}

// fresh reports whether e's heartbeat was stamped within d.
func fresh(e *Engine, d time.Duration) bool {
	hb := e.Heartbeat()
	return !hb.IsZero() && time.Since(hb) < d
}

// The heartbeat is stamped while the main tube is idle and while messages
// flow; it goes stale when the one redistributor is stuck in a message and
// fresh again once it comes back; it stops with the engine.
func TestHeartbeatFollowsTheRedistributorLoop(t *testing.T) {
	bs := testsrv.StartBeanstalkd(t)
	pool, err := connpool.New(context.Background(), connpool.Config{Addrs: []string{bs.Addr}})
	require.NoError(t, err)
	t.Cleanup(func() { _ = pool.Close() })
	src := newStaticSource()
	data := &stuckLog{recordingLog: &recordingLog{}, entered: make(chan struct{}), release: make(chan struct{})}
	eng, err := New(Options{MainTube: mainTube, RedistWorkers: 1, ShutdownTimeout: 5 * time.Second},
		Deps{Pool: pool, Push: push.NewClient(push.Config{}), Source: src, Data: data})
	require.NoError(t, err)
	require.True(t, eng.Heartbeat().IsZero(), "no heartbeat before Run")

	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- eng.Run(ctx) }()
	stopped := false
	t.Cleanup(func() {
		if !stopped {
			cancel()
			<-done
		}
	})
	s := testsrv.NewSubscriber(t)
	src.set(t, sub(1, "hb", s.URL))
	<-eng.Applied()

	// Idle main tube: the stamp still moves on.
	first := waitStamp(t, eng, time.Time{})
	waitStamp(t, eng, first)

	// One malformed job holds the only redistributor: the stamp ages.
	bc, err := beanstalk.Dial("tcp", bs.Addr)
	require.NoError(t, err)
	defer bc.Close()
	_, err = beanstalk.NewTube(bc, mainTube).Put([]byte("not a message"), 1024, 0, time.Minute)
	require.NoError(t, err)
	select {
	case <-data.entered:
	case <-time.After(10 * time.Second):
		t.Fatal("the malformed job never reached the redistributor")
	}
	stuckAt := eng.Heartbeat()
	require.Never(t, func() bool { return eng.Heartbeat().After(stuckAt) }, 4*heartbeatEvery, heartbeatEvery/5,
		"no stamp while the redistributor is stuck")
	require.False(t, fresh(eng, 3*heartbeatEvery), "a stuck loop's heartbeat is stale")

	close(data.release)
	require.Eventually(t, func() bool { return fresh(eng, 2*heartbeatEvery) }, 5*time.Second, heartbeatEvery/5,
		"fresh again once the redistributor is back")

	cancel()
	require.NoError(t, <-done)
	stopped = true
	last := eng.Heartbeat()
	require.Never(t, func() bool { return eng.Heartbeat().After(last) }, 3*heartbeatEvery, heartbeatEvery/5,
		"no stamp after the engine stopped")
}

// waitStamp waits for a heartbeat stamped after prev and returns it.
func waitStamp(t *testing.T, e *Engine, prev time.Time) time.Time {
	t.Helper()
	var hb time.Time
	require.Eventually(t, func() bool {
		hb = e.Heartbeat()
		return hb.After(prev)
	}, 5*time.Second, heartbeatEvery/5, "a heartbeat after %v", prev)
	return hb
}
