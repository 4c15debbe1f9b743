package adminapi

// Subscription is a subscription's settings as the API shows and takes
// them: the keys of the daemon's subscription record, in its order and
// with its JSON (admin's tests check the two have the same keys and
// types). medictl's "sub set" takes its keys from here, and "subs export"
// writes the subscriptions file with the toml keys, the file's own.
type Subscription struct {
	ID           int64  `json:"id" toml:"id"`
	Topic        string `json:"topic" toml:"topic"`
	SubscriberID int64  `json:"subscriber_id" toml:"subscriber_id"`
	// URL is one URL per line, each optionally starting with a
	// [T_ENV:NAME] tag; in an answer each line's userinfo is masked.
	URL string `json:"url" toml:"url"`
	// TimeoutMS is the push timeout; 0 means the daemon's default.
	TimeoutMS int `json:"timeout_ms" toml:"timeout_ms"`
	// Concurrency is the number of push routines on the channel tube; 0
	// means the daemon's default.
	Concurrency int `json:"concurrency" toml:"concurrency"`
	// RetryConcurrency is the number of push routines on the retry tube;
	// 0 means the daemon's default.
	RetryConcurrency int `json:"retry_concurrency" toml:"retry_concurrency"`
	// IntervalMS is the minimum gap between two pushes of one routine.
	IntervalMS int `json:"interval_ms" toml:"interval_ms"`
	// Rate limits pushes of the whole subscription (messages per second);
	// 0 means unlimited.
	Rate float64 `json:"rate" toml:"rate"`
	// Burst is the rate limit's bucket size; 0 means 50 ms worth of Rate.
	Burst int `json:"burst" toml:"burst"`
	// ReceiveBench: a daemon in bench mode pushes only to subscriptions
	// with this set.
	ReceiveBench bool `json:"receive_bench" toml:"receive_bench"`
	AlertEnabled bool `json:"alert_enabled" toml:"alert_enabled"`
	// DropThreshold > 0 enables the backlog guard: when the channel's
	// ready count exceeds it, DropAction applies.
	DropThreshold int `json:"drop_threshold" toml:"drop_threshold"`
	DropAction    int `json:"drop_action" toml:"drop_action"`
	// Alert receivers, comma-separated; empty means the daemon's defaults.
	AlertEmails   string `json:"alert_emails" toml:"alert_emails"`
	AlertPhones   string `json:"alert_phones" toml:"alert_phones"`
	AlertReceiver string `json:"alert_receiver" toml:"alert_receiver"`
	// Alert thresholds; 0 means the daemon's default.
	AlertIntervalS        int `json:"alert_interval_s" toml:"alert_interval_s"`
	AlertFailureWindowS   int `json:"alert_failure_window_s" toml:"alert_failure_window_s"`
	AlertFailureThreshold int `json:"alert_failure_threshold" toml:"alert_failure_threshold"`
	AlertRetryThreshold   int `json:"alert_retry_threshold" toml:"alert_retry_threshold"`
	AlertBacklogThreshold int `json:"alert_backlog_threshold" toml:"alert_backlog_threshold"`
	// SigningSecrets sign every push (the Standard Webhooks headers), one
	// signature per secret, each "whsec_" and the base64 of its key. An
	// answer shows each as "whsec_xxxxx", except the export's
	// (?secrets=1); sending back exactly what it showed keeps them.
	SigningSecrets []string `json:"signing_secrets,omitempty" toml:"signing_secrets,omitempty"`
	// CircuitBreaker is "on" or "off"; empty (absent) = the daemon's
	// CircuitBreaker.
	CircuitBreaker string `json:"circuit_breaker,omitempty" toml:"circuit_breaker,omitempty"`
	// AdaptiveWindow is "on" or "off"; empty (absent) = the daemon's
	// AdaptiveWindow.
	AdaptiveWindow string `json:"adaptive_window,omitempty" toml:"adaptive_window,omitempty"`
	// Filter is a content filter: an expression on the message's topic,
	// sender and body; only messages for which it is true are pushed.
	// Empty (absent) = every message.
	Filter string `json:"filter,omitempty" toml:"filter,omitempty"`
}

// SubView is a subscription as the API shows it: its settings (each URL
// line's userinfo masked), what they resolve to with the daemon's
// defaults, and its backlog.
type SubView struct {
	*Subscription
	Effective Effective `json:"effective"`
	Tubes     Tubes     `json:"tubes"`
	Channel   *Counts   `json:"channel_backlog,omitempty"` // nil before the first sample
	Retry     *Counts   `json:"retry_backlog,omitempty"`
	// Breaker is its circuit breaker's state: "closed", "open",
	// "half_open" or "disabled" (a 410 Gone in standard mode); absent
	// when the subscription is not running here.
	Breaker string `json:"breaker_state,omitempty"`
	// Window is its push window on this daemon: the pushes each lane may
	// have in flight now (its concurrency when the window is off); absent
	// when the subscription is not running here.
	Window *PushWindow `json:"push_window,omitempty"`
	// Filtered counts the messages its filter left out on this daemon
	// since it started; FilterErrors those its filter failed on
	// (delivered all the same).
	Filtered     uint64 `json:"filtered"`
	FilterErrors uint64 `json:"filter_errors"`
}

// PushWindow is a subscription's push window per lane.
type PushWindow struct {
	Channel int `json:"channel"`
	Retry   int `json:"retry"`
}

// Tubes names a subscription's tubes.
type Tubes struct {
	Channel string `json:"channel"`
	Retry   string `json:"retry"`
}

// Effective are the settings a subscription runs with: its own, or the
// daemon's default where it leaves 0.
type Effective struct {
	TimeoutMS             int     `json:"timeout_ms"`
	Concurrency           int     `json:"concurrency"`
	RetryConcurrency      int     `json:"retry_concurrency"`
	IntervalMS            int     `json:"interval_ms"`
	Rate                  float64 `json:"rate"`
	Burst                 int     `json:"burst"`
	MaxRetries            int     `json:"max_retries"`
	AlertIntervalS        int     `json:"alert_interval_s"`
	AlertFailureWindowS   int     `json:"alert_failure_window_s"`
	AlertFailureThreshold int     `json:"alert_failure_threshold"`
	AlertRetryThreshold   int     `json:"alert_retry_threshold"`
	AlertBacklogThreshold int     `json:"alert_backlog_threshold"`
	// CircuitBreaker is "on" or "off": its own, or the daemon's.
	CircuitBreaker string `json:"circuit_breaker"`
	// AdaptiveWindow is "on" or "off": its own, or the daemon's.
	AdaptiveWindow string `json:"adaptive_window"`
}

// SubList is the answer of GET /subscriptions.
type SubList struct {
	Source        string     `json:"source"` // "redis" or "file:<path>"
	Writable      bool       `json:"writable"`
	Subscriptions []*SubView `json:"subscriptions"`
}

// Changed is the answer to a change: the subscription as stored and whether
// the daemon applied it before answering (others follow through Redis
// pub/sub).
type Changed struct {
	Applied      bool     `json:"applied"`
	Subscription *SubView `json:"subscription,omitempty"`
	Deleted      int64    `json:"deleted,omitempty"`
}

// Defaults is the answer of GET /defaults: the settings a subscription
// gets for what it leaves 0, and the bounds of its parameters.
type Defaults struct {
	Concurrency           int `json:"concurrency"`
	MaxConcurrency        int `json:"max_concurrency"`
	RetryConcurrency      int `json:"retry_concurrency"`
	MaxRetryConcurrency   int `json:"max_retry_concurrency"`
	TimeoutMS             int `json:"timeout_ms"`
	MaxTimeoutMS          int `json:"max_timeout_ms"`
	IntervalMS            int `json:"interval_ms"`
	MaxRetries            int `json:"max_retries"`
	RetryCoeS             int `json:"retry_coe_s"`
	AlertIntervalS        int `json:"alert_interval_s"`
	AlertFailureWindowS   int `json:"alert_failure_window_s"`
	AlertFailureThreshold int `json:"alert_failure_threshold"`
	AlertRetryThreshold   int `json:"alert_retry_threshold"`
	AlertBacklogThreshold int `json:"alert_backlog_threshold"`
}
