package connpool

import (
	"context"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/testsrv"
)

// Jobs that arrive one at a time (a producer or a server slower than the
// consumer: the tubes are mostly empty) cost a few reserves each, not a
// burst of Batch reserves answered TIMED_OUT after every job and after
// every wake of a long poll.
func TestConsumerTrickleCostsFewReserves(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t)
	p := newPool(t, testConfig(srv.Addr))
	ctx := context.Background()
	errs := newErrRecorder()
	col := newCollector(10)
	c := p.NewConsumer("sub", ConsumerConfig{Links: 1, Batch: 16, OnError: errs.onError}, col.handle)
	defer closeConsumer(t, c)
	bs := bsConn(t, srv.Addr)
	c.Watch("trickle")
	eventually(t, "the tube is watched", func() bool { return tubeStat(t, bs, "trickle", "current-watching") == 1 })
	eventually(t, "the link long-polls", func() bool { return linkState(c, func(l *link) bool { return l.blocking }) })

	const jobs = 20
	before := serverStat(t, bs, "cmd-reserve-with-timeout")
	for i := range jobs {
		_, err := p.Put(ctx, 0, "trickle", []byte(strconv.Itoa(i)), 1024, 0, time.Minute)
		require.NoError(t, err)
		j := col.next(t)
		require.Equal(t, strconv.Itoa(i), string(j.Body))
		j.Delete()
		// The delete waits behind the next long poll until a wake ends it.
		eventually(t, "delete applied", func() bool { return tubeStat(t, bs, "trickle", "cmd-delete") == i+1 })
	}
	reserves := serverStat(t, bs, "cmd-reserve-with-timeout") - before
	// Per job: the long poll that takes it, one non-blocking reserve that
	// finds the tube empty, the next long poll, and the one renewed after
	// the wake that let the delete through. Batch per job was the spin.
	assert.LessOrEqual(t, reserves, 5*jobs, "reserves for %d jobs arriving one at a time", jobs)
	errs.none(t)
}

// A backlog still gets Batch reserves pipelined: the window grows with
// every reserve that finds a job.
func TestConsumerBacklogReachesBatch(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t)
	p := newPool(t, testConfig(srv.Addr))
	ctx := context.Background()
	const jobs, batch = 200, 8
	for i := range jobs {
		_, err := p.Put(ctx, 0, "backlog", []byte(strconv.Itoa(i)), 1024, 0, time.Minute)
		require.NoError(t, err)
	}
	var mu sync.Mutex
	most := 0
	col := newCollector(jobs)
	var c *Consumer // set before Watch, so before the handler runs
	c = p.NewConsumer("sub", ConsumerConfig{Links: 1, Batch: batch}, func(j *Job) {
		l := c.links[0]
		l.mu.Lock()
		n := l.nbRes
		l.mu.Unlock()
		mu.Lock()
		most = max(most, n)
		mu.Unlock()
		col.handle(j)
	})
	defer closeConsumer(t, c)
	c.Watch("backlog")
	for range jobs {
		col.next(t).Delete()
	}
	mu.Lock()
	defer mu.Unlock()
	assert.Equal(t, batch, most, "non-blocking reserves in flight with a backlog")
}

// linkState reports whether cond holds for every link of c.
func linkState(c *Consumer, cond func(l *link) bool) bool {
	for _, l := range c.links {
		l.mu.Lock()
		ok := cond(l)
		l.mu.Unlock()
		if !ok {
			return false
		}
	}
	return true
}

// A job operation behind a long poll does not end the poll at once: a job
// reserved within OpWakeDelay ends it, and no wake job (a put, a reserve
// and a delete on the server) is spent. Without traffic the wake comes
// after OpWakeDelay, well before the poll's own end (IdleWait).
func TestJobOpWaitsForTrafficBeforeWaking(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t)
	p := newPool(t, testConfig(srv.Addr))
	ctx := context.Background()
	col := newCollector(10)
	c := p.NewConsumer("sub", ConsumerConfig{Links: 1, IdleWait: 30 * time.Second, OpWakeDelay: time.Second}, col.handle)
	defer closeConsumer(t, c)
	bs := bsConn(t, srv.Addr)
	c.Watch("ops")
	polling := func() bool { return linkState(c, func(l *link) bool { return l.blocking }) }
	eventually(t, "the link long-polls", polling)

	_, err := p.Put(ctx, 0, "ops", []byte("a"), 1024, 0, time.Minute)
	require.NoError(t, err)
	a := col.next(t)
	eventually(t, "the link long-polls again", polling)
	puts := serverStat(t, bs, "cmd-put")
	a.Delete()
	_, err = p.Put(ctx, 0, "ops", []byte("b"), 1024, 0, time.Minute)
	require.NoError(t, err)
	b := col.next(t)
	eventually(t, "a's delete applied", func() bool { return tubeStat(t, bs, "ops", "cmd-delete") == 1 })
	assert.Equal(t, puts+1, serverStat(t, bs, "cmd-put"), "b's put only: no wake job")

	eventually(t, "the link long-polls again", polling)
	start := time.Now()
	b.Delete()
	eventually(t, "b's delete applied", func() bool { return tubeStat(t, bs, "ops", "cmd-delete") == 2 })
	assert.Less(t, time.Since(start), 10*time.Second, "a wake ended the poll, not its IdleWait")
	assert.Equal(t, puts+2, serverStat(t, bs, "cmd-put"), "one wake job")
}
