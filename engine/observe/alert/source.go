package alert

import (
	"fmt"
	"time"
)

// SubscriptionSourceDown is called when the subscription source's
// database stops answering while a set is held (that set stays in use,
// but no change made in the database reaches the daemon). where names the
// database ("host:port/db"). It raises subscription_source_down to the
// default receiver, at most once per GlobalMessageBlockedAlarmInterval;
// it never blocks.
func (m *Monitor) SubscriptionSourceDown(where string, err error) {
	g := m.globals.Load()
	if !m.sourceFired.claim(m.offset(), int64(min(g.GlobalMessageBlockedAlarmInterval, maxSeconds))*int64(time.Second)) {
		return
	}
	m.sourceDown.Store(true)
	m.raiseGlobal(g, KindSourceDown, fmt.Sprintf(
		"subscription source database %s is not answering (%v); the subscriptions read last stay in use", where, err))
}

// SubscriptionSourceUp is called when the subscription source's database
// answers again after an outage that lasted down. It raises
// subscription_source_recovered to the default receiver when that outage
// raised subscription_source_down (so each recovery answers one alert, and
// an outage whose alert the interval held back stays silent).
func (m *Monitor) SubscriptionSourceUp(where string, down time.Duration) {
	if !m.sourceDown.CompareAndSwap(true, false) {
		return
	}
	m.raiseGlobal(m.globals.Load(), KindSourceRecovered, fmt.Sprintf(
		"subscription source database %s answers again after %s", where, down.Round(time.Millisecond)))
}
