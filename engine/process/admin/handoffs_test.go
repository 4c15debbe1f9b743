package admin_test

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/ops/adminapi"
	"medispatcher/internal/testsrv"
)

// TestHandoffsWithoutCutThrough: with CutThrough off every copy goes
// through the channel tube, and the overview and the statistics say so.
func TestHandoffsWithoutCutThrough(t *testing.T) {
	r := start(t, "CutThrough = false")
	r.sub.SetAnswer(func(testsrv.Hit) (int, string, time.Duration) { return 200, `{"status":1}`, 0 })
	r.create(31, "spilled", "/ok", nil)
	r.produce("spilled", 12)
	r.sub.WaitFor(15*time.Second, "12 pushes", func(h []testsrv.Hit) bool { return len(h) >= 12 })

	var o adminapi.Overview
	require.Eventually(t, func() bool {
		require.Equal(t, 200, r.call("GET", "/api/v1/overview", token, nil, &o))
		return len(o.Subscriptions) == 1 && o.Subscriptions[0].PushesTotal == 12
	}, 10*time.Second, 50*time.Millisecond)
	assert.False(t, o.CutThrough)
	assert.Equal(t, uint64(0), o.Subscriptions[0].Direct)
	assert.Equal(t, uint64(12), o.Subscriptions[0].Spilled)
	assert.Zero(t, o.Subscriptions[0].DirectShare)

	var snap struct {
		Subscriptions []struct {
			Handoffs map[string]float64 `json:"handoffs"`
		} `json:"subscriptions"`
	}
	require.NoError(t, json.Unmarshal([]byte(r.scrape(r.stat+"/?sub=31")), &snap))
	require.Len(t, snap.Subscriptions, 1)
	assert.Equal(t, map[string]float64{"direct": 0, "spilled": 12, "direct_share": 0}, snap.Subscriptions[0].Handoffs)
}
