package admin

import (
	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/observe/alert"
	"medispatcher/engine/observe/stats"
	"medispatcher/engine/ops/adminapi"
)

// The engine's values become the API's wire types (package adminapi)
// here. Where the two structs have the same fields a Go conversion does
// it, and stops compiling when one of them changes; a subscription record
// also holds unexported state, so it is copied field by field. wire_test.go
// checks that each converted value encodes as its original.

// wireSub is s's settings as the API shows them (URL and signing secrets
// as stored: view masks them).
func wireSub(s *subs.Subscription) *adminapi.Subscription {
	return &adminapi.Subscription{
		ID: s.ID, Topic: s.Topic, SubscriberID: s.SubscriberID, URL: s.URL,
		TimeoutMS: s.TimeoutMS, Concurrency: s.Concurrency, RetryConcurrency: s.RetryConcurrency,
		IntervalMS: s.IntervalMS, Rate: s.Rate, Burst: s.Burst, ReceiveBench: s.ReceiveBench,
		AlertEnabled: s.AlertEnabled, DropThreshold: s.DropThreshold, DropAction: s.DropAction,
		AlertEmails: s.AlertEmails, AlertPhones: s.AlertPhones, AlertReceiver: s.AlertReceiver,
		AlertIntervalS: s.AlertIntervalS, AlertFailureWindowS: s.AlertFailureWindowS,
		AlertFailureThreshold: s.AlertFailureThreshold, AlertRetryThreshold: s.AlertRetryThreshold,
		AlertBacklogThreshold: s.AlertBacklogThreshold, SigningSecrets: s.SigningSecrets,
		CircuitBreaker: s.CircuitBreaker, AdaptiveWindow: s.AdaptiveWindow, Filter: s.Filter,
	}
}

// wireAlerts is list as the API shows it: never nil, so an empty list is
// [] rather than null.
func wireAlerts(list []alert.Alert) []adminapi.Alert {
	out := make([]adminapi.Alert, 0, len(list))
	for _, a := range list {
		out = append(out, adminapi.Alert(a))
	}
	return out
}

// wireStages converts the statistics' latency by stage; never nil, so the
// overview always has a list.
func wireStages(ls []stats.StageLatency) []adminapi.Stage {
	out := make([]adminapi.Stage, len(ls))
	for i, l := range ls {
		out[i] = adminapi.Stage(l)
	}
	return out
}
