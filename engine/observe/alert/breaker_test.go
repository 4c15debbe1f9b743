package alert

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/engine/dispatch/subs"
)

// TestBreakerAlerts: every change of a breaker raises its kind for the
// subscription, with what the engine said; a subscription with alerts
// disabled raises none, and an unknown kind is ignored.
func TestBreakerAlerts(t *testing.T) {
	m, _ := newMonitor(t, nil)
	s := newSub(t, 7, nil)
	m.Breaker(s, KindBreakerOpen, "circuit breaker open (5 connection errors or time-outs in a row): nothing is pushed, the first probe in 5s")
	m.Breaker(s, KindBreakerOpen, "again")
	m.Breaker(s, KindBreakerClosed, "circuit breaker closed (the probe succeeded): pushing again")
	m.Breaker(s, KindSubscriptionGone, "the subscriber answered 410 Gone")
	m.Breaker(s, "bogus", "x")
	assert.Equal(t, 2, countKind(m, KindBreakerOpen))
	assert.Equal(t, 1, countKind(m, KindBreakerClosed))
	assert.Equal(t, 1, countKind(m, KindSubscriptionGone))
	recent := m.Recent(10)
	require.Len(t, recent, 4)
	first := recent[3] // Recent is newest first
	assert.Equal(t, int64(7), first.SubID)
	assert.Equal(t, "order_paid", first.Topic)
	assert.True(t, strings.Contains(first.Subject, "5 connection errors"), first.Subject)
	assert.True(t, strings.Contains(first.Text, "the first probe in 5s"), first.Text)

	off := newSub(t, 8, func(s *subs.Subscription) { s.AlertEnabled = false })
	m.Breaker(off, KindBreakerOpen, "x")
	assert.Equal(t, 2, countKind(m, KindBreakerOpen))
}
