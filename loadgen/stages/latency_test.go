package stages

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
)

// The daemon's own exposition, read before and after a run: the
// difference holds only the run's observations, and its quantiles are the
// upper bounds of their buckets.
func TestDeltaFromDaemonMetrics(t *testing.T) {
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

	b0, b1 := Buckets{}, Buckets{}
	require.NoError(t, Parse(strings.NewReader("# HELP x\nother_metric 3\n"+before.String()), b0))
	require.NoError(t, Parse(strings.NewReader(after.String()), b1))
	got := Delta(b0, b1)
	require.Len(t, got, 6)
	stageNames := make([]string, len(got))
	for i, s := range got {
		stageNames[i] = s.Stage
	}
	assert.Equal(t, order, stageNames, "the order a message passes them")
	by := map[string]Latency{}
	for _, s := range got {
		by[s.Stage] = s
	}
	assert.Equal(t, Latency{Stage: "main_wait", Count: 1000, P50: 1, P99: 5, P999: 5}, by["main_wait"])
	assert.Equal(t, Latency{Stage: "push", Count: 1000, P50: 0.2, P99: 0.2, P999: 0.2}, by["push"], "the 30 s pushes before the run are gone")
	assert.Equal(t, Latency{Stage: "slot_wait"}, by["slot_wait"])
	assert.True(t, math.IsInf(float64(by["total"].P99), 1))

	assert.Equal(t, "stages p50/p99 ms: main_wait ≤1/≤5, push ≤0.2/≤0.2, total +Inf/+Inf", Text(got))
	assert.Equal(t, "stages p50/p99/p99.9 ms: main_wait ≤1/≤5/≤5, push ≤0.2/≤0.2/≤0.2, total +Inf/+Inf/+Inf", TextP999(got))
	j, err := json.Marshal(by["total"])
	require.NoError(t, err)
	assert.JSONEq(t, `{"stage":"total","count":1000,"p50_ms":"+Inf","p99_ms":"+Inf","p999_ms":"+Inf"}`, string(j))
	j, err = json.Marshal(by["main_wait"])
	require.NoError(t, err)
	assert.JSONEq(t, `{"stage":"main_wait","count":1000,"p50_ms":1,"p99_ms":5,"p999_ms":5}`, string(j))
}

// Several daemons' texts add up; a snapshot missing (a daemon that did not
// answer) leaves the run without stages rather than with a wrong sum.
func TestBucketsSumDaemons(t *testing.T) {
	before, after := Buckets{}, Buckets{}
	for _, s := range []string{pushText(10, 10), pushText(0, 0)} {
		require.NoError(t, Parse(strings.NewReader(s), before))
	}
	for _, s := range []string{pushText(60, 70), pushText(40, 40)} {
		require.NoError(t, Parse(strings.NewReader(s), after))
	}
	got := Delta(before, after)
	assert.Equal(t, []Latency{{Stage: "push", Count: 100, P50: 1, P99: Bound(math.Inf(1)), P999: Bound(math.Inf(1))}}, got)
	assert.Nil(t, Delta(nil, after))

	assert.Error(t, Parse(strings.NewReader("medispatcher_stage_seconds_bucket{stage=\"push\"} 1\n"), Buckets{}))
	assert.Error(t, Parse(strings.NewReader("medispatcher_stage_seconds_bucket{stage=\"push\",le=\"1\"} x\n"), Buckets{}))
}

// A stage the daemon adds later follows the known ones, by name; a run
// without observations has no text.
func TestUnknownStagesLastAndEmptyText(t *testing.T) {
	b := Buckets{"zeta": {1: 0}, "push": {1: 0}, "alpha": {1: 0}}
	assert.Equal(t, []string{"push", "alpha", "zeta"}, names(b))
	ls := Delta(Buckets{}, b)
	assert.False(t, Observed(ls))
	assert.Empty(t, Text(ls))
	assert.Empty(t, TextP999(nil))
}

// pushText is one daemon's push buckets: le1 observations at or under
// 1 ms, inf in all.
func pushText(le1, inf int) string {
	return "medispatcher_stage_seconds_bucket{stage=\"push\",le=\"0.001\"} " + strconv.Itoa(le1) + "\n" +
		"medispatcher_stage_seconds_bucket{stage=\"push\",le=\"+Inf\"} " + strconv.Itoa(inf) + "\n" +
		"medispatcher_stage_seconds_sum{stage=\"push\"} 0.5\nmedispatcher_stage_seconds_count{stage=\"push\"} " + strconv.Itoa(inf) + "\n"
}
