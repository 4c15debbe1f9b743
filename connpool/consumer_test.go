package connpool

import (
	"context"
	"fmt"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/beanstalkd/go-beanstalk"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/testsrv"
)

// collector is a Handler that queues jobs for the test goroutine.
type collector struct{ jobs chan *Job }

func newCollector(n int) *collector { return &collector{jobs: make(chan *Job, n)} }

func (c *collector) handle(j *Job) { c.jobs <- j }

func (c *collector) next(t testing.TB) *Job {
	t.Helper()
	select {
	case j := <-c.jobs:
		return j
	case <-time.After(10 * time.Second):
		t.Fatal("no job delivered")
		return nil
	}
}

// errRecorder is an OnError that records failures.
type errRecorder struct {
	mu   sync.Mutex
	errs []string
	ch   chan error
}

func newErrRecorder() *errRecorder { return &errRecorder{ch: make(chan error, 100)} }

func (e *errRecorder) onError(j *Job, op string, err error) {
	e.mu.Lock()
	e.errs = append(e.errs, fmt.Sprintf("%s %d: %v", op, j.ID, err))
	e.mu.Unlock()
	e.ch <- err
}

func (e *errRecorder) none(t testing.TB) {
	t.Helper()
	e.mu.Lock()
	defer e.mu.Unlock()
	assert.Empty(t, e.errs)
}

// closeConsumer closes c, bounded so that a failed test does not hang.
func closeConsumer(t testing.TB, c *Consumer) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	assert.NoError(t, c.Close(ctx))
}

// noReserveOutstanding reports whether every link of c has all its
// reserves answered.
func noReserveOutstanding(c *Consumer) bool {
	for _, l := range c.links {
		l.mu.Lock()
		busy := l.nbRes > 0 || l.blocking
		l.mu.Unlock()
		if busy {
			return false
		}
	}
	return true
}

func serverStat(t testing.TB, c *beanstalk.Conn, key string) int {
	t.Helper()
	st, err := c.Stats()
	require.NoError(t, err)
	n, err := strconv.Atoi(st[key])
	require.NoError(t, err)
	return n
}

func tubeStat(t testing.TB, c *beanstalk.Conn, tube, key string) int {
	t.Helper()
	st, err := beanstalk.NewTube(c, tube).Stats()
	if err != nil {
		return 0 // tube gone: nothing in it
	}
	n, err := strconv.Atoi(st[key])
	require.NoError(t, err)
	return n
}

func TestConsumerDeliversFromManyTubes(t *testing.T) {
	a := testsrv.StartBeanstalkd(t)
	b := testsrv.StartBeanstalkd(t)
	p := newPool(t, testConfig(a.Addr, b.Addr))
	ctx := context.Background()
	errs := newErrRecorder()
	col := newCollector(1000)
	c := p.NewConsumer("sub", ConsumerConfig{OnError: errs.onError, Batch: 4}, col.handle)

	const tubes, per = 20, 10
	for i := range tubes {
		c.Watch("topic/sub-queue/" + strconv.Itoa(i))
	}
	want := map[string]bool{}
	for i := range tubes {
		for k := range per {
			body := fmt.Sprintf("%d-%d", i, k)
			_, err := p.Put(ctx, -1, "topic/sub-queue/"+strconv.Itoa(i), []byte(body), 1024, 0, time.Minute)
			require.NoError(t, err)
			want[body] = true
		}
	}
	got := map[string]bool{}
	for range tubes * per {
		j := col.next(t)
		require.False(t, got[string(j.Body)], "job %s delivered twice", j.Body)
		got[string(j.Body)] = true
		j.Delete()
	}
	assert.Equal(t, want, got)
	closeConsumer(t, c)
	errs.none(t)
	for _, addr := range []string{a.Addr, b.Addr} {
		bs := bsConn(t, addr)
		assert.Zero(t, serverStat(t, bs, "current-jobs-ready")+serverStat(t, bs, "current-jobs-reserved"))
		assert.Equal(t, serverStat(t, bs, "total-jobs"), serverStat(t, bs, "cmd-delete"))
	}
}

func TestConsumerWatchIgnore(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t)
	p := newPool(t, testConfig(srv.Addr))
	ctx := context.Background()
	col := newCollector(100)
	c := p.NewConsumer("sub", ConsumerConfig{Links: 1}, col.handle)
	defer closeConsumer(t, c)
	bs := bsConn(t, srv.Addr)

	// Nothing watched: nothing reserved, not even from "default".
	_, err := p.Put(ctx, 0, "default", []byte("d"), 1024, 0, time.Minute)
	require.NoError(t, err)
	c.Watch("a")
	_, err = p.Put(ctx, 0, "a", []byte("a1"), 1024, 0, time.Minute)
	require.NoError(t, err)
	j := col.next(t)
	assert.Equal(t, "a1", string(j.Body))
	j.Delete()

	c.Ignore("a")
	c.Watch("b")
	c.Watch("b") // idempotent
	// The ignore waits behind a long-poll reserve (at most IdleWait); a
	// reserve sent before it may still take a job of "a".
	eventually(t, "a ignored", func() bool { return tubeStat(t, bs, "a", "current-watching") == 0 })
	_, err = p.Put(ctx, 0, "a", []byte("a2"), 1024, 0, time.Minute)
	require.NoError(t, err)
	_, err = p.Put(ctx, 0, "b", []byte("b1"), 1024, 0, time.Minute)
	require.NoError(t, err)
	j = col.next(t)
	assert.Equal(t, "b1", string(j.Body))
	j.Delete()

	// Everything ignored: jobs stay ready.
	c.Ignore("b")
	c.Ignore("b")
	// Nothing watched: no new reserve is sent, but one sent before may
	// still take a job of "b" until it is answered.
	eventually(t, "no reserve outstanding", func() bool { return noReserveOutstanding(c) })
	_, err = p.Put(ctx, 0, "b", []byte("b2"), 1024, 0, time.Minute)
	require.NoError(t, err)
	c.Watch("a")
	j = col.next(t)
	assert.Equal(t, "a2", string(j.Body))
	j.Delete()

	eventually(t, "deletes applied", func() bool { return tubeStat(t, bs, "a", "current-jobs-ready") == 0 })
	assert.Equal(t, 1, tubeStat(t, bs, "default", "current-jobs-ready"))
	assert.Equal(t, 1, tubeStat(t, bs, "b", "current-jobs-ready"))
	select {
	case j := <-col.jobs:
		t.Fatalf("unexpected job %q", j.Body)
	default:
	}
}

// 500 subscriptions on 2 servers use a handful of connections.
func TestConsumerConnectionCountDoesNotGrowWithTubes(t *testing.T) {
	a := testsrv.StartBeanstalkd(t)
	b := testsrv.StartBeanstalkd(t)
	p := newPool(t, testConfig(a.Addr, b.Addr))
	ctx := context.Background()
	col := newCollector(1000)
	// A channel consumer and a retry consumer, like the engine runs.
	main := p.NewConsumer("channels", ConsumerConfig{}, col.handle)
	retry := p.NewConsumer("retries", ConsumerConfig{}, col.handle)
	defer closeConsumer(t, main)
	defer closeConsumer(t, retry)
	for i := range 500 {
		tube := "topic/sub-queue/" + strconv.Itoa(i)
		main.Watch(tube)
		retry.Watch(tube + "/FAIL")
	}
	for i := 0; i < 500; i += 50 {
		_, err := p.Put(ctx, -1, "topic/sub-queue/"+strconv.Itoa(i)+"/FAIL", []byte("x"), 1024, 0, time.Minute)
		require.NoError(t, err)
	}
	for range 10 {
		col.next(t).Delete()
	}
	total := 0
	for _, addr := range []string{a.Addr, b.Addr} {
		bs := bsConn(t, addr)
		// Our connections plus the checking one.
		total += serverStat(t, bs, "current-connections") - 1
		// Watches queue behind long-poll reserves for up to IdleWait.
		eventually(t, "watches applied", func() bool {
			return tubeStat(t, bs, "topic/sub-queue/499", "current-watching") == 2 &&
				tubeStat(t, bs, "topic/sub-queue/499/FAIL", "current-watching") == 2
		})
	}
	// 2 command + 2×2 reserve links per server.
	assert.Equal(t, 2*(2+2+2), total)
}

func TestConsumerKeepsSlowJobsReserved(t *testing.T) {
	if testing.Short() {
		t.Skip("waits past a TTR")
	}
	tests := []struct {
		name string
		ttr  time.Duration // ConsumerConfig.TTR
	}{
		// The guard touches jobs held longer than TTR/2.
		{"ttr guard", 2 * time.Second},
		// The job's TTR is shorter than configured: the server's
		// DEADLINE_SOON answer to the pending reserve triggers the touch.
		{"deadline soon", time.Minute},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := testsrv.StartBeanstalkd(t)
			p := newPool(t, testConfig(srv.Addr))
			ctx := context.Background()
			col := newCollector(10)
			errs := newErrRecorder()
			c := p.NewConsumer("slow", ConsumerConfig{Links: 1, TTR: tc.ttr, OnError: errs.onError}, col.handle)
			c.Watch("slow")
			res, err := p.Put(ctx, 0, "slow", []byte("x"), 1024, 0, 2*time.Second)
			require.NoError(t, err)
			j := col.next(t)
			bs := bsConn(t, srv.Addr)
			// Hold the job past its TTR: it must stay reserved by us.
			deadline := time.Now().Add(3 * time.Second)
			for time.Now().Before(deadline) {
				st, err := bs.StatsJob(res.ID)
				require.NoError(t, err)
				require.Equal(t, "reserved", st["state"])
				require.Equal(t, "0", st["timeouts"])
				time.Sleep(200 * time.Millisecond) // sampling the server's view; no signal exists
			}
			j.Delete()
			closeConsumer(t, c)
			errs.none(t)
			_, err = bs.StatsJob(res.ID)
			require.ErrorIs(t, err, beanstalk.ErrNotFound)
		})
	}
}

func TestConsumerCloseWaitsForHeldJobs(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t)
	p := newPool(t, testConfig(srv.Addr))
	ctx := context.Background()
	col := newCollector(10)
	c := p.NewConsumer("sub", ConsumerConfig{Links: 1}, col.handle)
	c.Watch("held")
	_, err := p.Put(ctx, 0, "held", []byte("x"), 1024, 0, time.Minute)
	require.NoError(t, err)
	j := col.next(t)

	closed := make(chan error, 1)
	go func() { closed <- c.Close(ctx) }()
	select {
	case err := <-closed:
		t.Fatalf("Close returned (%v) while a job is held", err)
	case <-time.After(100 * time.Millisecond):
	}
	j.Release(5, 0)
	require.NoError(t, <-closed)

	bs := bsConn(t, srv.Addr)
	st, err := bs.StatsJob(j.ID)
	require.NoError(t, err)
	assert.Equal(t, "ready", st["state"])
	assert.Equal(t, "5", st["pri"])
	assert.Equal(t, "1", st["releases"])
}

func TestConsumerCloseTimesOut(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t)
	p := newPool(t, testConfig(srv.Addr))
	col := newCollector(10)
	errs := newErrRecorder()
	c := p.NewConsumer("sub", ConsumerConfig{Links: 1, OnError: errs.onError}, col.handle)
	c.Watch("held")
	_, err := p.Put(context.Background(), 0, "held", []byte("x"), 1024, 0, time.Minute)
	require.NoError(t, err)
	j := col.next(t)

	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	require.ErrorIs(t, c.Close(ctx), context.DeadlineExceeded)
	// The link is gone: the server put the job back; ending it reports that.
	j.Delete()
	require.ErrorIs(t, <-errs.ch, ErrLinkLost)
	bs := bsConn(t, srv.Addr)
	eventually(t, "job back to ready", func() bool { return tubeStat(t, bs, "held", "current-jobs-ready") == 1 })
}

func TestJobOperations(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t)
	p := newPool(t, testConfig(srv.Addr))
	ctx := context.Background()
	col := newCollector(10)
	errs := newErrRecorder()
	c := p.NewConsumer("ops", ConsumerConfig{Links: 1, OnError: errs.onError}, col.handle)
	c.Watch("ops")
	bs := bsConn(t, srv.Addr)

	tests := []struct {
		name  string
		end   func(j *Job)
		state string
		pri   string
	}{
		{"bury", func(j *Job) { j.Bury(9) }, "buried", "9"},
		{"release delayed", func(j *Job) { j.Release(3, time.Hour) }, "delayed", "3"},
		{"touch then release", func(j *Job) { j.Touch(); j.Release(4, 0) }, "ready", "4"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			c.Ignore("ops") // the released job must not come back at once
			c.Watch("ops-" + tc.name[:4])
			res, err := p.Put(ctx, 0, "ops-"+tc.name[:4], []byte(tc.name), 1024, 0, time.Minute)
			require.NoError(t, err)
			j := col.next(t)
			require.Equal(t, res.ID, j.ID)
			c.Ignore("ops-" + tc.name[:4])
			tc.end(j)
			tc.end(j) // ending twice is ignored
			eventually(t, "state "+tc.state, func() bool {
				st, err := bs.StatsJob(res.ID)
				require.NoError(t, err)
				return st["state"] == tc.state
			})
			st, err := bs.StatsJob(res.ID)
			require.NoError(t, err)
			assert.Equal(t, tc.pri, st["pri"])
		})
	}
	closeConsumer(t, c)
	errs.none(t)
}

func TestDeleteOfTimedOutJobIsReported(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t)
	p := newPool(t, testConfig(srv.Addr))
	ctx := context.Background()
	col := newCollector(10)
	errs := newErrRecorder()
	c := p.NewConsumer("sub", ConsumerConfig{Links: 1, OnError: errs.onError}, col.handle)
	defer closeConsumer(t, c)
	c.Watch("gone")
	res, err := p.Put(ctx, 0, "gone", []byte("x"), 1024, 0, time.Minute)
	require.NoError(t, err)
	j := col.next(t)
	c.Ignore("gone")
	// Someone else deletes it (as if its TTR expired and another took it).
	bs := bsConn(t, srv.Addr)
	// A reserved job can only be deleted by its reserver; release it via
	// the server's view is not possible, so delete it through its own link
	// twice: the second delete is answered NOT_FOUND.
	j.link.mu.Lock()
	j.link.jobOpLocked(j, opDelete, 0, 0, p.now())
	j.link.mu.Unlock()
	eventually(t, "deleted", func() bool {
		_, err := bs.StatsJob(res.ID)
		return err != nil
	})
	j.Delete()
	require.ErrorIs(t, <-errs.ch, ErrNotFound)
}

// With Shard, each tube is watched by exactly one link per server, and
// every job of every tube is still delivered once.
func TestShardedConsumerWatchesEachTubeOnce(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t)
	p := newPool(t, testConfig(srv.Addr))
	got := make(chan *Job, 1000)
	c := p.NewConsumer("sharded", ConsumerConfig{Links: 4, Shard: true}, func(j *Job) { got <- j })
	t.Cleanup(func() { _ = c.Close(context.Background()) })
	const tubes = 40
	for i := 0; i < tubes; i++ {
		c.Watch(fmt.Sprintf("s%d", i))
	}
	bc := bsConn(t, srv.Addr)
	for i := 0; i < tubes; i++ {
		tube := fmt.Sprintf("s%d", i)
		_, err := beanstalk.NewTube(bc, tube).Put([]byte(tube), 1024, 0, time.Minute)
		require.NoError(t, err)
	}
	seen := map[string]bool{}
	for len(seen) < tubes {
		select {
		case j := <-got:
			require.False(t, seen[string(j.Body)], "delivered twice")
			seen[string(j.Body)] = true
			j.Delete()
		case <-time.After(10 * time.Second):
			t.Fatalf("only %d of %d tubes delivered", len(seen), tubes)
		}
	}
	for i := 0; i < tubes; i++ {
		st, err := beanstalk.NewTube(bc, fmt.Sprintf("s%d", i)).Stats()
		require.NoError(t, err)
		require.Equal(t, "1", st["current-watching"], "tube s%d", i)
	}
}

// A crashed process leaves at most one job per link in its wake tubes;
// nobody watches them any more, and the sweep removes them (and so the
// tubes), while a live consumer's wake tubes are left alone.
func TestSweepOrphanWakeTubes(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t)
	p := newPool(t, testConfig(srv.Addr))
	crashed, err := beanstalk.Dial("tcp", srv.Addr)
	require.NoError(t, err)
	_, err = beanstalk.NewTube(crashed, wakeTubePrefix+".deadbeef.0").Put(wakeBody, 0, 0, time.Minute)
	require.NoError(t, err)
	require.NoError(t, crashed.Close()) // a connection using a tube keeps it alive
	bc := bsConn(t, srv.Addr)
	live := p.NewConsumer("live", ConsumerConfig{Links: 1}, func(j *Job) { j.Delete() })
	t.Cleanup(func() { _ = live.Close(context.Background()) })
	live.Watch("x")
	eventually(t, "the live consumer watches its wake tube", func() bool {
		st, err := beanstalk.NewTube(bc, live.links[0].wakeTube).Stats()
		return err == nil && st["current-watching"] == "1"
	})
	require.Equal(t, 1, p.SweepOrphanWakeTubes(context.Background()))
	// Empty, the tube disappears once no connection uses it any more.
	st, err := beanstalk.NewTube(bc, wakeTubePrefix+".deadbeef.0").Stats()
	if err == nil {
		require.Equal(t, "0", st["current-jobs-ready"], "the orphan wake job is deleted")
	}
	tubes, err := bc.ListTubes()
	require.NoError(t, err)
	require.Contains(t, tubes, live.links[0].wakeTube, "a live consumer's wake tube is left alone")
}
