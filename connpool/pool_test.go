package connpool

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/testsrv"
)

// testConfig is a Config with timeouts short enough for failure tests.
func testConfig(addrs ...string) Config {
	return Config{
		Addrs:       addrs,
		CmdConns:    2,
		ListenConns: 2,
		OpTimeout:   time.Second,
		DialTimeout: 500 * time.Millisecond,
		BackoffMin:  20 * time.Millisecond,
		BackoffMax:  200 * time.Millisecond,
		Logger:      slog.New(slog.NewTextHandler(io.Discard, nil)),
	}
}

func newPool(t testing.TB, cfg Config) *Pool {
	t.Helper()
	p, err := New(context.Background(), cfg)
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

// bsConn is an independent client (go-beanstalk) to check the server.
func bsConn(t testing.TB, addr string) *beanstalk.Conn {
	t.Helper()
	c, err := beanstalk.DialTimeout("tcp", addr, time.Second)
	require.NoError(t, err)
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// eventually polls cond until it holds; only for states no signal reports
// (a server's view, a reconnect in the background).
func eventually(t testing.TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func jobTube(t testing.TB, c *beanstalk.Conn, id uint64) string {
	t.Helper()
	st, err := c.StatsJob(id)
	require.NoError(t, err, "stats-job %d", id)
	return st["tube"]
}

func TestPutLandsInTube(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t)
	p := newPool(t, testConfig(srv.Addr))
	bs := bsConn(t, srv.Addr)
	ctx := context.Background()

	// Alternate tubes so that every command link switches `use` often.
	for i := range 20 {
		tube := fmt.Sprintf("order_paid/sub-queue/%d", i%3)
		body := []byte("m" + strconv.Itoa(i))
		res, err := p.Put(ctx, 0, tube, body, 1024, 0, 60*time.Second)
		require.NoError(t, err)
		assert.Equal(t, 0, res.Server)
		assert.Equal(t, tube, jobTube(t, bs, res.ID))
		got, err := bs.Peek(res.ID)
		require.NoError(t, err)
		assert.Equal(t, body, got)
	}
}

func TestPutOptionsReachServer(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t)
	p := newPool(t, testConfig(srv.Addr))
	bs := bsConn(t, srv.Addr)

	res, err := p.Put(context.Background(), -1, "opts", []byte("x"), 7, 30*time.Second, 90*time.Second)
	require.NoError(t, err)
	st, err := bs.StatsJob(res.ID)
	require.NoError(t, err)
	assert.Equal(t, "7", st["pri"])
	assert.Equal(t, "delayed", st["state"])
	assert.Equal(t, "30", st["delay"])
	assert.Equal(t, "90", st["ttr"])
}

func TestPutErrors(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t) // -z 1 MiB
	p := newPool(t, testConfig(srv.Addr))
	ctx := context.Background()

	tests := []struct {
		name string
		tube string
		body []byte
		want error
	}{
		{"empty tube", "", []byte("x"), ErrBadTubeName},
		{"bad char", "a b", []byte("x"), ErrBadTubeName},
		{"leading hyphen", "-a", []byte("x"), ErrBadTubeName},
		{"too long", string(make([]byte, 201)), []byte("x"), ErrBadTubeName},
		{"too big", "big", make([]byte, 1<<20+1), ErrJobTooBig},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			_, err := p.Put(ctx, 0, tc.tube, tc.body, 1024, 0, time.Minute)
			require.ErrorIs(t, err, tc.want)
		})
	}
	// The link survived the refused put.
	_, err := p.Put(ctx, 0, "big", []byte("ok"), 1024, 0, time.Minute)
	require.NoError(t, err)
}

func TestPutNoServerFailsFast(t *testing.T) {
	// A port nobody listens on: connection refused at once.
	srv := testsrv.StartBeanstalkd(t)
	addr := srv.Addr
	srv.Kill()
	p := newPool(t, testConfig(addr))
	require.False(t, p.Healthy(0))

	start := time.Now()
	_, err := p.Put(context.Background(), -1, "t", []byte("x"), 1024, 0, time.Minute)
	require.ErrorIs(t, err, ErrUnavailable)
	assert.Less(t, time.Since(start), 100*time.Millisecond, "no wait for a reconnect")
}

func TestPoolCommands(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t)
	p := newPool(t, testConfig(srv.Addr))
	bs := bsConn(t, srv.Addr)
	ctx := context.Background()

	res, err := p.Put(ctx, 0, "cmds", []byte("first"), 1024, 0, time.Minute)
	require.NoError(t, err)
	_, err = p.Put(ctx, 0, "cmds", []byte("second"), 1024, time.Hour, time.Minute)
	require.NoError(t, err)

	id, body, err := p.Peek(ctx, 0, "cmds", "ready")
	require.NoError(t, err)
	assert.Equal(t, res.ID, id)
	assert.Equal(t, []byte("first"), body)
	_, _, err = p.Peek(ctx, 0, "cmds", "buried")
	require.ErrorIs(t, err, ErrNotFound)

	st, err := p.StatsTube(ctx, 0, "cmds")
	require.NoError(t, err)
	assert.Equal(t, "cmds", st.Name)
	assert.EqualValues(t, 1, st.Ready)
	assert.EqualValues(t, 1, st.Delayed)
	assert.EqualValues(t, 2, st.TotalJobs)
	_, err = p.StatsTube(ctx, 0, "nosuchtube")
	require.ErrorIs(t, err, ErrNotFound)

	js, err := p.StatsJob(ctx, 0, res.ID)
	require.NoError(t, err)
	assert.Equal(t, JobStats{ID: res.ID, Tube: "cmds", State: "ready", Pri: 1024, TTR: 60,
		Age: js.Age, TimeLeft: js.TimeLeft}, js)

	tubes, err := p.ListTubes(ctx, 0)
	require.NoError(t, err)
	assert.ElementsMatch(t, []string{"default", "cmds"}, tubes)

	// Bury through an independent connection, then kick it back.
	ts := beanstalk.NewTubeSet(bs, "cmds")
	rid, _, err := ts.Reserve(time.Second)
	require.NoError(t, err)
	require.Equal(t, res.ID, rid)
	require.NoError(t, bs.Bury(rid, 1024))
	n, err := p.Kick(ctx, 0, "cmds", 10)
	require.NoError(t, err)
	assert.Equal(t, 1, n)
	js, err = p.StatsJob(ctx, 0, res.ID)
	require.NoError(t, err)
	assert.Equal(t, "ready", js.State)
	assert.EqualValues(t, 1, js.Kicks)

	require.NoError(t, p.Delete(ctx, 0, res.ID))
	require.ErrorIs(t, p.Delete(ctx, 0, res.ID), ErrNotFound)
	require.ErrorIs(t, p.KickJob(ctx, 0, res.ID), ErrNotFound)

	_, _, err = p.Peek(ctx, 0, "cmds", "bogus")
	require.Error(t, err)
	_, err = p.StatsJob(ctx, 5, 1)
	require.Error(t, err)
}

func TestPutConcurrent(t *testing.T) {
	a := testsrv.StartBeanstalkd(t)
	b := testsrv.StartBeanstalkd(t)
	p := newPool(t, testConfig(a.Addr, b.Addr))
	ctx := context.Background()

	const workers, per = 32, 100
	type put struct {
		res  PutResult
		tube string
		body string
	}
	results := make([][]put, workers)
	var wg sync.WaitGroup
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range per {
				tube := "t" + strconv.Itoa((w+i)%5)
				body := fmt.Sprintf("w%d-%d", w, i)
				res, err := p.Put(ctx, -1, tube, []byte(body), 1024, 0, time.Minute)
				if !assert.NoError(t, err) {
					return
				}
				results[w] = append(results[w], put{res, tube, body})
			}
		}()
	}
	wg.Wait()

	conns := []*beanstalk.Conn{bsConn(t, a.Addr), bsConn(t, b.Addr)}
	seen := map[PutResult]bool{}
	perServer := [2]int{}
	for _, rs := range results {
		require.Len(t, rs, per)
		for _, r := range rs {
			require.False(t, seen[r.res], "id %v returned twice", r.res)
			seen[r.res] = true
			perServer[r.res.Server]++
			got, err := conns[r.res.Server].Peek(r.res.ID)
			require.NoError(t, err)
			require.Equal(t, r.body, string(got))
			require.Equal(t, r.tube, jobTube(t, conns[r.res.Server], r.res.ID))
		}
	}
	// Rotation spreads puts over both servers.
	assert.Greater(t, perServer[0], workers*per/4)
	assert.Greater(t, perServer[1], workers*per/4)
}

func TestPutAllocs(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t)
	p := newPool(t, testConfig(srv.Addr))
	ctx := context.Background()
	body := []byte("payload")
	// Warm up buffers and the request pool.
	for range 100 {
		_, err := p.Put(ctx, 0, "allocs", body, 1024, 0, time.Minute)
		require.NoError(t, err)
	}
	allocs := testing.AllocsPerRun(500, func() {
		if _, err := p.Put(ctx, 0, "allocs", body, 1024, 0, time.Minute); err != nil {
			t.Fatal(err)
		}
	})
	assert.LessOrEqual(t, allocs, 1.0, "allocations per put")
}

func TestCloseFailsPending(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t)
	p, err := New(context.Background(), testConfig(srv.Addr))
	require.NoError(t, err)
	srv.Pause() // puts stay pending
	defer srv.Resume()

	errc := make(chan error, 1)
	go func() {
		_, err := p.Put(context.Background(), 0, "t", []byte("x"), 1024, 0, time.Minute)
		errc <- err
	}()
	eventually(t, "put in flight", func() bool {
		for _, s := range p.Stats() {
			if s.InFlight > 0 {
				return true
			}
		}
		return false
	})
	require.NoError(t, p.Close())
	err = <-errc
	require.ErrorIs(t, err, ErrClosed)
	_, err = p.Put(context.Background(), 0, "t", []byte("x"), 1024, 0, time.Minute)
	require.ErrorIs(t, err, ErrClosed)
}

func TestPutContextCanceled(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t)
	p := newPool(t, testConfig(srv.Addr))
	srv.Pause()
	defer srv.Resume()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err := p.Put(ctx, 0, "t", []byte("x"), 1024, 0, time.Minute)
	require.ErrorIs(t, err, context.DeadlineExceeded)
}

func TestStats(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t)
	cfg := testConfig(srv.Addr)
	p := newPool(t, cfg)
	for range 10 {
		_, err := p.Put(context.Background(), 0, "s", []byte("x"), 1024, 0, time.Minute)
		require.NoError(t, err)
	}
	st := p.Stats()
	require.Len(t, st, cfg.CmdConns)
	for _, s := range st {
		assert.Equal(t, "cmd", s.Kind)
		assert.True(t, s.Connected)
		assert.Equal(t, 0, s.InFlight)
		assert.Positive(t, s.RTT)
		assert.Zero(t, s.Reconnects)
	}
	c := p.NewConsumer("sub", ConsumerConfig{}, func(j *Job) { j.Delete() })
	defer closeConsumer(t, c)
	assert.Len(t, p.Stats(), cfg.CmdConns+cfg.ListenConns)
}

func TestServerErrorMessage(t *testing.T) {
	err := error(&ServerError{Op: "put", Reply: "OUT_OF_MEMORY"})
	assert.Equal(t, "beanstalkd: put: OUT_OF_MEMORY", err.Error())
	var se *ServerError
	assert.True(t, errors.As(fmt.Errorf("put to x: %w", err), &se))
}
