package admin_test

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/ops/adminapi"
	"medispatcher/engine/process/admin"
	"medispatcher/internal/testsrv"
)

// TestCircuitBreakerInTheAPI: circuit_breaker is a subscription setting
// of the API (its own or the daemon's as the effective value, a bad value
// refused naming it), and a subscription whose pushes fail opens its
// breaker: breaker_state, the overview, /metrics and a breaker_open alert
// say so.
func TestCircuitBreakerInTheAPI(t *testing.T) {
	r := start(t, "CircuitBreaker = \"on\"\nBreakerMinPushes = 2\nBreakerCoolDownSeconds = 60\nBreakerMaxCoolDownSeconds = 60")
	r.sub.SetAnswer(func(h testsrv.Hit) (int, string, time.Duration) { return 500, "no", 0 })
	off := r.create(31, "cb_off", "/off", map[string]any{"circuit_breaker": "off"})
	assert.Equal(t, "off", off.Subscription.CircuitBreaker)
	assert.Equal(t, "off", off.Subscription.Effective.CircuitBreaker)
	assert.Equal(t, "closed", off.Subscription.Breaker)
	on := r.create(32, "cb_on", "/on", nil)
	assert.Empty(t, on.Subscription.CircuitBreaker)
	assert.Equal(t, "on", on.Subscription.Effective.CircuitBreaker, "the daemon's CircuitBreaker")
	e := r.fail("POST", "/api/v1/subscriptions", token, map[string]any{"id": 33, "topic": "t", "url": r.sub.URL + "/x",
		"circuit_breaker": "maybe"}, 422, admin.CodeInvalid)
	require.Len(t, e.Error.Details, 1)
	assert.Equal(t, "circuit_breaker", e.Error.Details[0].Field)

	r.produce("cb_on", 2)
	r.produce("cb_off", 2)
	require.Eventually(t, func() bool {
		var v adminapi.SubView
		r.call("GET", "/api/v1/subscriptions/32", token, nil, &v)
		return v.Breaker == "open"
	}, 20*time.Second, 20*time.Millisecond, "subscription 32's breaker opens")
	var ov adminapi.Overview
	require.Equal(t, 200, r.call("GET", "/api/v1/overview", token, nil, &ov))
	states := map[int64]string{}
	for _, s := range ov.Subscriptions {
		states[s.ID] = s.Breaker
	}
	assert.Equal(t, map[int64]string{31: "off", 32: "open"}, states)
	m := r.scrape(r.metrics + "/metrics")
	assert.Contains(t, m, `medispatcher_breaker_state{sub="32",topic="cb_on"} 1`)
	assert.Contains(t, m, `medispatcher_breaker_state{sub="31",topic="cb_off"} 0`)
	assert.Contains(t, m, `medispatcher_breaker_transitions_total{sub="32",topic="cb_on",to="open"} 1`)
	require.Eventually(t, func() bool {
		var o adminapi.Overview
		r.call("GET", "/api/v1/overview", token, nil, &o)
		for _, a := range o.Alerts {
			if a.Kind == "breaker_open" && a.SubID == 32 && strings.Contains(a.Text, "the first probe in 1m0s") {
				return true
			}
		}
		return false
	}, 10*time.Second, 20*time.Millisecond, "a breaker_open alert")
}
