package subs

import (
	"errors"
	"fmt"
	"math"
	"reflect"
	"strconv"

	"medispatcher/engine/dispatch/filter"
	"medispatcher/internal/redact"
	"medispatcher/internal/wire"
)

// MaxTubeName is beanstalkd's limit on a tube name, in bytes.
const MaxTubeName = 200

// DefaultChannelPrefix is the old daemon's PrefixOfChannelQueue: channel
// tubes are named "<topic>/sub-queue/<id>".
const DefaultChannelPrefix = "sub-queue/"

// Drop actions for a channel whose backlog exceeds DropThreshold.
const (
	DropKeep = 0 // put into the channel anyway
	DropLog  = 1 // write to the drop log instead of the channel
	DropDrop = 2 // discard
)

// Subscription is one subscriber's subscription to one topic. The field
// names in the toml and json tags are a contract with operators' tooling.
//
// A Subscription taken from a Set is shared by every reader and must not
// be modified.
type Subscription struct {
	ID           int64  `toml:"id" json:"id"`
	Topic        string `toml:"topic" json:"topic"`
	SubscriberID int64  `toml:"subscriber_id" json:"subscriber_id"`
	// URL is raw: one URL per line, each optionally starting with a
	// [T_ENV:NAME] tag. See ParseURLs; URLs returns the parsed form.
	URL string `toml:"url" json:"url"`
	// TimeoutMS is the push timeout; 0 means the daemon's
	// DefaultMaxMessageProcessTime.
	TimeoutMS int `toml:"timeout_ms" json:"timeout_ms"`
	// Concurrency is the number of push routines on the channel tube; 0
	// means the daemon's SendersPerChannel.
	Concurrency int `toml:"concurrency" json:"concurrency"`
	// RetryConcurrency is the number of push routines on the retry tube; 0
	// means the daemon's SendersPerRetryChannel.
	RetryConcurrency int `toml:"retry_concurrency" json:"retry_concurrency"`
	// IntervalMS is the minimum gap between two pushes of one routine.
	IntervalMS int `toml:"interval_ms" json:"interval_ms"`
	// Rate limits pushes of the whole subscription (token bucket, messages
	// per second); 0 means unlimited.
	Rate float64 `toml:"rate" json:"rate"`
	// Burst is the token bucket's size; 0 means 50 ms worth of Rate (at
	// least 1), so a rate holds over any second. See EffectiveBurst.
	Burst int `toml:"burst" json:"burst"`
	// ReceiveBench: a daemon in bench mode pushes only to subscriptions
	// with this set.
	ReceiveBench bool `toml:"receive_bench" json:"receive_bench"`
	// AlertEnabled is true when the key is absent (the sources decode onto
	// a subscription that has it set).
	AlertEnabled bool `toml:"alert_enabled" json:"alert_enabled"`
	// DropThreshold > 0 enables the backlog guard: when the channel's ready
	// count exceeds it, DropAction applies.
	DropThreshold int `toml:"drop_threshold" json:"drop_threshold"`
	// DropAction is DropKeep, DropLog or DropDrop.
	DropAction int `toml:"drop_action" json:"drop_action"`
	// Alert receivers of this subscription, comma-separated as the old
	// daemon kept them; empty means the daemon's defaults.
	AlertEmails   string `toml:"alert_emails" json:"alert_emails"`
	AlertPhones   string `toml:"alert_phones" json:"alert_phones"`
	AlertReceiver string `toml:"alert_receiver" json:"alert_receiver"`
	// Alert thresholds of this subscription (package alert); 0 means the
	// daemon's default of the same meaning.
	AlertIntervalS        int `toml:"alert_interval_s" json:"alert_interval_s"`               // AlarmInterval
	AlertFailureWindowS   int `toml:"alert_failure_window_s" json:"alert_failure_window_s"`   // IntervalOfErrorMonitorAlert
	AlertFailureThreshold int `toml:"alert_failure_threshold" json:"alert_failure_threshold"` // SubscriptionTotalFailureAlertThreshold
	AlertRetryThreshold   int `toml:"alert_retry_threshold" json:"alert_retry_threshold"`     // MessageFailureAlertThreshold
	AlertBacklogThreshold int `toml:"alert_backlog_threshold" json:"alert_backlog_threshold"` // MessageBlockedAlertThreshold
	// SigningSecrets, when not empty, sign every push of the subscription
	// (the Standard Webhooks headers), one signature per secret in this
	// order, so a subscriber can rotate them: each is "whsec_" followed by
	// the standard base64 of a 24 to 64 byte key. Secrets: shown masked
	// everywhere but the token-gated export.
	SigningSecrets []string `toml:"signing_secrets,omitempty" json:"signing_secrets,omitempty"`
	// CircuitBreaker turns the subscription's circuit breaker on
	// (BreakerOn) or off (BreakerOff); empty means the daemon's
	// CircuitBreaker.
	CircuitBreaker string `toml:"circuit_breaker,omitempty" json:"circuit_breaker,omitempty"`
	// AdaptiveWindow moves the number of pushes in flight with what the
	// subscriber shows, up to its concurrency (WindowOn), or keeps it at
	// its concurrency (WindowOff); empty means the daemon's AdaptiveWindow.
	AdaptiveWindow string `toml:"adaptive_window,omitempty" json:"adaptive_window,omitempty"`
	// Filter is a content filter: an expression (package filter) on the
	// message's topic, sender and decoded body; only messages for which it
	// is true are pushed. Empty means every message.
	Filter string `toml:"filter,omitempty" json:"filter,omitempty"`

	// urls is the parsed URL, set by NewSet on its own copy.
	urls *URLSet
	// filter is the compiled Filter (nil without one), set by NewSet on
	// its own copy.
	filter *filter.Filter
	// keys are the parsed SigningSecrets, set by NewSet on its own copy.
	keys [][]byte
}

// newDecoded returns a subscription carrying the defaults of keys that may
// be absent from a file table or a JSON object.
func newDecoded() *Subscription { return &Subscription{AlertEnabled: true} }

// URLs returns the parsed URL lines of a subscription taken from a Set; nil
// for one that is not in a Set. Picking from a nil URLSet finds nothing.
func (s *Subscription) URLs() *URLSet { return s.urls }

// ContentFilter returns the compiled Filter of a subscription taken from a
// Set; nil when it has none (or is not in a Set): every message is pushed.
func (s *Subscription) ContentFilter() *filter.Filter { return s.filter }

// EffectiveBurst is the token bucket's size: Burst, or when that is 0,
// 50 ms worth of Rate, at least 1 (a whole second's worth would let a
// subscriber see twice its rate in the first second).
func (s *Subscription) EffectiveBurst() int {
	if s.Burst > 0 {
		return s.Burst
	}
	return max(1, int(math.Ceil(s.Rate/20)))
}

// ChannelTube is the subscription's channel tube, "<topic>/<prefix><id>".
func (s *Subscription) ChannelTube(prefix string) string {
	return wire.ChannelTube(s.Topic, prefix, s.ID)
}

// RetryTube is the subscription's retry tube, the channel tube plus "/FAIL".
func (s *Subscription) RetryTube(prefix string) string {
	return wire.RetryTube(s.Topic, prefix, s.ID)
}

// Equal reports whether s and o have the same settings.
func (s *Subscription) Equal(o *Subscription) bool {
	if s == nil || o == nil {
		return s == o
	}
	a, b := *s, *o
	a.urls, b.urls = nil, nil
	a.keys, b.keys = nil, nil
	a.filter, b.filter = nil, nil
	// An empty list and none are the same setting: pushes unsigned.
	if len(a.SigningSecrets) == 0 && len(b.SigningSecrets) == 0 {
		a.SigningSecrets, b.SigningSecrets = nil, nil
	}
	return reflect.DeepEqual(a, b)
}

// Limits bounds a subscription's settings. A zero maximum means no bound.
type Limits struct {
	MaxConcurrency      int // MaxSendersPerChannel
	MaxRetryConcurrency int // MaxSendersPerRetryChannel
	MaxTimeoutMS        int // MaxMessageProcessTime
	// ChannelPrefix is the daemon's PrefixOfChannelQueue, used literally to
	// check that the longest tube name fits beanstalkd's limit.
	ChannelPrefix string
}

// ErrInvalid is matched (errors.Is) by every validation error.
var ErrInvalid = errors.New("invalid subscription")

// ValidationError says what is wrong with one field of one subscription.
type ValidationError struct {
	ID      int64  // subscription id (may itself be the invalid field)
	Field   string // the toml/json key
	Value   any    // the offending value
	Allowed string // what would be accepted
}

func (e *ValidationError) Error() string {
	return fmt.Sprintf("subscription %d: %s = %v: %s", e.ID, e.Field, e.Value, e.Allowed)
}

// Is makes errors.Is(err, ErrInvalid) true.
func (e *ValidationError) Is(target error) bool { return target == ErrInvalid }

// Validate checks s against the tube-name rules and lim. It returns every
// problem found (errors.Join of *ValidationError) so an operator fixes them
// in one go. Out-of-bounds values are rejected, not capped: a change the
// daemon silently altered would surprise the operator who made it.
// Validate does not modify s.
func (s *Subscription) Validate(lim Limits) error {
	var errs []error
	bad := func(field string, value any, allowed string) {
		errs = append(errs, &ValidationError{ID: s.ID, Field: field, Value: value, Allowed: allowed})
	}
	if s.ID <= 0 {
		bad("id", s.ID, "must be > 0")
	}
	if err := checkTopic(s.Topic); err != "" {
		bad("topic", strconv.Quote(s.Topic), err)
	} else if n := len(s.RetryTube(lim.ChannelPrefix)); n > MaxTubeName {
		bad("topic", strconv.Quote(s.Topic), fmt.Sprintf("retry tube %q is %d bytes, beanstalkd allows %d",
			s.RetryTube(lim.ChannelPrefix), n, MaxTubeName))
	}
	if s.SubscriberID < 0 {
		bad("subscriber_id", s.SubscriberID, "must be >= 0")
	}
	urls, err := ParseURLs(s.URL)
	switch {
	case err != nil:
		bad("url", strconv.Quote(redact.URL(s.URL)), redact.URL(err.Error())) // logged: no userinfo
	case urls.Len() == 0:
		bad("url", strconv.Quote(s.URL), "needs at least one http(s) URL")
	}
	checkCount := func(field string, v, max int) {
		if v < 0 || (max > 0 && v > max) {
			bad(field, v, boundText(max))
		}
	}
	checkCount("timeout_ms", s.TimeoutMS, lim.MaxTimeoutMS)
	checkCount("concurrency", s.Concurrency, lim.MaxConcurrency)
	checkCount("retry_concurrency", s.RetryConcurrency, lim.MaxRetryConcurrency)
	checkCount("interval_ms", s.IntervalMS, 0)
	if !(s.Rate >= 0) || math.IsInf(s.Rate, 0) {
		bad("rate", s.Rate, "must be a finite number >= 0 (0 = unlimited)")
	}
	checkCount("burst", s.Burst, 0)
	checkCount("drop_threshold", s.DropThreshold, 0)
	checkCount("alert_interval_s", s.AlertIntervalS, 0)
	checkCount("alert_failure_window_s", s.AlertFailureWindowS, 0)
	checkCount("alert_failure_threshold", s.AlertFailureThreshold, 0)
	checkCount("alert_retry_threshold", s.AlertRetryThreshold, 0)
	checkCount("alert_backlog_threshold", s.AlertBacklogThreshold, 0)
	if s.DropAction < DropKeep || s.DropAction > DropDrop {
		bad("drop_action", s.DropAction, "must be 0 (keep), 1 (log) or 2 (drop)")
	}
	s.validateSecrets(bad)
	if s.CircuitBreaker != "" && s.CircuitBreaker != BreakerOn && s.CircuitBreaker != BreakerOff {
		bad("circuit_breaker", strconv.Quote(s.CircuitBreaker), `must be "on", "off" or "" (the daemon's CircuitBreaker)`)
	}
	if s.AdaptiveWindow != "" && s.AdaptiveWindow != WindowOn && s.AdaptiveWindow != WindowOff {
		bad("adaptive_window", strconv.Quote(s.AdaptiveWindow), `must be "on", "off" or "" (the daemon's AdaptiveWindow)`)
	}
	if s.Filter != "" {
		if _, err := compileFilter(s.Filter); err != nil {
			bad("filter", strconv.Quote(s.Filter), err.Error())
		}
	}
	return errors.Join(errs...)
}

func boundText(max int) string {
	if max > 0 {
		return fmt.Sprintf("must be 0..%d (0 = default)", max)
	}
	return "must be >= 0"
}

// checkTopic returns why topic cannot start a beanstalkd tube name, or "".
func checkTopic(topic string) string {
	if topic == "" {
		return "must not be empty"
	}
	if topic[0] == '-' {
		return "must not start with '-' (beanstalkd tube name)"
	}
	for i := 0; i < len(topic); i++ {
		if !tubeChar(topic[i]) {
			return fmt.Sprintf("byte %d (%q) is not allowed in a beanstalkd tube name (A-Za-z0-9-+/;.$_())", i, topic[i])
		}
	}
	return ""
}

func tubeChar(c byte) bool {
	switch {
	case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		return true
	}
	switch c {
	case '-', '+', '/', ';', '.', '$', '_', '(', ')':
		return true
	}
	return false
}
