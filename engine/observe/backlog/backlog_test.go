package backlog

import (
	"bytes"
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/VictoriaMetrics/metrics"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/connpool"
	"medispatcher/internal/testsrv"
)

func newPool(t testing.TB, servers ...*testsrv.Server) *connpool.Pool {
	t.Helper()
	var addrs []string
	for _, s := range servers {
		addrs = append(addrs, s.Addr)
	}
	p, err := connpool.New(context.Background(), connpool.Config{Addrs: addrs})
	require.NoError(t, err)
	t.Cleanup(func() { _ = p.Close() })
	return p
}

func put(t testing.TB, p *connpool.Pool, server int, tube string, n int, delay time.Duration) {
	t.Helper()
	for i := 0; i < n; i++ {
		_, err := p.Put(context.Background(), server, tube, []byte("x"), 1024, delay, time.Minute)
		require.NoError(t, err)
	}
}

// sweeps runs s and returns a channel that receives after every sweep.
func sweeps(t *testing.T, s *Sampler) <-chan struct{} {
	ch := make(chan struct{}, 100)
	s.opts.OnSweep = func() { ch <- struct{}{} }
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { s.Run(ctx); close(done) }()
	t.Cleanup(func() { cancel(); <-done })
	return ch
}

func waitSweep(t *testing.T, ch <-chan struct{}) {
	t.Helper()
	select {
	case <-ch:
	case <-time.After(20 * time.Second):
		t.Fatal("no sweep finished")
	}
}

// drainSweeps forgets the sweeps that ended so far.
func drainSweeps(ch <-chan struct{}) {
	for {
		select {
		case <-ch:
		default:
			return
		}
	}
}

func scrape() string {
	var b bytes.Buffer
	metrics.WritePrometheus(&b, false)
	return b.String()
}

func TestSamplesEveryServerAndExportsGauges(t *testing.T) {
	a, b := testsrv.StartBeanstalkd(t), testsrv.StartBeanstalkd(t)
	p := newPool(t, a, b)
	put(t, p, 0, "main", 3, 0)
	put(t, p, 1, "main", 2, 0)
	put(t, p, 1, "main", 4, time.Hour)
	put(t, p, 0, "t1/sub-queue/7", 5, 0)

	var tubes atomic.Value
	tubes.Store([]Tube{
		{Name: "main", Labels: `tube="main",lane="main"`, PerServer: true},
		{Name: "t1/sub-queue/7", Labels: `sub="7",topic="t1",lane="channel"`},
		{Name: "absent-tube"},
	})
	s := New(p, Options{Rate: 1000, MinCycle: 10 * time.Millisecond, Tubes: func() []Tube { return tubes.Load().([]Tube) }})
	ch := sweeps(t, s)
	waitSweep(t, ch)

	m, ok := s.Get("main")
	require.True(t, ok)
	assert.Equal(t, Counts{Ready: 5, Delayed: 4}, m.Sum)
	assert.Equal(t, []Counts{{Ready: 3}, {Ready: 2, Delayed: 4}}, m.PerServer)
	assert.Zero(t, m.Missing)
	c, ok := s.Get("t1/sub-queue/7")
	require.True(t, ok)
	assert.Equal(t, int64(5), c.Sum.Ready)
	z, ok := s.Get("absent-tube")
	require.True(t, ok, "a tube that does not exist is sampled as empty")
	assert.Equal(t, Counts{}, z.Sum)

	text := scrape()
	assert.Contains(t, text, `medispatcher_backlog_jobs{sub="7",topic="t1",lane="channel",state="ready"} 5`)
	assert.Contains(t, text, `medispatcher_backlog_jobs{tube="main",lane="main",state="delayed"} 4`)
	assert.Contains(t, text, fmt.Sprintf(`medispatcher_backlog_jobs_by_server{tube="main",lane="main",server=%q,state="ready"} 2`, b.Addr))

	// A tube dropped from the list (a cancelled subscription) loses its
	// sample and its gauges at the next sweep.
	// Sweeps that ended before the change are drained first: of the next
	// two, the second surely started with the new list.
	tubes.Store([]Tube{{Name: "main", Labels: `tube="main",lane="main"`, PerServer: true}})
	drainSweeps(ch)
	waitSweep(t, ch)
	waitSweep(t, ch)
	_, ok = s.Get("t1/sub-queue/7")
	assert.False(t, ok)
	assert.NotContains(t, scrape(), `sub="7",topic="t1"`)
}

func TestDeadServerIsCountedMissing(t *testing.T) {
	a, b := testsrv.StartBeanstalkd(t), testsrv.StartBeanstalkd(t)
	p := newPool(t, a, b)
	put(t, p, 0, "main", 2, 0)
	b.Kill()
	s := New(p, Options{Rate: 1000, MinCycle: 10 * time.Millisecond, Tubes: func() []Tube { return []Tube{{Name: "main"}} }})
	waitSweep(t, sweeps(t, s))
	m, ok := s.Get("main")
	require.True(t, ok)
	assert.Equal(t, int64(2), m.Sum.Ready, "the live server's count")
	assert.Equal(t, 1, m.Missing)
}

// TestBudgetHolds checks the request budget: a sweep of 60 requests at
// 30 requests/s cannot end in less than about 2 s, however fast beanstalkd
// answers (a lower bound, so a slow machine cannot fail it).
func TestBudgetHolds(t *testing.T) {
	a, b := testsrv.StartBeanstalkd(t), testsrv.StartBeanstalkd(t)
	p := newPool(t, a, b)
	var tubes []Tube
	for i := 0; i < 30; i++ {
		tubes = append(tubes, Tube{Name: "t" + strings.Repeat("x", i%5) + fmt.Sprint(i)})
	}
	s := New(p, Options{Rate: 30, MinCycle: time.Millisecond, Tubes: func() []Tube { return tubes }})
	ch := sweeps(t, s)
	start := time.Now()
	waitSweep(t, ch)
	// 60 requests in batches of 3 per 100 ms tick: 19 waits between 20 batches.
	assert.GreaterOrEqual(t, time.Since(start), 1900*time.Millisecond)
}

// BenchmarkSweep5000 measures one sweep of 10 000 tubes (5 000
// subscriptions: channel and retry) on one server at the default budget
// and beanstalkd's CPU spent answering it: the cost of backlog gauges.
func BenchmarkSweep5000(b *testing.B) {
	srv := testsrv.StartBeanstalkd(b)
	p := newPool(b, srv)
	var tubes []Tube
	for i := 0; i < 5000; i++ {
		ch := fmt.Sprintf("topic%d/sub-queue/%d", i%500, i)
		tubes = append(tubes, Tube{Name: ch}, Tube{Name: ch + "/FAIL"})
	}
	rate := 2000
	s := New(p, Options{Rate: rate, MinCycle: time.Millisecond, Tubes: func() []Tube { return tubes }})
	cpu0, err := srv.CPUTime()
	require.NoError(b, err)
	b.ResetTimer()
	start := time.Now()
	for i := 0; i < b.N; i++ {
		s.sweep(context.Background())
	}
	el := time.Since(start)
	cpu1, err := srv.CPUTime()
	require.NoError(b, err)
	b.ReportMetric(float64(cpu1-cpu0)/float64(time.Millisecond)/float64(b.N), "bs-cpu-ms/sweep")
	b.ReportMetric(float64(cpu1-cpu0)/float64(el), "bs-cpu-share")
	b.ReportMetric(float64(len(tubes)*b.N)/el.Seconds(), "req/s")
}
