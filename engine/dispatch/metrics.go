package dispatch

import (
	"fmt"
	"io"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/VictoriaMetrics/metrics"

	"medispatcher/engine/dispatch/push"
)

// Metrics are declared where they are counted. Per-subscription series are
// created once per subscription, never per message, and released when it
// is cancelled (subMetrics.release), so that /metrics does not keep the
// series of every subscription that ever ran.

type engineMetrics struct {
	redistributed, fanout, redistFail, decodeErr, dropped *metrics.Counter
	// kept counts jobs not deleted because their only-copy DATA line could
	// not be written (released with KeepDelay); tooBig counts main jobs
	// buried because a channel job would exceed beanstalkd's job size.
	kept, tooBig *metrics.Counter
	unsub        unsubscribedCounters
}

// stagesWriter registers, once per process, the writer of the live
// engine's stage timings (medispatcher_stage_seconds).
var stagesWriter sync.Once

// liveEngine is the engine the process-wide gauges describe: the last one
// built (a daemon builds one; tests build several).
var liveEngine atomic.Pointer[Engine]

func newEngineMetrics() *engineMetrics {
	m := &engineMetrics{
		redistributed: metrics.GetOrCreateCounter(`medispatcher_redistributed_total`),
		fanout:        metrics.GetOrCreateCounter(`medispatcher_channel_puts_total`),
		redistFail:    metrics.GetOrCreateCounter(`medispatcher_redistribute_failures_total`),
		decodeErr:     metrics.GetOrCreateCounter(`medispatcher_decode_errors_total`),
		dropped:       metrics.GetOrCreateCounter(`medispatcher_backlog_drops_total`),
		kept:          metrics.GetOrCreateCounter(`medispatcher_jobs_kept_total{reason="datalog_unwritable"}`),
		tooBig:        metrics.GetOrCreateCounter(`medispatcher_jobs_buried_total{reason="job_too_big"}`),
	}
	metrics.GetOrCreateGauge(`medispatcher_subscriptions_loaded`, func() float64 {
		if e := liveEngine.Load(); e != nil {
			return float64(len(e.state.Load().runners))
		}
		return 0
	})
	stagesWriter.Do(func() {
		metrics.RegisterMetricsWriter(func(w io.Writer) {
			if e := liveEngine.Load(); e != nil {
				e.stages.WritePrometheus(w)
			}
		})
	})
	metrics.GetOrCreateGauge(`medispatcher_main_tube_paused`, func() float64 {
		if e := liveEngine.Load(); e != nil && *e.paused.Load() != "" {
			return 1
		}
		return 0
	})
	return m
}

// maxTopicSeries bounds the per-topic series of unsubscribed messages:
// topics come from producers, so their number is not ours to trust.
const maxTopicSeries = 1000

// unsubscribedCounters counts main-tube messages whose topic has no
// subscription, per topic for the first maxTopicSeries topics and under
// topic="(other)" beyond.
type unsubscribedCounters struct {
	byTopic sync.Map // string -> *metrics.Counter
	n       atomic.Int32
}

func (u *unsubscribedCounters) inc(topic []byte) {
	if c, ok := u.byTopic.Load(string(topic)); ok { // no allocation: the compiler keeps the key on the stack
		c.(*metrics.Counter).Inc()
		return
	}
	t := string(topic)
	if u.n.Load() >= maxTopicSeries {
		t = "(other)"
		if c, ok := u.byTopic.Load(t); ok {
			c.(*metrics.Counter).Inc()
			return
		}
	}
	c := metrics.GetOrCreateCounter(`medispatcher_unsubscribed_messages_total{topic=` + strconv.Quote(t) + `}`)
	if _, loaded := u.byTopic.LoadOrStore(t, c); !loaded && t != "(other)" {
		u.n.Add(1)
	}
	c.Inc()
}

type subMetrics struct {
	pushOK, pushFail, retryOK, retryFail *metrics.Counter
	failKind                             map[push.FailureKind]*metrics.Counter
	retried, givenUp, noURL, overflow    *metrics.Counter
	retryPutFail, bucketWaits            *metrics.Counter
	// backoff counts answers whose Retry-After was honoured.
	backoff *metrics.Counter
	// direct counts copies handed from the main tube straight to the
	// push workers (CutThrough), spilled those put into the channel tube.
	direct, spilled *metrics.Counter
	// filtered counts messages its content filter left out, filterErrs
	// those its filter failed on (delivered).
	filtered, filterErrs *metrics.Counter
	latency              *metrics.Histogram
	names                []string // every series above, for release
}

func newSubMetrics(id int64, topic string) *subMetrics {
	l := fmt.Sprintf(`sub="%d",topic=%s`, id, strconv.Quote(topic))
	var names []string
	c := func(name, extra string) *metrics.Counter {
		full := name + "{" + l + extra + "}"
		names = append(names, full)
		return metrics.GetOrCreateCounter(full)
	}
	latency := "medispatcher_push_duration_seconds{" + l + "}"
	names = append(names, latency)
	m := &subMetrics{
		pushOK:       c("medispatcher_pushes_total", `,lane="channel",result="ok"`),
		pushFail:     c("medispatcher_pushes_total", `,lane="channel",result="fail"`),
		retryOK:      c("medispatcher_pushes_total", `,lane="retry",result="ok"`),
		retryFail:    c("medispatcher_pushes_total", `,lane="retry",result="fail"`),
		retried:      c("medispatcher_retries_scheduled_total", ""),
		givenUp:      c("medispatcher_given_up_total", ""),
		noURL:        c("medispatcher_no_url_drops_total", ""),
		overflow:     c("medispatcher_lane_overflow_releases_total", ""),
		retryPutFail: c("medispatcher_retry_put_failures_total", ""),
		bucketWaits:  c("medispatcher_token_bucket_waits_total", ""),
		backoff:      c("medispatcher_push_backoff_total", ""),
		direct:       c("medispatcher_handoffs_total", `,path="direct"`),
		spilled:      c("medispatcher_handoffs_total", `,path="spilled"`),
		filtered:     c("medispatcher_filtered_messages_total", ""),
		filterErrs:   c("medispatcher_filter_errors_total", ""),
		latency:      metrics.GetOrCreateHistogram(latency),
		failKind:     map[push.FailureKind]*metrics.Counter{},
	}
	for k := push.HTTPStatus; k <= push.Canceled; k++ {
		m.failKind[k] = c("medispatcher_push_failures_total", `,kind="`+k.String()+`"`)
	}
	m.names = names
	return m
}

// release unregisters the subscription's series: /metrics no longer shows
// them. Counting on m afterwards is harmless (its workers' last pushes)
// but no longer exported. Call it when the subscription stops, before a
// runner for the same id and topic may create the series again.
func (m *subMetrics) release() {
	for _, n := range m.names {
		metrics.UnregisterMetric(n)
	}
}

func (m *subMetrics) observe(r *push.Result, retry bool) {
	m.latency.Update(r.Elapsed.Seconds())
	switch {
	case r.OK && retry:
		m.retryOK.Inc()
	case r.OK:
		m.pushOK.Inc()
	case retry:
		m.retryFail.Inc()
	default:
		m.pushFail.Inc()
	}
	if !r.OK {
		if c := m.failKind[r.Kind]; c != nil {
			c.Inc()
		}
	}
}
