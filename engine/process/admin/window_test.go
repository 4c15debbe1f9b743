package admin_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"medispatcher/engine/ops/adminapi"
	"medispatcher/engine/process/admin"
)

// TestAdaptiveWindowInTheAPI: adaptive_window is a subscription setting
// of the API (its own or the daemon's as the effective value, a bad value
// refused naming it); each subscription's push window shows in its view,
// the overview and /metrics: its concurrency when off, from 4 up to its
// concurrency when on and its subscriber keeps up.
func TestAdaptiveWindowInTheAPI(t *testing.T) {
	r := start(t, `AdaptiveWindow = "on"`)
	off := r.create(41, "aw_off", "/off", map[string]any{"adaptive_window": "off", "concurrency": 3})
	require.Equal(t, "off", off.Subscription.AdaptiveWindow)
	require.Equal(t, "off", off.Subscription.Effective.AdaptiveWindow)
	require.NotNil(t, off.Subscription.Window)
	require.Equal(t, adminapi.PushWindow{Channel: 3, Retry: off.Subscription.Effective.RetryConcurrency}, *off.Subscription.Window,
		"off: the window is the concurrency")
	on := r.create(42, "aw_on", "/on", map[string]any{"concurrency": 8})
	require.Empty(t, on.Subscription.AdaptiveWindow)
	require.Equal(t, "on", on.Subscription.Effective.AdaptiveWindow, "the daemon's AdaptiveWindow")
	require.NotNil(t, on.Subscription.Window)
	require.Equal(t, 4, on.Subscription.Window.Channel, "on: the window starts at 4")
	e := r.fail("POST", "/api/v1/subscriptions", token, map[string]any{"id": 43, "topic": "t", "url": r.sub.URL + "/x",
		"adaptive_window": "auto"}, 422, admin.CodeInvalid)
	require.Len(t, e.Error.Details, 1)
	require.Equal(t, "adaptive_window", e.Error.Details[0].Field)

	r.produce("aw_on", 300)
	require.Eventually(t, func() bool {
		var v adminapi.SubView
		r.call("GET", "/api/v1/subscriptions/42", token, nil, &v)
		return v.Window != nil && v.Window.Channel == 8
	}, 20*time.Second, 10*time.Millisecond, "subscription 42's window grows to its concurrency")
	var ov adminapi.Overview
	require.Equal(t, 200, r.call("GET", "/api/v1/overview", token, nil, &ov))
	got := map[int64][2]any{}
	for _, s := range ov.Subscriptions {
		got[s.ID] = [2]any{s.Window, s.AdaptiveWindow}
	}
	require.Equal(t, [2]any{3, "off"}, got[41])
	require.Equal(t, "on", got[42][1])
	m := r.scrape(r.metrics + "/metrics")
	require.Contains(t, m, `medispatcher_push_window{sub="41",topic="aw_off",lane="channel"} 3`)
	require.Contains(t, m, `medispatcher_push_window{sub="42",topic="aw_on",lane="retry"}`)
	require.Contains(t, m, `medispatcher_push_window_decreases_total{sub="42",topic="aw_on",reason="503"}`)
}
