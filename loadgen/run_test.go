package loadgen

import (
	"bytes"
	"context"
	"fmt"
	"net/url"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/BurntSushi/toml"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/testsrv"
	"medispatcher/loadgen/bstalk"
	"medispatcher/loadgen/farm"
)

// miniDispatcher stands in for the daemon in these tests: it reserves
// main-tube jobs and pushes them straight to the subscriptions of the
// subscriptions file, with faults on demand. It is the system under test
// of loadgen's tests, not a stand-in for a server.
type miniDispatcher struct {
	t        *testing.T
	addr     string
	subsFile string
	dropNth  int64 // main jobs whose pushes are skipped (lost)
	dupNth   int64 // main jobs pushed twice
	stopAt   int64 // stop reserving after this many jobs (rest stay queued)

	n      atomic.Int64
	mu     sync.Mutex
	byName map[string][]subs.Subscription
	client fasthttp.Client
}

func (d *miniDispatcher) urls(topic string) []subs.Subscription {
	d.mu.Lock()
	defer d.mu.Unlock()
	if s, ok := d.byName[topic]; ok {
		return s
	}
	var doc struct{ Subscription []subs.Subscription }
	data, err := os.ReadFile(d.subsFile)
	if err == nil && toml.Unmarshal(data, &doc) == nil {
		d.byName = map[string][]subs.Subscription{}
		for _, s := range doc.Subscription {
			d.byName[s.Topic] = append(d.byName[s.Topic], s)
		}
	}
	return d.byName[topic]
}

func (d *miniDispatcher) run(ctx context.Context, mainTube string) {
	c, err := bstalk.Dial(d.addr, time.Second)
	require.NoError(d.t, err)
	defer c.Close()
	require.NoError(d.t, c.Do(&bstalk.Request{Op: bstalk.OpWatch, Tube: mainTube}))
	require.NoError(d.t, c.Do(&bstalk.Request{Op: bstalk.OpIgnore, Tube: "default"}))
	var m message.Message
	r := bstalk.Request{Op: bstalk.OpReserve, Timeout: 1}
	for ctx.Err() == nil {
		if d.stopAt > 0 && d.n.Load() >= d.stopAt {
			return
		}
		r.Op, r.Timeout = bstalk.OpReserve, 1
		if err := c.Do(&r); err != nil {
			continue
		}
		id := r.ID
		require.NoError(d.t, message.Decode(r.Body, &m))
		js, err := message.AppendJSON(nil, m.Body)
		require.NoError(d.t, err)
		_, ts, _ := farm.ScanSeqTS(js)
		n := int64(0)
		if ts != 0 { // probes are not counted
			n = d.n.Add(1)
		}
		times := 1
		if d.dropNth > 0 && n > 0 && n%d.dropNth == 0 {
			times = 0
		}
		if d.dupNth > 0 && n > 0 && n%d.dupNth == 0 {
			times = 2
		}
		for _, s := range d.urls(string(m.Topic)) {
			for range times {
				d.push(s.URL, js)
			}
		}
		require.NoError(d.t, c.Do(&bstalk.Request{Op: bstalk.OpDelete, ID: id}))
	}
}

func (d *miniDispatcher) push(u string, js []byte) {
	form := url.Values{"jobid": {"1.000000-1-1"}, "message": {string(js)}, "retry_times": {"0"}}
	req, resp := fasthttp.AcquireRequest(), fasthttp.AcquireResponse()
	defer fasthttp.ReleaseRequest(req)
	defer fasthttp.ReleaseResponse(resp)
	req.SetRequestURI(u + "&jobid=1.000000-1-1&retry_times=0")
	req.Header.SetMethod("POST")
	req.Header.SetContentType("application/x-www-form-urlencoded")
	req.SetBodyString(form.Encode())
	_ = d.client.DoTimeout(req, resp, 5*time.Second)
}

func runWith(t *testing.T, d *miniDispatcher, cfg Config) *Report {
	t.Helper()
	srv := testsrv.StartBeanstalkd(t)
	d.t, d.addr = t, srv.Addr
	d.subsFile = cfg.SubsFile
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cfg.Servers = []string{srv.Addr}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); d.run(ctx, "main") }()
	defer wg.Wait()
	defer cancel()
	rep, err := Run(ctx, cfg, nil)
	require.NoError(t, err)
	return rep
}

func smallConfig(t *testing.T) Config {
	var progress bytes.Buffer
	return Config{
		MainTube: "main", Topics: 4, SubsPerTopic: 2, Rate: 400, Size: 256,
		Warmup: 200 * time.Millisecond, Duration: 800 * time.Millisecond, Drain: 3 * time.Second,
		Workers: 8, Register: true, SubsFile: t.TempDir() + "/subs.toml", ProbeTimeout: 5 * time.Second,
		Progress: &progress, ProgressInterval: 200 * time.Millisecond,
	}
}

func TestRunCleanLedgerBalances(t *testing.T) {
	cfg := smallConfig(t)
	rep := runWith(t, &miniDispatcher{}, cfg)
	l := rep.Ledger
	assert.False(t, rep.Void, rep.VoidReasons)
	assert.True(t, rep.Drained)
	assert.Equal(t, int64(400), l.Sent, "rate × (warm-up + steady)")
	assert.Equal(t, 2*l.Sent, l.Owed, "two subscriptions per topic")
	assert.Equal(t, l.Owed, l.Delivered)
	assert.Zero(t, l.Lost)
	assert.Zero(t, l.Duplicates)
	assert.Zero(t, l.InFlight)
	assert.True(t, l.Balanced)
	assert.Equal(t, 8, rep.Subs)
	require.Len(t, rep.Classes, 1)
	assert.Equal(t, int64(640), rep.Latency.Count, "only steady-phase messages are timed: 320 × 2 subscriptions")
	assert.Greater(t, rep.Latency.Max, 0.0)
	assert.NotEmpty(t, rep.Timeline)
	assert.InDelta(t, 400, rep.SentRate, 60)

	var txt, js bytes.Buffer
	require.NoError(t, rep.WriteText(&txt))
	assert.Contains(t, txt.String(), "VALID")
	assert.Contains(t, txt.String(), "balances")
	require.NoError(t, rep.WriteJSON(&js))
	assert.Contains(t, js.String(), `"lost": 0`)
	assert.Contains(t, cfg.Progress.(*bytes.Buffer).String(), "steady")
	assert.Equal(t, ExitOK, rep.ExitCode(true))
}

func TestRunCountsLostDuplicatedAndInFlight(t *testing.T) {
	cfg := smallConfig(t)
	cfg.Drain = 300 * time.Millisecond
	rep := runWith(t, &miniDispatcher{dropNth: 10, dupNth: 7, stopAt: 350}, cfg)
	l := rep.Ledger
	assert.True(t, l.Balanced, l.Problem)
	assert.False(t, rep.Void, rep.VoidReasons)
	assert.False(t, rep.Drained)
	assert.Equal(t, int64(800), l.Owed)
	assert.Equal(t, int64(2*50), l.InFlight, "50 main jobs left, 2 subscriptions each")
	// of 350 jobs every 7th is pushed twice (50), every other 10th not at
	// all (35 − 5 multiples of 70); two subscriptions each
	assert.Equal(t, int64(2*30), l.Lost)
	assert.Equal(t, int64(2*50), l.Duplicates)
	assert.Equal(t, l.Owed, l.Delivered+l.Lost+l.InFlight)
	assert.Equal(t, ExitFaulty, rep.ExitCode(true))
	assert.Equal(t, ExitOK, rep.ExitCode(false))
}

func TestRunVoidWhenProducerFallsBehind(t *testing.T) {
	cfg := smallConfig(t)
	cfg.Rate = 20000
	cfg.Workers = 1
	cfg.MaxLag = time.Millisecond
	cfg.Duration = 100 * time.Millisecond
	cfg.Warmup = 0
	cfg.SubsPerTopic = 1
	rep := runWith(t, &miniDispatcher{}, cfg)
	assert.True(t, rep.Void)
	require.NotEmpty(t, rep.VoidReasons)
	assert.Contains(t, rep.VoidReasons[0], "behind its schedule")
	assert.Equal(t, ExitVoid, rep.ExitCode(false))
	var txt bytes.Buffer
	require.NoError(t, rep.WriteText(&txt))
	assert.Contains(t, txt.String(), "VOID")
}

func TestRunNotReadyWithoutDaemon(t *testing.T) {
	srv := testsrv.StartBeanstalkd(t)
	cfg := smallConfig(t)
	cfg.Servers = []string{srv.Addr}
	cfg.ProbeTimeout = 300 * time.Millisecond
	_, err := Run(context.Background(), cfg, nil)
	require.ErrorIs(t, err, ErrNotReady)
}

func TestLoadClasses(t *testing.T) {
	p := t.TempDir() + "/p.toml"
	require.NoError(t, os.WriteFile(p, []byte(`
[[class]]
name = "fast"
topics = 3
latency = "uniform:0s:1ms"
[[class]]
name = "slow"
topics = 1
subs_per_topic = 2
latency = "fixed:2s"
timeout_ms = 5000
`), 0o644))
	cls, err := LoadClasses(p)
	require.NoError(t, err)
	require.Len(t, cls, 2)
	assert.Equal(t, 3, cls[0].Topics)
	assert.Equal(t, farm.Uniform, cls[0].Latency.Kind)
	assert.Equal(t, 2, cls[1].SubsPerTopic)
	assert.Equal(t, 2*time.Second, cls[1].Latency.A)

	require.NoError(t, os.WriteFile(p, []byte("[[class]]\nname = \"x\"\ntopics = 1\nlatncy = \"fixed:1s\"\n"), 0o644))
	_, err = LoadClasses(p)
	assert.ErrorContains(t, err, "latncy", "typos are errors")
}

func TestPlanNames(t *testing.T) {
	f, err := farm.New(farm.Config{Profiles: []farm.Profile{{Name: "a"}, {Name: "b", Dead: true}}})
	require.NoError(t, err)
	defer f.Close(context.Background())
	cfg := Config{Classes: []Class{{Profile: farm.Profile{Name: "a"}, Topics: 2}, {Profile: farm.Profile{Name: "b", Dead: true}, Topics: 1, SubsPerTopic: 3}},
		Rate: 1, Duration: time.Second}
	require.NoError(t, cfg.normalize())
	p := NewPlan(&cfg, f)
	require.Len(t, p.Topics, 3)
	require.Len(t, p.Subs, 5)
	assert.Equal(t, "lg.t0003", p.Topics[2].Name)
	assert.Equal(t, []int64{3, 4, 5}, p.Topics[2].Subs)
	assert.Equal(t, "lg.t0003/sub-queue/5", p.Subs[4].ChannelTube("sub-queue/"))
	assert.Equal(t, 1, p.ClassOf(5))
	assert.Contains(t, p.Subs[0].URL, f.Addr()+"/s/1?class=a&topic=0")
	assert.NotContains(t, p.Subs[4].URL, f.Addr(), "dead subscribers point elsewhere")
	assert.Equal(t, strconv.Itoa(5), fmt.Sprint(p.Subs[4].ID))
}
