package alert

import (
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"medispatcher/engine/dispatch/subs"
	"medispatcher/internal/redact"
)

// Indexes of a subscription's kinds in subState.fired.
const (
	subFailures = iota
	msgRetries
	chanBacklog
	subInvalid
	nSubKinds
)

// subState is one subscription's alert state, keyed by its ID (a
// subscription keeps its state across changes of its settings, which
// replace the *subs.Subscription).
type subState struct {
	fails   window
	fired   [nSubKinds]fired
	touched atomic.Int64 // offset ns of the last call, for pruning
	span    atomic.Int64 // the longest interval or window used, ns
}

// nBuckets cuts the failure window (see the package doc).
const nBuckets = 12

// window counts failures in nBuckets buckets of width ns each. A bucket is
// epoch<<32 | count, epoch being the low 32 bits of offset/width, so one
// compare-and-swap both ages and counts it.
type window struct {
	width atomic.Int64
	b     [nBuckets]atomic.Uint64
}

// add counts one failure at now (offset ns); width is w.width.
func (w *window) add(now, width int64) {
	idx := now / width
	e := uint64(uint32(idx))
	slot := &w.b[idx%nBuckets]
	for {
		v := slot.Load()
		nv := e<<32 | 1
		if v>>32 == e {
			if uint32(v) == ^uint32(0) {
				return // saturated
			}
			nv = v + 1
		}
		if slot.CompareAndSwap(v, nv) {
			return
		}
	}
}

// reset starts the count afresh for a new width. Racing failures may be
// lost or counted in the old scheme; either is harmless once.
func (w *window) reset(width int64) {
	for i := range w.b {
		w.b[i].Store(0)
	}
	w.width.Store(width)
}

// sum is the failures in the current bucket and the nBuckets-1 before it.
func (w *window) sum(now, width int64) int {
	cur := uint32(now / width)
	n := 0
	for i := range w.b {
		v := w.b[i].Load()
		if v == 0 {
			continue
		}
		if cur-uint32(v>>32) < nBuckets { // wraps: a future epoch is far
			n += int(uint32(v))
		}
	}
	return n
}

// offset is now as ns since base: monotonic with the real clock.
func (m *Monitor) offset() int64 {
	ns := int64(m.now().Sub(m.base))
	return max(ns, 0)
}

// alerting reports whether s may raise alerts: enabled, and with somewhere
// to push to in this daemon's environment.
func (m *Monitor) alerting(s *subs.Subscription) bool {
	return s != nil && s.AlertEnabled && len(s.URLs().Candidates(m.env)) > 0
}

// state returns s's state, creating it on first use. The lookup takes no
// lock and allocates nothing.
func (m *Monitor) state(id int64, now int64) *subState {
	st := (*m.states.Load())[id]
	if st == nil {
		st = m.addState(id)
	}
	// Write only once a second: the line is shared by the sub's workers.
	if now-st.touched.Load() > int64(time.Second) {
		st.touched.Store(now)
	}
	return st
}

func (m *Monitor) addState(id int64) *subState {
	m.statesMu.Lock()
	defer m.statesMu.Unlock()
	old := *m.states.Load()
	if st := old[id]; st != nil {
		return st
	}
	st := &subState{}
	for i := range st.fired {
		st.fired[i].at.Store(never)
	}
	next := make(map[int64]*subState, len(old)+1)
	for k, v := range old {
		next[k] = v
	}
	next[id] = st
	m.states.Store(&next)
	return st
}

// prune forgets the state of subscriptions not heard of for long enough
// that forgetting cannot shorten an interval or a window: twice the
// longest of them, and at least an hour.
func (m *Monitor) prune() {
	now := m.offset()
	m.statesMu.Lock()
	defer m.statesMu.Unlock()
	old := *m.states.Load()
	var next map[int64]*subState
	for id, st := range old {
		ttl := max(int64(time.Hour), 2*st.span.Load())
		if now-st.touched.Load() <= ttl {
			continue
		}
		if next == nil {
			next = make(map[int64]*subState, len(old))
			for k, v := range old {
				next[k] = v
			}
		}
		delete(next, id)
	}
	if next != nil {
		m.states.Store(&next)
	}
}

// Forget drops the state of subscription id (cancelled): its failure
// window and when its alerts last fired. Called once per cancellation,
// never per push; a subscription added again later starts afresh.
func (m *Monitor) Forget(id int64) {
	m.statesMu.Lock()
	defer m.statesMu.Unlock()
	old := *m.states.Load()
	if old[id] == nil {
		return
	}
	next := make(map[int64]*subState, len(old))
	for k, v := range old {
		if k != id {
			next[k] = v
		}
	}
	m.states.Store(&next)
}

// maxSeconds bounds an override so that it fits in int64 nanoseconds
// (68 years): an absurd value must not wrap into a negative interval.
const maxSeconds = 1 << 31

func nsOr(overrideS int, def int64) int64 {
	if overrideS > 0 {
		return int64(min(overrideS, maxSeconds)) * int64(time.Second)
	}
	return def
}

func intOr(override, def int) int {
	if override > 0 {
		return override
	}
	return def
}

// PushFailed is called by push workers on every failed push (retriesDone
// = the retries this message has had, 0 for a first push). It counts the
// failure and raises sub_failures / message_retries when due. It never
// blocks and allocates nothing unless it raises an alert.
func (m *Monitor) PushFailed(s *subs.Subscription, retriesDone int) {
	if !m.alerting(s) {
		return
	}
	now := m.offset()
	st := m.state(s.ID, now)
	windowNS := nsOr(s.AlertFailureWindowS, m.def.windowNS)
	width := max(windowNS/nBuckets, 1)
	if st.fails.width.Load() != width {
		st.fails.reset(width)
		st.span.Store(max(st.span.Load(), windowNS))
	}
	st.fails.add(now, width)

	interval := nsOr(s.AlertIntervalS, m.def.intervalNS)
	if st.fired[subFailures].due(now, interval) {
		threshold := intOr(s.AlertFailureThreshold, m.def.failThreshold)
		if n := st.fails.sum(now, width); n >= threshold && st.fired[subFailures].claim(now, interval) {
			st.span.Store(max(st.span.Load(), interval, windowNS))
			m.raiseSub(s, KindSubFailures, fmt.Sprintf("%d failed pushes in %s (threshold %d)",
				n, time.Duration(windowNS), threshold))
		}
	}
	if threshold := intOr(s.AlertRetryThreshold, m.def.retryThreshold); retriesDone >= threshold &&
		st.fired[msgRetries].claim(now, interval) {
		st.span.Store(max(st.span.Load(), interval, windowNS))
		m.raiseSub(s, KindMessageRetries, fmt.Sprintf("a message failed after %d retries (threshold %d)",
			retriesDone, threshold))
	}
}

// ChannelBacklog is called by the backlog sampler with the ready jobs of
// one subscription's channel and retry tubes together.
func (m *Monitor) ChannelBacklog(s *subs.Subscription, ready int) {
	if !m.alerting(s) {
		return
	}
	threshold := intOr(s.AlertBacklogThreshold, m.def.backlog)
	if ready < threshold {
		return
	}
	now := m.offset()
	st := m.state(s.ID, now)
	interval := nsOr(s.AlertIntervalS, m.def.intervalNS)
	if st.fired[chanBacklog].claim(now, interval) {
		st.span.Store(max(st.span.Load(), interval))
		m.raiseSub(s, KindChannelBacklog, fmt.Sprintf("%d messages waiting in its channel and retry tubes (threshold %d)",
			ready, threshold))
	}
}

// GlobalBacklog is called by the backlog sampler with the ready jobs summed
// over all channel tubes and those of the main tube.
func (m *Monitor) GlobalBacklog(channelsReady, mainReady int) {
	g := m.globals.Load()
	chOn := g.GlobalMessageBlockedAlertThreshold > 0 && channelsReady >= g.GlobalMessageBlockedAlertThreshold
	mainOn := g.NameOfMainQueueBlockedAlertThreshold > 0 && mainReady >= g.NameOfMainQueueBlockedAlertThreshold
	if !chOn && !mainOn {
		return
	}
	now := m.offset()
	interval := int64(min(g.GlobalMessageBlockedAlarmInterval, maxSeconds)) * int64(time.Second)
	if chOn && m.globalFired[0].claim(now, interval) {
		m.raiseGlobal(g, KindGlobalBacklog, fmt.Sprintf("%d messages waiting in all channel tubes (threshold %d)",
			channelsReady, g.GlobalMessageBlockedAlertThreshold))
	}
	if mainOn && m.globalFired[1].claim(now, interval) {
		m.raiseGlobal(g, KindMainBacklog, fmt.Sprintf("%d messages waiting in the main tube (threshold %d)",
			mainReady, g.NameOfMainQueueBlockedAlertThreshold))
	}
}

// Problem raises a daemon-wide alert of kind KindDataLog or
// KindNoSubscriptions (others are ignored) to the default receiver, at
// most once per GlobalMessageBlockedAlarmInterval per kind. It never
// blocks, so the dispatch path may call it.
func (m *Monitor) Problem(kind, what string) {
	var f *fired
	switch kind {
	case KindDataLog:
		f = &m.problemFired[0]
	case KindNoSubscriptions:
		f = &m.problemFired[1]
	default:
		return
	}
	g := m.globals.Load()
	if !f.claim(m.offset(), int64(min(g.GlobalMessageBlockedAlarmInterval, maxSeconds))*int64(time.Second)) {
		return
	}
	m.raiseGlobal(g, kind, what)
}

// raiseSub builds, keeps and routes an alert of subscription s. It runs
// at most once per interval per (subscription, kind), so it may allocate.
func (m *Monitor) raiseSub(s *subs.Subscription, kind, what string) {
	m.raiseSubWith(s, kind, what, fmt.Sprintf("Next alert of this kind for this subscription in %s at the earliest.\n",
		time.Duration(nsOr(s.AlertIntervalS, m.def.intervalNS))))
}

// raiseSubWith raises an alert of subscription s whose text ends with
// tail.
func (m *Monitor) raiseSubWith(s *subs.Subscription, kind, what, tail string) {
	a := Alert{
		Time:    m.now(),
		Kind:    kind,
		SubID:   s.ID,
		Topic:   s.Topic,
		Subject: fmt.Sprintf("[medispatcher %s] subscription %d (%s): %s", m.host, s.ID, s.Topic, what),
	}
	var b strings.Builder
	fmt.Fprintf(&b, "Alert %s on medispatcher host %s at %s.\n", kind, m.host, a.Time.Format(time.RFC3339))
	fmt.Fprintf(&b, "Subscription %d, topic %s, subscriber %d: %s.\n", s.ID, s.Topic, s.SubscriberID, what)
	fmt.Fprintf(&b, "URLs: %s\n", redact.URL(strings.Join(s.URLs().Candidates(m.env), " ")))
	b.WriteString(tail)
	a.Text = b.String()
	m.raise(&record{a: a}, m.subRoutes(s, m.globals.Load()))
}

// raiseGlobal builds, keeps and routes a global alert.
func (m *Monitor) raiseGlobal(g *Globals, kind, what string) {
	a := Alert{
		Time:    m.now(),
		Kind:    kind,
		Subject: fmt.Sprintf("[medispatcher %s] %s", m.host, what),
	}
	a.Text = fmt.Sprintf("Alert %s on medispatcher host %s at %s: %s.\nNext alert of this kind in %d s at the earliest.\n",
		kind, m.host, a.Time.Format(time.RFC3339), what, g.GlobalMessageBlockedAlarmInterval)
	m.raise(&record{a: a}, m.defaultRoutes(g))
}

// SubscriptionInvalid is called by the subscription source when an entry
// fails validation (subs.Options.OnInvalid; id 0 for an entry without
// one): held says whether its last good version stays in use. It raises
// sub_invalid to the default receiver, at most once per AlarmInterval per
// id; the subscription's own receivers are not used, since its settings
// are what is wrong.
func (m *Monitor) SubscriptionInvalid(id int64, held bool, err error) {
	now := m.offset()
	st := m.state(id, now)
	if !st.fired[subInvalid].claim(now, m.def.intervalNS) {
		return
	}
	st.span.Store(max(st.span.Load(), m.def.intervalNS))
	what := "is invalid and left out (it never loaded)"
	if held {
		what = "is invalid; its last good version stays in use"
	}
	a := Alert{
		Time:    m.now(),
		Kind:    KindSubInvalid,
		SubID:   id,
		Subject: fmt.Sprintf("[medispatcher %s] subscription %d %s", m.host, id, what),
	}
	a.Text = fmt.Sprintf("Alert %s on medispatcher host %s at %s.\nSubscription %d %s: %v.\n"+
		"Next alert of this kind for this subscription in %s at the earliest.\n",
		KindSubInvalid, m.host, a.Time.Format(time.RFC3339), id, what, err, time.Duration(m.def.intervalNS))
	g := m.globals.Load()
	m.raise(&record{a: a}, m.defaultRoutes(g))
}
