package connpool

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/testsrv"
)

// drain reserves and deletes every job of tube through an independent
// client and returns the bodies with their ids.
func drain(t testing.TB, addr, tube string) map[string]uint64 {
	t.Helper()
	c := bsConn(t, addr)
	ts := beanstalk.NewTubeSet(c, tube)
	out := map[string]uint64{}
	for {
		id, body, err := ts.Reserve(0)
		if errors.Is(err, beanstalk.ErrTimeout) {
			return out
		}
		require.NoError(t, err)
		_, dup := out[string(body)]
		require.False(t, dup, "body %q stored twice", body)
		out[string(body)] = id
		require.NoError(t, c.Delete(id))
	}
}

// A server killed and restarted (binlog) in the middle of traffic: no put
// lost, none duplicated, every error says whether the put may be stored.
func TestKillRestartMidTraffic(t *testing.T) {
	a := testsrv.StartBeanstalkd(t, testsrv.WithBinlog())
	b := testsrv.StartBeanstalkd(t, testsrv.WithBinlog())
	p := newPool(t, testConfig(a.Addr, b.Addr))
	const tube = "event_center_messages"

	type outcome struct {
		res PutResult
		err error
	}
	var (
		mu       sync.Mutex
		outcomes = map[string]outcome{}
		okOn     [2]atomic.Int64
		stop     = make(chan struct{})
		wg       sync.WaitGroup
	)
	for w := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; ; i++ {
				select {
				case <-stop:
					return
				default:
				}
				body := "w" + strconv.Itoa(w) + "-" + strconv.Itoa(i)
				res, err := p.Put(context.Background(), -1, tube, []byte(body), 1024, 0, time.Minute)
				mu.Lock()
				outcomes[body] = outcome{res, err}
				mu.Unlock()
				if err == nil {
					okOn[res.Server].Add(1)
				}
			}
		}()
	}
	waitPuts := func(server int, more int64) {
		t.Helper()
		target := okOn[server].Load() + more
		eventually(t, "puts on server "+strconv.Itoa(server), func() bool { return okOn[server].Load() >= target })
	}
	waitPuts(0, 500)
	a.Kill()
	waitPuts(1, 1000) // traffic goes on on the other server
	a.Restart(t)
	eventually(t, "server 0 healthy again", func() bool { return p.Healthy(0) })
	waitPuts(0, 500)
	close(stop)
	wg.Wait()

	stored := [2]map[string]uint64{drain(t, a.Addr, tube), drain(t, b.Addr, tube)}
	var failed, uncertain int
	for body, o := range outcomes {
		in0, ok0 := stored[0][body]
		in1, ok1 := stored[1][body]
		require.False(t, ok0 && ok1, "%s stored on both servers", body)
		if o.err == nil {
			id := map[int]uint64{0: in0, 1: in1}[o.res.Server]
			require.True(t, map[int]bool{0: ok0, 1: ok1}[o.res.Server], "acknowledged put %s lost", body)
			require.Equal(t, o.res.ID, id, "put %s", body)
			continue
		}
		failed++
		switch {
		case errors.Is(o.err, ErrUnavailable):
			// Certainly not stored: the command was never written.
			require.False(t, ok0 || ok1, "%s failed with %v but was stored", body, o.err)
		case errors.Is(o.err, ErrConnLost), errors.Is(o.err, ErrTimeout):
			uncertain++ // may or may not be stored; reported as such
		default:
			t.Fatalf("put %s: unexpected error %v", body, o.err)
		}
	}
	for s := range stored {
		for body := range stored[s] {
			_, ok := outcomes[body]
			require.True(t, ok, "stored %s was never put", body)
		}
	}
	t.Logf("puts: %d, failed: %d (uncertain %d), on 0: %d, on 1: %d",
		len(outcomes), failed, uncertain, okOn[0].Load(), okOn[1].Load())
	var reconnects uint64
	for _, s := range p.Stats() {
		if s.Server == 0 {
			reconnects += s.Reconnects
		}
	}
	assert.Positive(t, reconnects)
}

// A server that accepts connections but never answers: its requests time
// out with ErrTimeout, the other server keeps flowing, and once detected
// the hung server gets no traffic until it answers again.
func TestPausedServer(t *testing.T) {
	a := testsrv.StartBeanstalkd(t)
	b := testsrv.StartBeanstalkd(t)
	cfg := testConfig(a.Addr, b.Addr)
	cfg.OpTimeout = 300 * time.Millisecond
	p := newPool(t, cfg)
	ctx := context.Background()
	c := p.NewConsumer("sub", ConsumerConfig{}, func(j *Job) { j.Delete() })
	c.Watch("p")

	a.Pause()
	defer a.Resume()

	// Traffic to the healthy server during the hang.
	var okB atomic.Int64
	stop := make(chan struct{})
	flowing := make(chan error, 1)
	go func() {
		for {
			select {
			case <-stop:
				flowing <- nil
				return
			default:
			}
			if _, err := p.Put(ctx, 1, "p", []byte("b"), 1024, 0, time.Minute); err != nil {
				flowing <- err
				return
			}
			okB.Add(1)
		}
	}()

	start := time.Now()
	_, err := p.Put(ctx, 0, "p", []byte("a"), 1024, 0, time.Minute)
	require.ErrorIs(t, err, ErrTimeout)
	assert.Less(t, time.Since(start), 3*cfg.OpTimeout, "bounded by OpTimeout")
	_, err = p.StatsTube(ctx, 0, "p")
	if err != nil { // the other command link may already be down
		require.True(t, errors.Is(err, ErrTimeout) || errors.Is(err, ErrUnavailable), "%v", err)
	}
	assert.Positive(t, okB.Load(), "server 1 kept flowing while server 0 hung")

	// Detected: preferring the hung server falls back at once.
	eventually(t, "server 0 unhealthy", func() bool { return !p.Healthy(0) })
	res, err := p.Put(ctx, 0, "p", []byte("fallback"), 1024, 0, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, 1, res.Server)
	close(stop)
	require.NoError(t, <-flowing)

	// Consumer.Close is bounded by its ctx even with a link on a hung server.
	closeCtx, cancel := context.WithTimeout(ctx, 500*time.Millisecond)
	defer cancel()
	start = time.Now()
	_ = c.Close(closeCtx)
	assert.Less(t, time.Since(start), 2*time.Second)

	a.Resume()
	eventually(t, "server 0 healthy again", func() bool { return p.Healthy(0) })
	res, err = p.Put(ctx, 0, "p", []byte("back"), 1024, 0, time.Minute)
	require.NoError(t, err)
	assert.Equal(t, 0, res.Server)
}

// Regression of the old daemon: a rebuilt connection sent messages to the
// wrong tube because the client kept believing it still `use`d the tube.
func TestReconnectForgetsTubeState(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t, testsrv.WithBinlog())
	p := newPool(t, testConfig(srv.Addr))
	ctx := context.Background()
	col := newCollector(10)
	errs := newErrRecorder()
	c := p.NewConsumer("sub", ConsumerConfig{Links: 1, OnError: errs.onError}, col.handle)
	defer closeConsumer(t, c)
	c.Watch("w")

	// Every command link now uses "x".
	for range 10 {
		_, err := p.Put(ctx, 0, "x", []byte("before"), 1024, 0, time.Minute)
		require.NoError(t, err)
	}
	_, err := p.Put(ctx, 0, "w", []byte("held"), 1024, 0, time.Minute)
	require.NoError(t, err)
	held := col.next(t)

	srv.Kill()
	srv.Restart(t)
	eventually(t, "reconnected", func() bool {
		for _, s := range p.Stats() {
			if !s.Connected || s.Reconnects == 0 {
				return false
			}
		}
		return true
	})

	// The job reserved on the lost connection went back to ready on the
	// server (binlog); ending it is reported, not sent on the new one.
	held.Delete()
	require.ErrorIs(t, <-errs.ch, ErrLinkLost)
	again := col.next(t) // the new link watches "w" again and gets it back
	assert.Equal(t, held.ID, again.ID)
	again.Delete()

	bs := bsConn(t, srv.Addr)
	for i := range 10 {
		res, err := p.Put(ctx, 0, "x", []byte("after"+strconv.Itoa(i)), 1024, 0, time.Minute)
		require.NoError(t, err)
		assert.Equal(t, "x", jobTube(t, bs, res.ID))
	}
	assert.Equal(t, 20, tubeStat(t, bs, "x", "current-jobs-ready"))
	assert.Zero(t, tubeStat(t, bs, "default", "total-jobs"))

	// The new reserve link ignores "default" again.
	_, err = p.Put(ctx, 0, "default", []byte("not for us"), 1024, 0, time.Minute)
	require.NoError(t, err)
	res, err := p.Put(ctx, 0, "w", []byte("for us"), 1024, 0, time.Minute)
	require.NoError(t, err)
	j := col.next(t)
	assert.Equal(t, res.ID, j.ID)
	j.Delete()
}

// Regression of the old daemon: one dead instance blocked all pushes.
func TestDeadServerDoesNotBlockPuts(t *testing.T) {
	a := testsrv.StartBeanstalkd(t)
	b := testsrv.StartBeanstalkd(t)
	p := newPool(t, testConfig(a.Addr, b.Addr))
	ctx := context.Background()
	a.Kill()
	eventually(t, "server 0 seen dead", func() bool { return !p.Healthy(0) })

	for i := range 200 {
		prefer := i%3 - 1 // -1, 0, 1
		res, err := p.Put(ctx, prefer, "t", []byte("x"), 1024, 0, time.Minute)
		require.NoError(t, err)
		require.Equal(t, 1, res.Server)
	}
	_, err := p.StatsTube(ctx, 0, "t")
	require.ErrorIs(t, err, ErrUnavailable)
	st, err := p.StatsTube(ctx, 1, "t")
	require.NoError(t, err)
	assert.EqualValues(t, 200, st.Ready)
}
