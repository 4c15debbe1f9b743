package bench

import (
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/loadgen"
	"medispatcher/loadgen/ceiling"
	"medispatcher/loadgen/farm"
)

// A daemon's /metrics as it writes them: the pushes of two subscriptions
// of the dead class (7, 8) and of a healthy one (1), by lane and result,
// and the failures by kind.
const outageMetrics = `# HELP medispatcher_pushes_total pushes
medispatcher_pushes_total{sub="1",topic="lg.t0000",lane="channel",result="ok"} 5000
medispatcher_pushes_total{sub="7",topic="lg.t0049",lane="channel",result="ok"} 100
medispatcher_pushes_total{sub="7",topic="lg.t0049",lane="channel",result="fail"} 40
medispatcher_pushes_total{sub="7",topic="lg.t0049",lane="retry",result="ok"} 3
medispatcher_pushes_total{sub="7",topic="lg.t0049",lane="retry",result="fail"} 12
medispatcher_pushes_total{sub="8",topic="lg.t0050",lane="channel",result="fail"} 5
medispatcher_push_failures_total{sub="7",topic="lg.t0049",kind="connect"} 50
medispatcher_push_failures_total{sub="7",topic="lg.t0049",kind="http_status"} 2
medispatcher_push_failures_total{sub="8",topic="lg.t0050",kind="connect"} 5
medispatcher_push_failures_total{sub="1",topic="lg.t0000",kind="connect"} 900
medispatcher_push_duration_seconds_bucket{sub="7",topic="lg.t0049",vmrange="1.000e-03...1.136e-03"} 9
medispatcher_pushes_total_other{sub="7"} 1000
medispatcher_stage_seconds_count{stage="total"} 77
`

func TestSubPushCounts(t *testing.T) {
	pushes, failures := subPushCounts(strings.NewReader(outageMetrics), map[string]bool{"7": true, "8": true})
	assert.Equal(t, 160.0, pushes, "every lane and result of subscriptions 7 and 8")
	assert.Equal(t, 57.0, failures, "every kind")
	pushes, failures = subPushCounts(strings.NewReader(outageMetrics), map[string]bool{"9": true})
	assert.Zero(t, pushes)
	assert.Zero(t, failures)
}

func TestOutageFigures(t *testing.T) {
	down := time.Unix(1000, 0)
	o := farm.Outage{Class: 1, Name: "dead", Down: down, Up: down.Add(30 * time.Second), FirstDelivery: down.Add(30*time.Second + 1500*time.Millisecond)}
	fig := outageFigures(o, 1, pushCounts{pushes: 100, failures: 10, ok: true}, pushCounts{pushes: 160, failures: 67, ok: true})
	assert.Equal(t, OutageFigures{Class: "dead", Subs: 1, Seconds: 30, Attempts: 60, Failures: 57, RecoveryMS: 1500}, fig)
	assert.Equal(t, "outage of class dead (1 subs, 30.0 s down): 60 push attempts during it, 57 failed; first delivery 1500 ms after it recovered", fig.Text())

	o.FirstDelivery = time.Time{}
	fig = outageFigures(o, 1, pushCounts{ok: true}, pushCounts{})
	assert.Equal(t, -1.0, fig.Attempts, "no counts at the outage's end")
	assert.Equal(t, -1.0, fig.RecoveryMS)
	assert.Equal(t, "outage of class dead (1 subs, 30.0 s down): no push counts (/metrics not read at both edges); no delivery after it recovered", fig.Text())
}

// deadResult is a quoted run of an outage scenario: breaker on or off,
// push attempts during the outage, the fast class's p99.
func deadResult(name, breaker string, attempts, fastP99 float64) *Result {
	s := &Scenario{Name: name, Kind: KindFixed, Rate: 1000, File: name + ".toml", Text: "x\n",
		Daemon: map[string]any{"CircuitBreaker": breaker},
		Class: []loadgen.Class{{Profile: farm.Profile{Name: "fast"}, Topics: 49},
			{Profile: farm.Profile{Name: "dead", OutageStart: farm.Duration(2 * time.Second), Outage: farm.Duration(30 * time.Second)}, Topics: 1}}}
	rep := &loadgen.Report{Topics: 50, Subs: 50, Rate: 1000, DeliveredRate: 1000,
		Classes: []loadgen.ClassReport{{Name: "fast", Profile: "latency fixed:0s", Topics: 49, Latency: loadgen.Latency{P99: fastP99}},
			{Name: "dead", Profile: "latency fixed:0s", Topics: 1, Latency: loadgen.Latency{P99: 30000}}}}
	rr := &RunResult{Rate: 1000, Report: rep, CPUPer1k: 0.1,
		Outages: []OutageFigures{{Class: "dead", Subs: 1, Seconds: 30, Attempts: attempts, Failures: attempts, RecoveryMS: 800}}}
	return &Result{Name: name, S: s, Servers: 1, Daemons: 1, Runs: []*RunResult{rr}, Main: rr}
}

func TestCompareBreakers(t *testing.T) {
	on := deadResult("dead-endpoint", "on", 40, 3.3)
	off := deadResult("dead-endpoint-nobreaker", "off", 2400, 3.0)
	other := deadResult("other", "off", 10, 1)
	other.S.Rate = 2000 // not the same load
	compareBreakers([]*Result{other, on, off})
	require.NotNil(t, on.Breaker)
	assert.Nil(t, off.Breaker, "the comparison belongs to the breaker-on run")
	c := on.Breaker
	assert.Equal(t, "dead-endpoint-nobreaker", c.Against)
	assert.Equal(t, 60.0, c.AttemptsRatio)
	assert.InDelta(t, 1.1, c.P99Ratio, 1e-9)
	assert.True(t, c.Met())
	want := "dead-endpoint, circuit breaker on vs off (dead-endpoint-nobreaker): push attempts to the dead class during its outage 40 vs 2400 (60.0× as many without the breaker; ≥ 10× expected); " +
		"p99 of the other classes 3.30 vs 3.00 ms (1.10×; within 1.2× expected); lost 0 vs 0; first delivery after recovery 800 vs 800 ms"
	assert.Equal(t, []string{want}, on.Notes)

	b, err := json.Marshal(on)
	require.NoError(t, err)
	assert.Contains(t, string(b), `"breaker":{"against":"dead-endpoint-nobreaker","push_attempts_on":40,"push_attempts_off":2400,"attempts_ratio":60`)
	assert.Contains(t, string(b), `"outages":[{"class":"dead","subs":1,"outage_s":30,"push_attempts_during_outage":40`)

	sum := &Summary{Machine: Machine{CPU: "cpu", Cores: 2}, Ceiling: ceiling.Result{CycleRate: 15000}, Results: []*Result{on, off}}
	md := RenderMarkdown(sum, Options{Out: "bench/out", Markdown: "BENCHMARKS.md"})
	assert.Contains(t, md, "outage of class dead (1 subs, 30.0 s down): 40 push attempts during it, 40 failed; first delivery 800 ms after it recovered")
	assert.Contains(t, md, "- "+want+" — **met**")
	assert.Contains(t, md, "class fast (latency fixed:0s): 49 topics", "the per-class figures stay")
}

func TestBreakerNotMet(t *testing.T) {
	for name, tc := range map[string]struct {
		attemptsOn, p99On float64
		lost              int64
	}{
		"too many attempts": {attemptsOn: 500, p99On: 3},
		"slower others":     {attemptsOn: 10, p99On: 4},
		"lost":              {attemptsOn: 10, p99On: 3, lost: 1},
	} {
		on, off := deadResult("on", "on", tc.attemptsOn, tc.p99On), deadResult("off", "off", 2400, 3)
		on.Main.Report.Ledger.Lost = tc.lost
		compareBreakers([]*Result{on, off})
		require.NotNil(t, on.Breaker, name)
		assert.False(t, on.Breaker.Met(), name)
	}
	on, off := deadResult("on", "on", 0, 3), deadResult("off", "off", 2400, 3)
	compareBreakers([]*Result{on, off})
	assert.True(t, on.Breaker.Met(), "no attempt at all with the breaker")
	assert.Contains(t, on.Notes[0], "(none with the breaker;")
}

// The two dead-endpoint scenarios are the same load but for the breaker:
// one class of 30 s outage at the end of the warm-up, the rest fast.
func TestDeadEndpointScenarios(t *testing.T) {
	by := shippedScenarios(t)
	on, off := by["dead-endpoint"], by["dead-endpoint-nobreaker"]
	require.NotNil(t, on)
	require.NotNil(t, off)
	assert.True(t, breakerOn(on))
	assert.False(t, breakerOn(off))
	assert.Equal(t, on.Class, off.Class)
	assert.Equal(t, on.Rate, off.Rate)
	assert.Equal(t, 50, on.topics())
	for _, s := range []*Scenario{on, off} {
		assert.Equal(t, 1000.0, s.Rate)
		assert.EqualValues(t, 1, s.Daemon["CoeOfIntervalForRetrySendingMsg"])
		assert.EqualValues(t, 10, s.Daemon["MaxRetryTimesOfSendingMessage"])
		cfg := loadgen.Config{Classes: s.Class, Rate: s.Rate, Duration: s.Duration.D()}
		require.NoError(t, cfg.Check(), s.Name)
		var dead []loadgen.Class
		for _, c := range s.Class {
			if c.HasOutage() {
				dead = append(dead, c)
			}
		}
		require.Len(t, dead, 1)
		assert.Equal(t, 1, dead[0].Topics)
		assert.Equal(t, s.Warmup, dead[0].OutageStart, "the outage starts as the warm-up ends")
		assert.Equal(t, 30*time.Second, dead[0].Outage.D())
		assert.Greater(t, s.Duration.D(), dead[0].Outage.D(), "the outage lies in the steady phase")
	}
}
