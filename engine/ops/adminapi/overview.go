package adminapi

import "time"

// Overview is the answer of GET /overview: what the status page shows, in
// one request.
type Overview struct {
	Version          string        `json:"version"`
	Started          time.Time     `json:"started"`
	UptimeS          float64       `json:"uptime_s"`
	NowMS            int64         `json:"now_ms"`
	Totals           Totals        `json:"totals"`
	Paused           string        `json:"main_tube_paused,omitempty"` // see Info.Paused
	CutThrough       bool          `json:"cut_through"`                // see SubOverview.Direct
	Main             Counts        `json:"main"`
	BacklogSampledMS int64         `json:"backlog_sampled_ms"`
	Subscriptions    []SubOverview `json:"subscriptions"`
	Alerts           []Alert       `json:"alerts"`
	Stages           []Stage       `json:"stages"`
	// StagesRecent is the same over about the last minute, which spans
	// StagesRecentS seconds (0, with every count 0, at the first reading
	// after the engine started).
	StagesRecent  []Stage `json:"stages_recent"`
	StagesRecentS float64 `json:"stages_recent_s"`
}

// Stage is the engine's latency in one stage of a message's way, since it
// started or over the recent window, in milliseconds (the statistics'
// StageLatency): main_wait,
// redist_queue, channel_wait, slot_wait, push and total, in that order.
// The quantiles are the upper bounds of the histogram buckets they fall
// in; all are 0 before the stage's first observation.
type Stage struct {
	Stage  string  `json:"stage"`
	Count  uint64  `json:"count"`
	MeanMS float64 `json:"mean_ms"`
	P50MS  float64 `json:"p50_ms"`
	P90MS  float64 `json:"p90_ms"`
	P99MS  float64 `json:"p99_ms"`
	P999MS float64 `json:"p999_ms"`
}

// Totals are counts since the daemon started.
type Totals struct {
	Pushes        uint64 `json:"pushes"`
	Successes     uint64 `json:"successes"`
	Failures      uint64 `json:"failures"`
	Retries       uint64 `json:"retries"`
	GivenUp       uint64 `json:"given_up"`
	Redistributed uint64 `json:"redistributed"`
	DecodeErrors  uint64 `json:"decode_errors"`
}

// SubOverview is one subscription's line on the status page. Direct and
// Spilled count its copies since it started by the way they reached its
// push workers: straight from the main tube while a worker was free
// (cut-through, Overview.CutThrough), or through its channel tube.
type SubOverview struct {
	ID               int64   `json:"id"`
	Topic            string  `json:"topic"`
	SubscriberID     int64   `json:"subscriber_id"`
	URL              string  `json:"url"` // userinfo masked
	Concurrency      int     `json:"concurrency"`
	RetryConcurrency int     `json:"retry_concurrency"`
	Pushes10s        uint64  `json:"pushes_10s"`
	Failures10s      uint64  `json:"failures_10s"`
	Rate10s          float64 `json:"rate_10s"`
	Pushes1m         uint64  `json:"pushes_1m"`
	Failures1m       uint64  `json:"failures_1m"`
	FailureRatio1m   float64 `json:"failure_ratio_1m"`
	PushesTotal      uint64  `json:"pushes_total"`
	FailuresTotal    uint64  `json:"failures_total"`
	Direct           uint64  `json:"direct"`        // copies handed straight from the main tube
	Spilled          uint64  `json:"spilled"`       // copies put into the channel tube
	DirectShare      float64 `json:"direct_share"`  // Direct/(Direct+Spilled), 0 before any copy
	Filtered         uint64  `json:"filtered"`      // messages its content filter left out
	FilterErrors     uint64  `json:"filter_errors"` // messages its filter failed on (delivered)
	Ready            int64   `json:"ready"`
	Delayed          int64   `json:"delayed"`
	Reserved         int64   `json:"reserved"`
	RetryReady       int64   `json:"retry_ready"`
	RetryDelayed     int64   `json:"retry_delayed"`
	// Breaker is its circuit breaker on this daemon: "closed", "open",
	// "half_open", "disabled" (a 410 Gone in standard mode), or "off"
	// (closed, and its pushes not counted).
	Breaker string `json:"breaker"`
	// Window and RetryWindow are its channel and retry lanes' push windows
	// on this daemon (their concurrency when the window is off; 0 when it
	// does not run here); AdaptiveWindow is "on" or "off".
	Window         int    `json:"push_window"`
	RetryWindow    int    `json:"retry_push_window"`
	AdaptiveWindow string `json:"adaptive_window"`
}

// Counts are the jobs of a tube (or of one tube name over every server)
// by state, as the backlog sampler last saw them.
type Counts struct {
	Ready    int64 `json:"ready"`
	Delayed  int64 `json:"delayed"`
	Reserved int64 `json:"reserved"`
	Buried   int64 `json:"buried"`
}
