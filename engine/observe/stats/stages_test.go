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
	for range 99 {
		tm.Observe(stage.Push, 3*time.Millisecond) // bucket ≤ 5 ms
	}
	tm.Observe(stage.Push, 300*time.Millisecond) // bucket ≤ 500 ms
	s := New(WithStages(func() *stage.Timings { return tm }))
	s.Sub(1, "orders").Push(true, false)
	url := serve(t, s.Handler())

	status, body, _ := get(t, fasthttp.MethodGet, url+"/")
	require.Equal(t, fasthttp.StatusOK, status, string(body))
	var doc struct {
		Stages []map[string]any `json:"stages"`
	}
	require.NoError(t, json.Unmarshal(body, &doc))
	var names []string
	for _, st := range doc.Stages {
		names = append(names, st["stage"].(string))
	}
	assert.Equal(t, []string{"main_wait", "redist_queue", "channel_wait", "slot_wait", "push", "total"}, names)
	assert.Equal(t, map[string]any{"stage": "push", "count": 100.0, "mean_ms": 5.97,
		"p50_ms": 5.0, "p90_ms": 5.0, "p99_ms": 5.0, "p999_ms": 500.0}, doc.Stages[4])
	assert.Equal(t, map[string]any{"stage": "main_wait", "count": 0.0, "mean_ms": 0.0,
		"p50_ms": 0.0, "p90_ms": 0.0, "p99_ms": 0.0, "p999_ms": 0.0}, doc.Stages[0])

	status, body, _ = get(t, fasthttp.MethodGet, url+"/?topic=orders")
	require.Equal(t, fasthttp.StatusOK, status, string(body))
	assert.NotContains(t, string(body), `"stages"`)
}

// TestNoStagesWithoutTheFunc: a Stats without WithStages, or whose engine
// is not there yet, shows none.
func TestNoStagesWithoutTheFunc(t *testing.T) {
	assert.Nil(t, New().Snapshot().Stages)
	assert.Nil(t, New(WithStages(func() *stage.Timings { return nil })).Snapshot().Stages)
}
