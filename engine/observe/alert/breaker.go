package alert

import "medispatcher/engine/dispatch/subs"

// Breaker raises an alert of a subscription's circuit breaker (kind
// KindBreakerOpen, KindBreakerClosed or KindSubscriptionGone; what says
// why, with the cool-down of an opening) to the subscription's receivers.
// It is called on the changes of state only, which the cool-downs space
// out, so it is not rate-limited; a subscription with alerts disabled or
// no URL for this daemon's RECEPTION_ENV raises nothing.
func (m *Monitor) Breaker(s *subs.Subscription, kind, what string) {
	switch kind {
	case KindBreakerOpen, KindBreakerClosed, KindSubscriptionGone:
	default:
		return
	}
	if !m.alerting(s) {
		return
	}
	m.raiseSubWith(s, kind, what, "")
}
