package dispatch

import (
	"time"

	"medispatcher/internal/wire"
)

// Options are the engine's settings, taken from the daemon config.
type Options struct {
	MainTube      string // NameOfMainQueue
	ChannelPrefix string // PrefixOfChannelQueue

	RedistWorkers int // goroutines redistributing main-tube jobs

	DefaultConcurrency      int           // SendersPerChannel
	DefaultRetryConcurrency int           // SendersPerRetryChannel
	Interval                time.Duration // IntervalOfSendingForSendRoutine: default min gap between pushes of one worker
	DefaultTimeout          time.Duration // DefaultMaxMessageProcessTime
	MaxTimeout              time.Duration // MaxMessageProcessTime

	RetryCoe   time.Duration // CoeOfIntervalForRetrySendingMsg as a duration (1 s per unit; 0: no delay)
	MaxRetries int           // MaxRetryTimesOfSendingMessage
	// MaxRetryAfter bounds the wait a subscriber's 429 or 503 answer may
	// ask for with Retry-After (MaxRetryAfterSeconds): its subscription
	// pauses that long and the message's retry waits at least that long
	// (see backoff.go). 0: the header is ignored, as in 2.x.
	MaxRetryAfter time.Duration

	// Breaker are the circuit breakers' settings (see breaker.go).
	Breaker BreakerOptions
	// AdaptiveWindow moves each lane's pushes in flight between 1 and its
	// concurrency with what the subscriber shows (pushwindow.go); a
	// subscription's adaptive_window overrides it.
	AdaptiveWindow bool

	SentLog bool // EnableMsgSentLog
	// LazyRetryWatch watches a retry tube only while it may hold jobs: from
	// this daemon's own retry put, or a backlog sample (RetrySampled) that
	// found some, until a sample finds it empty. Every watched tube costs
	// beanstalkd work on every event; retry tubes are empty most of the
	// time. Without RetrySampled calls it must stay false.
	LazyRetryWatch bool
	// CutThrough hands a message straight from the main tube to a
	// subscription's push workers when one is free and its channel tube
	// holds nothing (see cutthrough.go); only the rest is put into channel
	// tubes, which are then watched only while they may hold jobs (the
	// backlog sampler's ChannelSampled calls find jobs another daemon put
	// there). false: every message through the channel tube, as 2.x.
	CutThrough bool
	// NoPushMetrics skips the per-push counters and latency histogram and
	// the stage timings
	// (Observability = false, to measure their cost).
	NoPushMetrics bool
	ReceptionEnv  string // RECEPTION_ENV
	RunAtBench    bool   // RunAtBench

	// AllowEmptySet reserves the main tube even while the subscription set
	// is empty (its messages are then deleted as unsubscribed).
	AllowEmptySet bool
	// LogUnsubscribed writes a DROP line for every message whose topic has
	// no subscription before it is deleted.
	LogUnsubscribed bool
	// KeepDelay is the release delay of a job kept because its DATA-log
	// line could not be written (default 10 s, at least 1 s).
	KeepDelay time.Duration
	// LegacyRouters bound the goroutines routing channel jobs of the old
	// format (no subscription id) by their tube name (default 4).
	LegacyRouters int

	Priority uint32
	TTR      time.Duration

	// Consumer tuning: reserve links per server for the main tube (0:
	// connpool default) and for the channel tubes (0: 4), reserves in
	// flight per link (0: connpool default).
	MainLinks, ChannelLinks, Batch int
	// ShutdownTimeout bounds the graceful stop after the context ends.
	ShutdownTimeout time.Duration
}

// BreakerOptions are the circuit breakers' settings (CircuitBreaker and
// the Breaker* keys); a subscription's circuit_breaker overrides On.
type BreakerOptions struct {
	On                bool
	Window            time.Duration
	MinPushes         int
	FailureShare      float64
	ConsecutiveErrors int
	CoolDown          time.Duration
	MaxCoolDown       time.Duration
}

func (o *Options) defaults() {
	if o.ChannelPrefix == "" {
		o.ChannelPrefix = "sub-queue/"
	}
	if o.ChannelLinks <= 0 {
		o.ChannelLinks = 4
	}
	if o.RedistWorkers <= 0 {
		o.RedistWorkers = 32
	}
	if o.DefaultConcurrency <= 0 {
		o.DefaultConcurrency = 5
	}
	if o.DefaultRetryConcurrency <= 0 {
		o.DefaultRetryConcurrency = 2
	}
	if o.DefaultTimeout <= 0 {
		o.DefaultTimeout = 5 * time.Second
	}
	if o.MaxTimeout <= 0 {
		o.MaxTimeout = 30 * time.Second
	}
	if o.RetryCoe < 0 { // 0 is allowed: retries without delay
		o.RetryCoe = 0
	}
	if o.MaxRetryAfter < 0 {
		o.MaxRetryAfter = 0
	}
	if o.MaxRetries <= 0 {
		o.MaxRetries = 10
	}
	if o.Priority == 0 {
		o.Priority = wire.Priority
	}
	if o.TTR <= 0 {
		o.TTR = wire.TTR
	}
	if o.KeepDelay <= 0 {
		o.KeepDelay = 10 * time.Second
	}
	o.KeepDelay = max(o.KeepDelay, time.Second) // beanstalkd delays are whole seconds
	o.Breaker.defaults()
	if o.LegacyRouters <= 0 {
		o.LegacyRouters = 4
	}
	if o.ShutdownTimeout <= 0 {
		o.ShutdownTimeout = o.MaxTimeout + 5*time.Second
	}
}

// defaults fills in the daemon's defaults for settings left zero.
func (b *BreakerOptions) defaults() {
	if b.Window <= 0 {
		b.Window = 30 * time.Second
	}
	if b.MinPushes <= 0 {
		b.MinPushes = 20
	}
	if !(b.FailureShare > 0 && b.FailureShare <= 1) {
		b.FailureShare = 0.5
	}
	if b.ConsecutiveErrors <= 0 {
		b.ConsecutiveErrors = 5
	}
	if b.CoolDown <= 0 {
		b.CoolDown = 5 * time.Second
	}
	if b.MaxCoolDown < b.CoolDown {
		b.MaxCoolDown = max(300*time.Second, b.CoolDown)
	}
}
