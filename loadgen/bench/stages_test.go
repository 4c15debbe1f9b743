package bench

import (
	"encoding/json"
	"math"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/stage"
	"medispatcher/loadgen"
)

// The daemon's own exposition, read before and after a run: the
// difference holds only the run's observations, and its quantiles are the
// upper bounds of their buckets.
func TestStageDeltasFromDaemonMetrics(t *testing.T) {
	tm := stage.New()
	for range 1000 {
		tm.Observe(stage.Push, 30*time.Second) // before the run: must not count
	}
	var before strings.Builder
	tm.WritePrometheus(&before)
	for i := range 1000 {
		d := 800 * time.Microsecond // ≤ 1 ms
		if i >= 980 {
			d = 4 * time.Millisecond // the top 2 %: ≤ 5 ms
		}
		tm.Observe(stage.MainWait, d)
		tm.Observe(stage.Push, 150*time.Microsecond)
		tm.Observe(stage.Total, 200*time.Second) // past the last bound
	}
	var after strings.Builder
	tm.WritePrometheus(&after)

	b0, b1 := StageBuckets{}, StageBuckets{}
	require.NoError(t, ParseStageBuckets(strings.NewReader("# HELP x\nother_metric 3\n"+before.String()), b0))
	require.NoError(t, ParseStageBuckets(strings.NewReader(after.String()), b1))
	got := stageDeltas(b0, b1)
	require.Len(t, got, 6)
	names := make([]string, len(got))
	for i, s := range got {
		names[i] = s.Stage
	}
	assert.Equal(t, stageOrder, names, "the order a message passes them")
	by := map[string]StageLatency{}
	for _, s := range got {
		by[s.Stage] = s
	}
	assert.Equal(t, StageLatency{Stage: "main_wait", Count: 1000, P50: 1, P99: 5, P999: 5}, by["main_wait"])
	assert.Equal(t, StageLatency{Stage: "push", Count: 1000, P50: 0.2, P99: 0.2, P999: 0.2}, by["push"], "the 30 s pushes before the run are gone")
	assert.Equal(t, StageLatency{Stage: "slot_wait"}, by["slot_wait"])
	assert.True(t, math.IsInf(float64(by["total"].P99), 1))

	assert.Equal(t, "stages p50/p99 ms: main_wait ≤1/≤5, push ≤0.2/≤0.2, total +Inf/+Inf", stagesText(got))
	j, err := json.Marshal(by["total"])
	require.NoError(t, err)
	assert.JSONEq(t, `{"stage":"total","count":1000,"p50_ms":"+Inf","p99_ms":"+Inf","p999_ms":"+Inf"}`, string(j))
	j, err = json.Marshal(by["main_wait"])
	require.NoError(t, err)
	assert.JSONEq(t, `{"stage":"main_wait","count":1000,"p50_ms":1,"p99_ms":5,"p999_ms":5}`, string(j))
}

// Several daemons' texts add up; a snapshot missing (a daemon that did not
// answer) leaves the run without stages rather than with a wrong sum.
func TestStageBucketsSumDaemons(t *testing.T) {
	text := func(le1, inf int) string {
		return "medispatcher_stage_seconds_bucket{stage=\"push\",le=\"0.001\"} " + strconv.Itoa(le1) + "\n" +
			"medispatcher_stage_seconds_bucket{stage=\"push\",le=\"+Inf\"} " + strconv.Itoa(inf) + "\n" +
			"medispatcher_stage_seconds_sum{stage=\"push\"} 0.5\nmedispatcher_stage_seconds_count{stage=\"push\"} " + strconv.Itoa(inf) + "\n"
	}
	before, after := StageBuckets{}, StageBuckets{}
	for _, s := range []string{text(10, 10), text(0, 0)} {
		require.NoError(t, ParseStageBuckets(strings.NewReader(s), before))
	}
	for _, s := range []string{text(60, 70), text(40, 40)} {
		require.NoError(t, ParseStageBuckets(strings.NewReader(s), after))
	}
	got := stageDeltas(before, after)
	assert.Equal(t, []StageLatency{{Stage: "push", Count: 100, P50: 1, P99: Bound(math.Inf(1)), P999: Bound(math.Inf(1))}}, got)
	assert.Nil(t, stageDeltas(nil, after))

	assert.Error(t, ParseStageBuckets(strings.NewReader("medispatcher_stage_seconds_bucket{stage=\"push\"} 1\n"), StageBuckets{}))
	assert.Error(t, ParseStageBuckets(strings.NewReader("medispatcher_stage_seconds_bucket{stage=\"push\",le=\"1\"} x\n"), StageBuckets{}))
}

// The quoted run's stages appear in its scenario's note line and in the
// stage table beside its end-to-end latency; a void run's never do.
func TestMarkdownStages(t *testing.T) {
	stages := []StageLatency{
		{Stage: "main_wait", Count: 5000, P50: 1, P99: 5, P999: 10},
		{Stage: "redist_queue", Count: 5000, P50: 0.05, P99: 0.1, P999: 0.2},
		{Stage: "channel_wait"},
		{Stage: "slot_wait", Count: 5000, P50: 0.05, P99: 0.5, P999: 1},
		{Stage: "push", Count: 5000, P50: 0.2, P99: 1, P999: 2},
		{Stage: "total", Count: 5000, P50: 2, P99: 10, P999: 20},
	}
	rep := &loadgen.Report{Topics: 500, Subs: 500, Rate: 1000, DeliveredRate: 1000, Drained: true,
		Latency: loadgen.Latency{Count: 10000, P50: 1.25, P90: 2, P99: 4.5, P999: 12.5, Max: 30}}
	main := &RunResult{Rate: 1000, Report: rep, Sustained: true, Stages: stages}
	void := &RunResult{Rate: 1000, Report: &loadgen.Report{Topics: 1, Subs: 1, Void: true, VoidReasons: []string{"x"}},
		Stages: []StageLatency{{Stage: "push", Count: 7, P50: 777, P99: 777}}}
	sum := &Summary{Machine: Machine{CPU: "cpu", Cores: 2}, Results: []*Result{
		{Name: "latency-1000", S: &Scenario{Kind: KindFixed}, Runs: []*RunResult{main}, Main: main},
		{Name: "bad", S: &Scenario{Kind: KindFixed}, Runs: []*RunResult{void}, Main: void},
	}}
	md := RenderMarkdown(sum, Options{Out: "bench/out"})
	assert.Contains(t, md, "- **latency-1000**: stages p50/p99 ms: main_wait ≤1/≤5, redist_queue ≤0.05/≤0.1, slot_wait ≤0.05/≤0.5, push ≤0.2/≤1, total ≤2/≤10\n")
	assert.Contains(t, md, "### Where the time goes, by stage")
	assert.Contains(t, md, "| latency-1000 | end to end (subscriber) | 10000 | 1.25 | 4.50 | 12.5 |\n| latency-1000 | main_wait | 5000 | ≤1 | ≤5 | ≤10 |\n")
	assert.Contains(t, md, "| latency-1000 | total | 5000 | ≤2 | ≤10 | ≤20 |")
	assert.NotContains(t, md, "channel_wait |", "a stage without observations has no row")
	assert.NotContains(t, md, "777")
}
