// Package stats counts pushes, failures and retry-lane pushes per
// subscription and per topic over sliding windows of the last second,
// 10 seconds, minute, hour and day, and serves them as JSON on the
// statistics address (the successor of the old StatisticApiAddr API).
// Given the engine's counts (WithHandoffs), each subscription also shows
// how many of its copies reached its push workers straight from the main
// tube (direct) or through its channel tube (spilled), and the direct
// share; given its content filter counts (WithFilters), the messages each
// subscription's filter left out or failed on. Given the engine's stage
// timings (WithStages), the snapshot also shows the latency by stage since
// the engine started, and over the last minute or so: the stage package's recent window, from snapshots of its
// cumulative histograms at least 10 s apart, spans a minute plus up to
// the gap between two snapshots once the engine has run that long.
//
// Counting is on the push hot path: Counter.Push uses atomics only, takes no
// lock and allocates nothing. Reading (Snapshot, Handler) takes the one lock
// of the subscription map only to copy the list of counters. The package
// must never block or slow a push to produce a statistic, and it keeps no
// per-message state: memory is fixed per subscription.
//
// # Windows and their granularity
//
// Counts are kept in rings of buckets aligned to the clock:
//
//	1 s, 10 s, 1 m   one-second buckets (60 of them)
//	1 h              one-minute buckets (60)
//	1 d              ten-minute buckets (144)
//
// A window of length L with buckets of width g is the current, partial
// bucket plus the L/g-1 complete buckets before it, so it ends at the
// moment of the snapshot (a push is visible at once) and covers between
// L-g and L of wall time: the 1 s window holds the pushes of the current
// clock second only, the 1 d window between 23 h 50 m and 24 h. Window.Seconds
// says how much time a window covers at the snapshot (less for a
// subscription younger than the window) so that Window.Rate is exact.
//
// A counter costs 264 buckets × 24 bytes ≈ 6.3 KiB: 500 subscriptions take
// about 3.2 MB.
package stats

import (
	"cmp"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

const (
	secBuckets    = 60
	minBuckets    = 60
	tenMinBuckets = 144
)

// windowDefs lists the five windows in the order of Windows' fields: which
// ring, how many of its buckets, and the nominal length in seconds.
var windowDefs = [5]struct {
	ring    int
	buckets int
	length  int64
}{
	{0, 1, 1},
	{0, 10, 10},
	{0, 60, 60},
	{1, 60, 3600},
	{2, 144, 86400},
}

// Stats holds the counters of all subscriptions. The zero value is not
// usable; call New.
type Stats struct {
	now      func() time.Time
	started  time.Time
	handoffs HandoffsFunc // nil: snapshots carry no Handoffs
	filters  FiltersFunc  // nil: snapshots count no filtered messages
	stages   StagesFunc   // nil: snapshots carry no Stages

	mu   sync.RWMutex
	subs map[int64]*Counter
	// retired keeps the windows and totals of removed subscriptions so that
	// the overall Totals of the last hour or day do not drop when a
	// subscription is cancelled.
	retired *Counter
}

// Option configures a Stats.
type Option func(*Stats)

// WithClock replaces time.Now, for tests.
func WithClock(now func() time.Time) Option {
	return func(s *Stats) { s.now = now }
}

// New returns an empty Stats.
func New(opts ...Option) *Stats {
	s := &Stats{now: time.Now, subs: map[int64]*Counter{}}
	for _, o := range opts {
		o(s)
	}
	s.started = s.now()
	s.retired = s.newCounter(0, "")
	return s
}

// Counter counts the pushes of one subscription. It is safe for concurrent
// use; pushes counted after the subscription was removed are ignored by the
// snapshots.
type Counter struct {
	id      int64
	topic   string
	created time.Time
	now     func() time.Time

	pushes, failures, retries atomic.Uint64
	rings                     [3]ring
}

func (s *Stats) newCounter(id int64, topic string) *Counter {
	c := &Counter{id: id, topic: topic, created: s.now(), now: s.now}
	// One allocation for all three rings keeps a counter's buckets together.
	all := make([]slot, secBuckets+minBuckets+tenMinBuckets)
	c.rings[0] = ring{width: 1, slots: all[:secBuckets:secBuckets]}
	c.rings[1] = ring{width: 60, slots: all[secBuckets : secBuckets+minBuckets : secBuckets+minBuckets]}
	c.rings[2] = ring{width: 600, slots: all[secBuckets+minBuckets:]}
	return c
}

// Sub returns the counter of subscription id, creating it on first use.
// The engine calls it once when a subscription starts, not per message.
// The same id and topic give the same *Counter; a known id with another
// topic replaces the old counter (whose counts go to the overall totals).
func (s *Stats) Sub(id int64, topic string) *Counter {
	s.mu.RLock()
	c := s.subs[id]
	s.mu.RUnlock()
	if c != nil && c.topic == topic {
		return c
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if c = s.subs[id]; c != nil {
		if c.topic == topic {
			return c
		}
		s.retire(c)
	}
	c = s.newCounter(id, topic)
	s.subs[id] = c
	return c
}

// Remove forgets subscription id (cancelled). Its counts stay in the
// overall totals; a later Sub with the same id starts from zero.
func (s *Stats) Remove(id int64) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if c := s.subs[id]; c != nil {
		s.retire(c)
		delete(s.subs, id)
	}
}

// retire folds c into s.retired; s.mu must be held for writing.
func (s *Stats) retire(c *Counter) {
	unix := s.now().Unix()
	for i := range c.rings {
		s.retired.rings[i].merge(&c.rings[i], unix, len(c.rings[i].slots))
	}
	s.retired.pushes.Add(c.pushes.Load())
	s.retired.failures.Add(c.failures.Load())
	s.retired.retries.Add(c.retries.Load())
}

// Push counts one push: ok is its outcome, retry whether it came from the
// retry lane. Called after every push: atomics only, no allocation.
func (c *Counter) Push(ok, retry bool) {
	unix := c.now().Unix()
	c.pushes.Add(1)
	if !ok {
		c.failures.Add(1)
	}
	if retry {
		c.retries.Add(1)
	}
	for i := range c.rings {
		c.rings[i].add(unix, ok, retry)
	}
}

// ID returns the subscription id of the counter.
func (c *Counter) ID() int64 { return c.id }

// Topic returns the topic of the counter's subscription.
func (c *Counter) Topic() string { return c.topic }

// Window is what happened during one window.
type Window struct {
	Pushes   uint64 `json:"pushes"`
	Failures uint64 `json:"failures"`
	// Retries counts the pushes from the retry lane (included in Pushes).
	Retries uint64 `json:"retries"`
	// FailureRatio is Failures/Pushes, 0 when there were no pushes.
	FailureRatio float64 `json:"failure_ratio"`
	// Seconds is the wall time the window covers at the snapshot: at most
	// its nominal length, less while the current bucket is partial or the
	// subscription is younger than the window (see the package doc).
	Seconds float64 `json:"seconds"`
}

// Rate returns pushes per second over the window, 0 for an empty span.
func (w Window) Rate() float64 {
	if w.Seconds <= 0 {
		return 0
	}
	return float64(w.Pushes) / w.Seconds
}

func (w *Window) add(o *Window) {
	w.Pushes += o.Pushes
	w.Failures += o.Failures
	w.Retries += o.Retries
	w.Seconds = max(w.Seconds, o.Seconds)
}

func (w *Window) finish() {
	w.FailureRatio = 0
	if w.Pushes > 0 {
		w.FailureRatio = float64(w.Failures) / float64(w.Pushes)
	}
}

// Windows holds the five windows.
type Windows struct {
	S1  Window `json:"1s"`
	S10 Window `json:"10s"`
	M1  Window `json:"1m"`
	H1  Window `json:"1h"`
	D1  Window `json:"1d"`
}

func (ws *Windows) at(i int) *Window {
	switch i {
	case 0:
		return &ws.S1
	case 1:
		return &ws.S10
	case 2:
		return &ws.M1
	case 3:
		return &ws.H1
	default:
		return &ws.D1
	}
}

func (ws *Windows) add(o *Windows) {
	for i := range windowDefs {
		ws.at(i).add(o.at(i))
	}
}

func (ws *Windows) finish() {
	for i := range windowDefs {
		ws.at(i).finish()
	}
}

// SubStats is one subscription in a Snapshot.
type SubStats struct {
	ID      int64   `json:"id"`
	Topic   string  `json:"topic"`
	Windows Windows `json:"windows"`
	// Total counts everything since the subscription started.
	Total Window `json:"total"`
	// Handoffs are how its copies reached its push workers (see
	// WithHandoffs); nil when the Stats has no HandoffsFunc.
	Handoffs *Handoffs `json:"handoffs,omitempty"`
	// Filtered counts the messages its content filter left out since it
	// started, FilterErrors those its filter failed on (delivered); see
	// WithFilters. Both nil (left out of the JSON) when the Stats has no
	// FiltersFunc.
	Filtered     *uint64 `json:"filtered,omitempty"`
	FilterErrors *uint64 `json:"filter_errors,omitempty"`
}

// TopicStats sums the subscriptions of one topic.
type TopicStats struct {
	Topic         string  `json:"topic"`
	Subscriptions []int64 `json:"subscriptions"` // sorted
	Windows       Windows `json:"windows"`
	Total         Window  `json:"total"`
}

// Snapshot is the state of all counters at one moment.
type Snapshot struct {
	Time time.Time `json:"time"`
	// Totals and Total sum every subscription, including the ones removed
	// since start (so they may exceed the sum of Topics); in a filtered
	// snapshot they sum only the selected subscriptions.
	Totals        Windows      `json:"totals"`
	Total         Window       `json:"total"`
	Topics        []TopicStats `json:"topics"`        // sorted by topic
	Subscriptions []SubStats   `json:"subscriptions"` // sorted by id
	// Stages is the engine's latency by stage since it started (see
	// WithStages), engine-wide: left out of a filtered snapshot.
	Stages []StageLatency `json:"stages,omitempty"`
	// StagesRecent is the same over the recent window, about the last
	// minute, which spans StagesRecentS seconds (0, with every count 0,
	// at the first reading after the engine started). Both are left out
	// where Stages is, and the span while it is 0.
	StagesRecent  []StageLatency `json:"stages_recent,omitempty"`
	StagesRecentS float64        `json:"stages_recent_s,omitempty"`
}

// Snapshot reads all counters at one moment.
func (s *Stats) Snapshot() *Snapshot {
	return s.snapshot(nil)
}

// snapshot reads the counters that keep selects (all when nil); the overall
// totals include the removed subscriptions only when nothing is filtered.
func (s *Stats) snapshot(keep func(*Counter) bool) *Snapshot {
	now := s.now()
	s.mu.RLock()
	cs := make([]*Counter, 0, len(s.subs))
	for _, c := range s.subs {
		if keep == nil || keep(c) {
			cs = append(cs, c)
		}
	}
	s.mu.RUnlock()
	slices.SortFunc(cs, func(a, b *Counter) int { return cmp.Compare(a.id, b.id) })

	snap := &Snapshot{Time: now, Subscriptions: make([]SubStats, len(cs)), Topics: []TopicStats{}}
	byTopic := map[string]int{}
	for i, c := range cs {
		st := &snap.Subscriptions[i]
		st.ID, st.Topic = c.id, c.topic
		c.read(now, &st.Windows, &st.Total)
		st.Handoffs = s.handoffsOf(c.id)
		s.filtersOf(st)
		snap.Totals.add(&st.Windows)
		snap.Total.add(&st.Total)

		ti, ok := byTopic[c.topic]
		if !ok {
			ti = len(snap.Topics)
			byTopic[c.topic] = ti
			snap.Topics = append(snap.Topics, TopicStats{Topic: c.topic})
		}
		t := &snap.Topics[ti]
		t.Subscriptions = append(t.Subscriptions, c.id)
		t.Windows.add(&st.Windows)
		t.Total.add(&st.Total)
		st.Windows.finish()
		st.Total.finish()
	}
	if keep == nil {
		s.mu.RLock()
		var ws Windows
		var tot Window
		s.retired.read(now, &ws, &tot)
		s.mu.RUnlock()
		// The retired counter lives as long as Stats, so its spans are
		// the ones of the whole process.
		snap.Totals.add(&ws)
		snap.Total.add(&tot)
		s.addStages(snap, now)
	}
	snap.Totals.finish()
	snap.Total.finish()
	slices.SortFunc(snap.Topics, func(a, b TopicStats) int { return cmp.Compare(a.Topic, b.Topic) })
	for i := range snap.Topics {
		snap.Topics[i].Windows.finish()
		snap.Topics[i].Total.finish()
	}
	return snap
}

// read fills ws and total with c's counts at now (FailureRatio not set).
func (c *Counter) read(now time.Time, ws *Windows, total *Window) {
	unix := now.Unix()
	age := max(now.Sub(c.created).Seconds(), 0)
	for i, d := range windowDefs {
		w := ws.at(i)
		r := &c.rings[d.ring]
		r.sum(unix, d.buckets, w)
		// The current bucket started at a multiple of the width; the
		// window is it plus the complete buckets before it.
		start := time.Unix(floorDiv(unix, r.width)*r.width, 0)
		span := float64(d.length-r.width) + now.Sub(start).Seconds()
		w.Seconds = min(span, age)
	}
	total.Pushes = c.pushes.Load()
	total.Failures = c.failures.Load()
	total.Retries = c.retries.Load()
	total.Seconds = age
}
