package alert

import (
	"strings"

	"medispatcher/engine/dispatch/subs"
)

// route is one gateway and what it is to send.
type route struct {
	gw *gatewayEntry
	to []string
	ch string
}

// subRoutes are the gateways and recipients of an alert of s: its own
// receivers whose gateways are on, or else the default receiver.
func (m *Monitor) subRoutes(s *subs.Subscription, g *Globals) []route {
	var rs []route
	add := func(name, list, ch string) {
		gw := m.byName[name]
		if gw == nil {
			return
		}
		if to := splitList(list); len(to) > 0 {
			rs = append(rs, route{gw: gw, to: to, ch: ch})
		}
	}
	add(GatewayEmail, s.AlertEmails, "")
	add(GatewaySms, s.AlertPhones, "")
	add(GatewayPlatform, s.AlertReceiver, g.DefaultAlarmChan)
	if len(rs) > 0 {
		return rs
	}
	return m.defaultRoutes(g)
}

// defaultRoutes sends to DefaultAlarmReceiver through the alarm platform.
func (m *Monitor) defaultRoutes(g *Globals) []route {
	gw := m.byName[GatewayPlatform]
	to := splitList(g.DefaultAlarmReceiver)
	if gw == nil || len(to) == 0 {
		return nil
	}
	return []route{{gw: gw, to: to, ch: g.DefaultAlarmChan}}
}

// splitList splits a receiver list on commas, semicolons and white space
// (the old daemon kept them comma-separated; people type the others).
func splitList(s string) []string {
	return strings.FieldsFunc(s, func(r rune) bool {
		switch r {
		case ',', ';', ' ', '\t', '\r', '\n':
			return true
		}
		return false
	})
}

// raise counts, logs, keeps and queues a new alert. It never blocks: a
// gateway whose queue is full loses this alert (counted). The record's
// mutable fields are written under m.mu, from the first send to a queue
// on, because the delivery goroutines write their results under it too;
// only non-blocking sends happen under the lock.
func (m *Monitor) raise(r *record, routes []route) {
	a := &r.a
	m.met.raised[a.Kind].Inc()
	m.log.Info("alert raised", "kind", a.Kind, "sub", a.SubID, "topic", a.Topic, "subject", a.Subject)
	msgs := make([]delivery, len(routes))
	for i, rt := range routes { // rendering templates is done outside the lock
		msgs[i] = delivery{rec: r, msg: rt.gw.message(a.Subject, a.Text, rt.to, rt.ch)}
	}

	var dropped []string
	m.mu.Lock()
	var notes []string
	if len(routes) == 0 {
		m.met.unrouted.Inc()
		notes = append(notes, "no receiver")
	}
	for i, rt := range routes {
		select {
		case rt.gw.queue <- msgs[i]:
		default:
			m.met.dropped.Inc()
			notes = append(notes, rt.gw.name+" queue full")
			a.Failed = append(a.Failed, rt.gw.name)
			dropped = append(dropped, rt.gw.name)
		}
	}
	a.Note = strings.Join(notes, "; ")
	m.recent[m.recentNext] = r
	m.recentNext = (m.recentNext + 1) % m.recentN
	m.mu.Unlock()

	if len(routes) == 0 {
		m.log.Debug("alert has no receiver, not sent", "kind", a.Kind, "sub", a.SubID, "topic", a.Topic)
	}
	for _, name := range dropped {
		m.log.Warn("alert dropped: gateway queue full", "gateway", name, "kind", a.Kind, "sub", a.SubID)
	}
}
