package alert

import (
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"medispatcher/internal/config"
)

// TestSubscriptionSourceDownAndUp: the database lost raises
// subscription_source_down to the default receiver once per interval;
// its return raises subscription_source_recovered once per alert raised,
// and none after an outage whose down alert the interval held back.
func TestSubscriptionSourceDownAndUp(t *testing.T) {
	rec := &recorder{}
	opt, got := deliveries()
	m, clk := newMonitor(t, func(c *config.Config) {
		c.DefaultAlarmReceiver, c.GlobalMessageBlockedAlarmInterval = "ops", 60
	}, opt, WithGateway(GatewayPlatform, rec))
	runMonitor(t, m)
	met := newMonitorMetrics()
	downBefore, upBefore := met.raised[KindSourceDown].Get(), met.raised[KindSourceRecovered].Get()

	m.SubscriptionSourceUp("db:3306/panel", time.Second) // no outage alerted: nothing
	m.SubscriptionSourceDown("db:3306/panel", errors.New("connection refused"))
	require.NoError(t, next(t, got).err)
	a := m.Recent(1)[0]
	assert.Equal(t, KindSourceDown, a.Kind)
	assert.Contains(t, a.Subject, "db:3306/panel is not answering (connection refused)")
	assert.Contains(t, a.Subject, "the subscriptions read last stay in use")

	m.SubscriptionSourceUp("db:3306/panel", 1500*time.Millisecond)
	require.NoError(t, next(t, got).err)
	a = m.Recent(1)[0]
	assert.Equal(t, KindSourceRecovered, a.Kind)
	assert.Contains(t, a.Subject, "db:3306/panel answers again after 1.5s")
	m.SubscriptionSourceUp("db:3306/panel", time.Second) // already answered

	// A second outage within the interval: neither alert.
	m.SubscriptionSourceDown("db:3306/panel", errors.New("timeout"))
	m.SubscriptionSourceUp("db:3306/panel", time.Second)
	assert.Equal(t, 1, countKind(m, KindSourceDown))
	assert.Equal(t, 1, countKind(m, KindSourceRecovered))

	clk.Advance(60 * time.Second)
	m.SubscriptionSourceDown("db:3306/panel", errors.New("timeout"))
	require.NoError(t, next(t, got).err)
	assert.Equal(t, 2, countKind(m, KindSourceDown))
	msgs := rec.sent()
	require.Len(t, msgs, 3)
	for _, msg := range msgs {
		assert.Equal(t, []string{"ops"}, msg.To, "to the default receiver")
	}
	assert.Equal(t, downBefore+2, met.raised[KindSourceDown].Get())
	assert.Equal(t, upBefore+1, met.raised[KindSourceRecovered].Get())
}
