package stats

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/valyala/fasthttp"

	"medispatcher/engine/dispatch/stage"
)

// TestStagesInTheJSON: with WithStages the unfiltered answer lists every
// stage in stage order with its count, mean and quantiles in milliseconds;
// a filtered answer, about some subscriptions only, leaves them out.
func TestStagesInTheJSON(t *testing.T) {
	tm := stage.New()
	observePushes(tm)
	url := serveStages(t, tm)

	var doc struct {
		Stages []map[string]any `json:"stages"`
	}
	getJSON(t, url+"/", &doc)
	var names []string
	for _, st := range doc.Stages {
		names = append(names, st["stage"].(string))
	}
	assert.Equal(t, []string{"main_wait", "redist_queue", "channel_wait", "slot_wait", "push", "total"}, names)
	assert.Equal(t, map[string]any{"stage": "push", "count": 100.0, "mean_ms": 5.97,
		"p50_ms": 5.0, "p90_ms": 5.0, "p99_ms": 5.0, "p999_ms": 500.0}, doc.Stages[4])
	assert.Equal(t, map[string]any{"stage": "main_wait", "count": 0.0, "mean_ms": 0.0,
		"p50_ms": 0.0, "p90_ms": 0.0, "p99_ms": 0.0, "p999_ms": 0.0}, doc.Stages[0])

	status, body, _ := get(t, fasthttp.MethodGet, url+"/?topic=orders")
	require.Equal(t, fasthttp.StatusOK, status, string(body))
	assert.NotContains(t, string(body), `"stages"`)
}

// TestNoStagesWithoutTheFunc: a Stats without WithStages, or whose engine
// is not there yet, shows none.
func TestNoStagesWithoutTheFunc(t *testing.T) {
	assert.Nil(t, New().Snapshot().Stages)
	assert.Nil(t, New(WithStages(func() *stage.Timings { return nil })).Snapshot().Stages)
}

// TestRecentStagesInTheJSON: the unfiltered answer also lists every stage
// over the recent window, with the seconds it spans, so a tail that began
// a minute ago shows apart from the counts since start; a filtered answer
// leaves them out.
func TestRecentStagesInTheJSON(t *testing.T) {
	t0 := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	now := t0.Add(42 * time.Second)
	tm := stage.New()
	for range 1000 {
		tm.Observe(stage.Push, 90*time.Millisecond) // before the window
	}
	tm.Tick(t0)
	observePushes(tm)
	url := serveStages(t, tm, WithClock(func() time.Time { return now }))

	var doc struct {
		Stages        []map[string]any `json:"stages"`
		StagesRecent  []map[string]any `json:"stages_recent"`
		StagesRecentS *float64         `json:"stages_recent_s"`
	}
	getJSON(t, url+"/", &doc)
	var names []string
	for _, st := range doc.StagesRecent {
		names = append(names, st["stage"].(string))
	}
	assert.Equal(t, []string{"main_wait", "redist_queue", "channel_wait", "slot_wait", "push", "total"}, names)
	require.NotNil(t, doc.StagesRecentS)
	assert.Equal(t, 42.0, *doc.StagesRecentS)
	assert.Equal(t, map[string]any{"stage": "push", "count": 100.0, "mean_ms": 5.97,
		"p50_ms": 5.0, "p90_ms": 5.0, "p99_ms": 5.0, "p999_ms": 500.0}, doc.StagesRecent[4])
	assert.Equal(t, map[string]any{"stage": "total", "count": 0.0, "mean_ms": 0.0,
		"p50_ms": 0.0, "p90_ms": 0.0, "p99_ms": 0.0, "p999_ms": 0.0}, doc.StagesRecent[5])
	assert.Equal(t, 1100.0, doc.Stages[4]["count"], "since start: the old ones too")
	assert.Equal(t, 100.0, doc.Stages[4]["p90_ms"])

	status, body, _ := get(t, fasthttp.MethodGet, url+"/?sub=1")
	require.Equal(t, fasthttp.StatusOK, status, string(body))
	assert.NotContains(t, string(body), `"stages_recent`)
}

// TestNoRecentStagesWithoutTheFunc: a Stats without WithStages, or whose
// engine is not there yet, shows no recent window either.
func TestNoRecentStagesWithoutTheFunc(t *testing.T) {
	for _, s := range []*Stats{New(), New(WithStages(func() *stage.Timings { return nil }))} {
		snap := s.Snapshot()
		assert.Nil(t, snap.StagesRecent)
		assert.Zero(t, snap.StagesRecentS)
	}
}

// observePushes times 100 pushes in tm: 99 of 3 ms (bucket ≤ 5 ms) and
// one of 300 ms (≤ 500 ms), a mean of 5.97 ms.
func observePushes(tm *stage.Timings) {
	for range 99 {
		tm.Observe(stage.Push, 3*time.Millisecond)
	}
	tm.Observe(stage.Push, 300*time.Millisecond)
}

// serveStages serves the statistics of one subscription, 1 of topic
// "orders", with the stage timings tm, and returns their URL.
func serveStages(t *testing.T, tm *stage.Timings, opts ...Option) string {
	t.Helper()
	s := New(append(opts, WithStages(func() *stage.Timings { return tm }))...)
	s.Sub(1, "orders").Push(true, false)
	return serve(t, s.Handler())
}

// getJSON decodes the 200 answer of GET url into v.
func getJSON(t *testing.T, url string, v any) {
	t.Helper()
	status, body, _ := get(t, fasthttp.MethodGet, url)
	require.Equal(t, fasthttp.StatusOK, status, string(body))
	require.NoError(t, json.Unmarshal(body, v))
}
