package bench

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/loadgen"
	"medispatcher/loadgen/ceiling"
	"medispatcher/loadgen/farm"
)

// overloadMetrics is a daemon's /metrics as it writes them, for the
// overloaded class's subscriptions 10 and 11 and a fast one (1): pushes by
// lane and result, failures by kind, and the push window by lane.
func overloadMetrics(pushes, status, timeouts float64, win10, win11 float64) string {
	return fmt.Sprintf(`# HELP medispatcher_pushes_total pushes
# TYPE medispatcher_push_window gauge
medispatcher_pushes_total{sub="1",topic="lg.t0001",lane="channel",result="ok"} 9000
medispatcher_pushes_total{sub="10",topic="lg.t0010",lane="channel",result="ok"} %[1]g
medispatcher_pushes_total{sub="10",topic="lg.t0010",lane="retry",result="fail"} 0
medispatcher_pushes_total{sub="11",topic="lg.t0011",lane="channel",result="ok"} %[1]g
medispatcher_push_failures_total{sub="10",topic="lg.t0010",kind="http_status"} %[2]g
medispatcher_push_failures_total{sub="10",topic="lg.t0010",kind="timeout"} %[3]g
medispatcher_push_failures_total{sub="10",topic="lg.t0010",kind="connection"} 1000
medispatcher_push_failures_total{sub="1",topic="lg.t0001",kind="http_status"} 5000
medispatcher_push_window{sub="10",topic="lg.t0010",lane="channel"} %[4]g
medispatcher_push_window{sub="11",topic="lg.t0011",lane="channel"} %[5]g
medispatcher_push_window{sub="10",topic="lg.t0010",lane="retry"} 2
medispatcher_push_window{sub="1",topic="lg.t0001",lane="channel"} 20
`, pushes, status, timeouts, win10, win11)
}

func TestParseOverload(t *testing.T) {
	subs := map[string]bool{"10": true, "11": true}
	s := parseOverload([][]byte{[]byte(overloadMetrics(100, 7, 3, 4, 6))}, subs)
	assert.True(t, s.ok)
	assert.Equal(t, 200.0, s.pushes, "both subscriptions, every lane and result")
	assert.Equal(t, 7.0, s.rejected, "kind http_status only")
	assert.Equal(t, 3.0, s.timeouts)
	assert.Equal(t, map[string]float64{"channel": 5, "retry": 2}, s.window, "averaged over the subscriptions that have the lane")

	two := parseOverload([][]byte{[]byte(overloadMetrics(100, 7, 3, 4, 6)), []byte(overloadMetrics(50, 1, 0, 2, 2))}, subs)
	assert.Equal(t, 300.0, two.pushes, "summed over the daemons")
	assert.Equal(t, 8.0, two.rejected)
	assert.Equal(t, 7.0, two.window["channel"], "each subscription's windows summed over the daemons, then averaged")

	none := parseOverload([][]byte{[]byte(outageMetrics)}, subs)
	assert.Empty(t, none.window, "no gauge: no window")
}

// sampled feeds a classWatch the samples of a steady phase: counters at
// its start and end, one window per second.
func sampled(windows ...float64) *classWatch {
	c := &classWatch{profile: farm.Profile{Name: "overloaded", OverloadAt: 4, SlowAt: 2}, concurrency: 20,
		subs: map[string]bool{"10": true}, windows: map[string][]float64{}}
	t0 := time.Unix(1000, 0)
	c.record(overloadSample{ok: true, at: t0, pushes: 1000, rejected: 100, timeouts: 5, delivered: 800, overloaded: 100,
		window: map[string]float64{"channel": windows[0], "retry": 2}})
	for i, w := range windows[1:] {
		c.record(overloadSample{ok: true, at: t0.Add(time.Duration(i+1) * time.Second), pushes: 1000 + 400*float64(i+1),
			rejected: 100 + 6*float64(i+1), timeouts: 5 + float64(i+1), delivered: 800 + 100*int64(i+1), overloaded: 100 + 6*int64(i+1),
			window: map[string]float64{"channel": w}})
	}
	return c
}

func TestOverloadFigures(t *testing.T) {
	fig := sampled(20, 9, 5, 4, 4, 3, 4).figures()
	assert.Equal(t, OverloadFigures{Class: "overloaded", Subs: 1, OverloadAt: 4, SlowAt: 2, Concurrency: 20, Seconds: 6,
		Pushes: 2400, Rejected: 36, Timeouts: 6, Share: 42.0 / 2400, FarmRejected: 36, DeliveredRate: 100, P99MS: -1,
		Windows: []WindowFigures{{Lane: "channel", Samples: 7, Median: 4, Min: 3, Max: 20}, {Lane: "retry", Samples: 1, Median: 2, Min: 2, Max: 2}}}, fig)
	fig.P99MS = 42.5
	assert.Equal(t, "overloaded class overloaded (1 subs, 503 beyond 4 in flight, slower beyond 2, concurrency 20) over 6 s of the steady phase: "+
		"2400 pushes, 36 failed on the answer's status and 6 timed out: 1.8 % (the farm turned 36 away); "+
		"push window (channel lane) median 4.00, range 3.00–20.0 over 7 samples, push window (retry lane) median 2.00, range 2.00–2.00 over 1 samples; "+
		"delivered 100/s, p99 42.5 ms", fig.Text())

	even := sampled(6, 4, 5, 3).figures()
	assert.Equal(t, 4.5, even.Windows[0].Median, "the mean of the middle two")

	c := &classWatch{profile: farm.Profile{Name: "overloaded", OverloadAt: 4}, windows: map[string][]float64{}}
	c.record(overloadSample{ok: true, at: time.Unix(1000, 0), window: map[string]float64{}})
	fig = c.figures()
	assert.Equal(t, -1.0, fig.Pushes, "one scrape: no counts")
	assert.Equal(t, -1.0, fig.Share)
	assert.Empty(t, fig.Windows)
	assert.Equal(t, "overloaded class overloaded (0 subs, 503 beyond 4 in flight, concurrency the daemon's default): "+
		"no push counts (/metrics not read twice in the steady phase); no medispatcher_push_window for its subscriptions", fig.Text())
}

// overloadResult is a quoted run of an overloaded-endpoint scenario: the
// window on or off, the overloaded class's share of failed pushes and its
// window's samples (none: no gauge).
func overloadResult(name, window string, share float64, windows ...float64) *Result {
	s := &Scenario{Name: name, Kind: KindFixed, Rate: 1000, File: name + ".toml", Text: "x\n",
		Daemon: map[string]any{"AdaptiveWindow": window},
		Class: []loadgen.Class{{Profile: farm.Profile{Name: "fast"}, Topics: 9},
			{Profile: farm.Profile{Name: "overloaded", OverloadAt: 4, SlowAt: 2, SlowLatency: farm.Duration(10 * time.Millisecond)}, Topics: 1, Concurrency: 20}}}
	rep := &loadgen.Report{Topics: 10, Subs: 10, Rate: 1000, DeliveredRate: 1000,
		Classes: []loadgen.ClassReport{{Name: "fast", Profile: "latency fixed:0s", Topics: 9, Latency: loadgen.Latency{P99: 2}},
			{Name: "overloaded", Profile: "latency uniform:10ms:30ms", Topics: 1, Latency: loadgen.Latency{P99: 40}}}}
	fig := OverloadFigures{Class: "overloaded", Subs: 1, OverloadAt: 4, SlowAt: 2, Concurrency: 20, Seconds: 30,
		Pushes: 3000, Rejected: share * 3000, Share: share, FarmRejected: int64(share * 3000), DeliveredRate: 100}
	if len(windows) > 0 {
		w := windowFigures(map[string][]float64{"channel": windows})
		fig.Windows = w
	}
	rr := &RunResult{Rate: 1000, Report: rep, CPUPer1k: 0.1, Overloads: []OverloadFigures{fig}}
	rr.noteOverloads()
	return &Result{Name: name, S: s, Servers: 1, Daemons: 1, Runs: []*RunResult{rr}, Main: rr}
}

func TestCompareWindows(t *testing.T) {
	on := overloadResult("overloaded-endpoint", "on", 0.01, 20, 8, 4, 4, 5, 3, 4)
	off := overloadResult("overloaded-endpoint-fixed", "off", 0.6)
	other := overloadResult("other", "off", 0.5)
	other.S.Rate = 2000 // not the same load
	compareWindows([]*Result{other, on, off})
	require.NotNil(t, on.Window)
	assert.Nil(t, off.Window, "the comparison belongs to the window-on run")
	c := on.Window
	assert.Equal(t, WindowComparison{Against: "overloaded-endpoint-fixed", Class: "overloaded", OverloadAt: 4, Concurrency: 20,
		ShareOn: 0.01, ShareOff: 0.6, WindowOn: 4, WindowOff: -1, DeliveredOn: 100, DeliveredOff: 100, P99On: 40, P99Off: 40}, *c)
	assert.True(t, c.Met())
	want := "overloaded-endpoint, adaptive push window on vs off (overloaded-endpoint-fixed), class overloaded (503 beyond 4 in flight, concurrency 20): " +
		"pushes failed on their status or timed out 1.0 % vs 60.0 % (< 5 % expected with the window); " +
		"push window median 4.00 vs — (no medispatcher_push_window) (near 4 expected); delivered 100 vs 100/s; p99 40.0 vs 40.0 ms; lost 0 vs 0"
	assert.Equal(t, []string{want}, on.Notes)

	b, err := json.Marshal(on)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"adaptive_window":{"against":"overloaded-endpoint-fixed","class":"overloaded","overload_at":4,"concurrency":20,"rejected_or_timeout_share_on":0.01`)
	assert.Contains(t, string(b), `"overloads":[{"class":"overloaded","subs":1,"overload_at":4,"slow_at":2,"concurrency":20,"sampled_s":30,"pushes":3000`)

	sum := &Summary{Machine: Machine{CPU: "cpu", Cores: 2}, Ceiling: ceiling.Result{CycleRate: 15000}, Results: []*Result{on, off}}
	md := RenderMarkdown(sum, Options{Out: "bench/out", Markdown: "BENCHMARKS.md"})
	assert.Contains(t, md, "overloaded class overloaded (1 subs, 503 beyond 4 in flight, slower beyond 2, concurrency 20) over 30 s of the steady phase: 3000 pushes, 1800 failed")
	assert.Contains(t, md, "no medispatcher_push_window for its subscriptions; delivered 100/s, p99 40.0 ms", "the fixed run's line")
	assert.Contains(t, md, "- "+want+" — **met**")
}

func TestWindowNotMet(t *testing.T) {
	for name, tc := range map[string]struct {
		share   float64
		windows []float64
		lost    int64
	}{
		"too many 503s":  {share: 0.08, windows: []float64{4}},
		"window too low": {share: 0.01, windows: []float64{2, 2, 3}},
		"window at 20":   {share: 0.01, windows: []float64{20}},
		"no window":      {share: 0.01},
		"no counts":      {share: -1, windows: []float64{4}},
		"lost":           {share: 0.01, windows: []float64{4}, lost: 1},
	} {
		on, off := overloadResult("on", "on", tc.share, tc.windows...), overloadResult("off", "off", 0.6)
		on.Main.Report.Ledger.Lost = tc.lost
		compareWindows([]*Result{on, off})
		require.NotNil(t, on.Window, name)
		assert.False(t, on.Window.Met(), name)
	}
	on, off := overloadResult("on", "on", 0.04, 5, 5, 5), overloadResult("off", "off", 0.6)
	compareWindows([]*Result{on, off})
	assert.True(t, on.Window.Met(), "within one of 4")
}

// The watch samples the daemons' /metrics from the steady phase's start
// to its end, and the farm's counts of the class beside them.
func TestOverloadWatch(t *testing.T) {
	var scrapes atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		n := float64(scrapes.Add(1))
		fmt.Fprint(w, overloadMetrics(100*n, 2*n, 0, 3+n, 3+n))
	}))
	defer srv.Close()
	env := &Env{Daemons: []*Daemon{{PromAddr: strings.TrimPrefix(srv.URL, "http://")}}}
	classes := []loadgen.Class{{Profile: farm.Profile{Name: "fast"}, Topics: 1},
		{Profile: farm.Profile{Name: "overloaded", OverloadAt: 4}, Topics: 1, Concurrency: 20}}
	f, err := farm.New(farm.Config{Profiles: []farm.Profile{classes[0].Profile, classes[1].Profile}, MaxSubs: 20})
	require.NoError(t, err)
	defer closeFarm(f)
	p := &http.Client{Timeout: 5 * time.Second}
	for _, id := range []int64{1, 10} { // the farm learns of both subscriptions
		resp, err := p.Post(f.URL(id, 0, int(id/10)), "application/x-www-form-urlencoded", strings.NewReader(url.Values{"message": {`{"seq":0,"ts":0}`}}.Encode()))
		require.NoError(t, err)
		resp.Body.Close()
	}

	var steadyCalled atomic.Bool
	cfg := &loadgen.Config{Classes: classes, Duration: 2500 * time.Millisecond, OnSteady: func() { steadyCalled.Store(true) }}
	w := watchOverloads(context.Background(), env, f, cfg)
	cfg.OnSteady()
	figs := w.finish()
	assert.Eventually(t, steadyCalled.Load, time.Second, 10*time.Millisecond, "the OnSteady it chains still runs")
	require.Len(t, figs, 1)
	fig := figs[0]
	assert.Equal(t, 1, fig.Subs, "the class's subscriptions only")
	assert.InDelta(t, 2.5, fig.Seconds, 0.3, "from the steady phase's start to its end")
	n := float64(scrapes.Load())
	assert.Equal(t, 4.0, n, "at the start, each second, and at the end")
	assert.Equal(t, 100*(n-1), fig.Pushes)
	assert.Equal(t, 2*(n-1), fig.Rejected)
	require.Len(t, fig.Windows, 2)
	assert.Equal(t, WindowFigures{Lane: "channel", Samples: 4, Median: 5.5, Min: 4, Max: 7}, fig.Windows[0])

	w = watchOverloads(context.Background(), env, f, &loadgen.Config{Classes: classes, Duration: time.Hour})
	assert.Len(t, w.finish(), 1, "finished before its steady phase: figures without counts")
}

// The two overloaded-endpoint scenarios are the same load but for the
// adaptive window: one subscriber that turns pushes away beyond 4 in
// flight and slows beyond 2, registered for 20, offered more than it
// serves below 4 in flight and less than at 4.
func TestOverloadedEndpointScenarios(t *testing.T) {
	by := shippedScenarios(t)
	on, off := by["overloaded-endpoint"], by["overloaded-endpoint-fixed"]
	require.NotNil(t, on)
	require.NotNil(t, off)
	assert.True(t, adaptiveOn(on))
	assert.False(t, adaptiveOn(off))
	assert.Equal(t, "off", off.Daemon["AdaptiveWindow"])
	assert.Equal(t, on.Class, off.Class)
	assert.Equal(t, on.Rate, off.Rate)
	for _, s := range []*Scenario{on, off} {
		cfg := loadgen.Config{Classes: s.Class, Rate: s.Rate, Duration: s.Duration.D()}
		require.NoError(t, cfg.Check(), s.Name)
		assert.GreaterOrEqual(t, s.Duration.D(), 30*time.Second, "long enough to settle")
		var over []loadgen.Class
		for _, c := range s.Class {
			if c.HasCapacity() {
				over = append(over, c)
			}
		}
		require.Len(t, over, 1)
		c := over[0]
		assert.Equal(t, 1, c.Topics)
		assert.Equal(t, 4, c.OverloadAt)
		assert.Equal(t, 2, c.SlowAt)
		assert.Equal(t, 20, c.Concurrency)
		assert.EqualValues(t, 20, s.Daemon["MaxSendersPerChannel"], "the registered concurrency is not capped")
		mean := (c.Latency.A + c.Latency.B).Seconds() / 2
		slowed := mean + c.SlowLatency.D().Seconds()
		perTopic := s.Rate / float64(s.topics())
		assert.Greater(t, perTopic, 2/mean, "2 in flight cannot serve it")
		assert.Greater(t, perTopic, 3/slowed, "nor 3, slowed")
		assert.Less(t, perTopic, 0.9*4/slowed, "4 in flight serve it with room")
	}
}
