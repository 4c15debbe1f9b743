package dispatch

import (
	"log/slog"
	"time"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/failures"
	"medispatcher/engine/dispatch/push"
	"medispatcher/engine/dispatch/subs"
	"medispatcher/engine/observe/trace"
)

// Deps are the engine's collaborators, built by the daemon.
type Deps struct {
	Pool     *connpool.Pool
	Push     *push.Client
	Source   subs.Source
	Failures FailureRecords
	IDs      *failures.IDs
	Data     DataLog
	Log      *slog.Logger
	Observer Observer // optional
	// Tracer, when set, makes every push a client span and sends its
	// traceparent header (trace.go); nil: no tracing, at no cost.
	Tracer *trace.Tracer
	// Alert, when set, raises an operator alert of a kind (rate-limited by
	// the receiver); it must not block.
	Alert func(kind, what string)
	// SubAlert, when set, raises an alert of a kind about subscription s
	// (the circuit breaker's: AlertBreakerOpen, AlertBreakerClosed,
	// AlertSubscriptionGone); it must not block.
	SubAlert func(s *subs.Subscription, kind, what string)
}

// FailureRecords keep the failure records of pushes (failures.Store).
type FailureRecords interface {
	// First keeps the record of a message's first failed push and returns
	// the id its retry job carries as LogId: the record's own id, or one
	// the store had a database give it (the push worker waits for that
	// within a short bound of the store's).
	First(r *failures.Record) uint64
	// Add keeps any later record of the message; it never blocks.
	Add(r *failures.Record)
}

// Alert kinds the engine raises through Deps.Alert.
const (
	AlertDataLog         = "datalog_unwritable" // a job was kept: its only-copy line could not be written
	AlertNoSubscriptions = "no_subscriptions"   // the main tube is not reserved: no subscription loaded
)

// DataLog receives the events operators' scripts read from the DATA log.
// DecodeErr, RedistFail and Drop carry a message's only copy: they return
// nil only once the line is on disk, and the engine deletes the job only
// then. The other methods' errors are counted by the log itself.
type DataLog interface {
	DecodeErr(raw []byte, reason string) error
	// DecodeErrKept logs a job that stays buried: a trace, never waited for.
	DecodeErrKept(raw []byte, reason string) error
	RedistFail(topic string, subID int64, job []byte, reason string) error
	DelFail(server string, tube string, id uint64, reason string) error
	Sent(resent bool, topic []byte, subID int64, ok bool, code int, elapsed time.Duration, url string, jsonBody []byte) error
	Drop(topic string, subID int64, job []byte, reason string) error
}

// Observer hears of every push, for statistics and alerts. Sub is called
// once when a subscription's runner starts (not per message); the
// SubObserver it returns is called from push workers and must not block.
type Observer interface {
	Sub(s *subs.Subscription) SubObserver
}

// SubObserver is one subscription's view of its pushes.
type SubObserver interface {
	// Pushed reports one push: s holds the subscription's current
	// settings; retriesDone counts this message's retries including this
	// push when it is one (0 for a first push, 1 for the first retry).
	Pushed(s *subs.Subscription, ok, retry bool, retriesDone int)
	// Stopped is called once when the subscription is cancelled.
	Stopped()
}
