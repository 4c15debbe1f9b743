package dispatch

import (
	"time"

	"medispatcher/engine/dispatch/filter"
	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/dispatch/subs"
)

// filterWarnEvery is the least time between two warnings of one
// subscription's filter failing on a message: a filter that fails on every
// message of a busy topic must not flood the log.
const filterWarnEvery = 10 * time.Second

// filterScratch is a redistributor's view of the message being fanned out
// for content filters: its body is decoded the first time a subscription's
// filter needs it, at most once per message, never for a topic without
// filters.
type filterScratch struct {
	env     *filter.Env
	m       *message.Message
	ready   bool  // env describes m
	badBody error // m's body did not decode (set with ready)
}

// reset starts a new message.
func (fs *filterScratch) reset(m *message.Message) { fs.m, fs.ready, fs.badBody = m, false, nil }

// match evaluates f on the current message.
func (fs *filterScratch) match(f *filter.Filter) (bool, error) {
	if !fs.ready {
		if fs.env == nil {
			fs.env = filter.NewEnv()
		}
		body, err := message.DecodeValue(fs.m.Body)
		fs.env.Set(string(fs.m.Topic), string(fs.m.Sender), body)
		fs.ready, fs.badBody = true, err
	}
	if fs.badBody != nil {
		return false, fs.badBody
	}
	return f.Match(fs.env)
}

// filteredOut applies s's content filter to the message of fs and
// reports whether s is left out of it (counted, never put nor pushed). A
// subscription without a filter gets everything. A filter that cannot be
// evaluated on the message lets it through (counted and warned about):
// an odd message is delivered rather than lost to a rule that did not
// foresee it.
func (e *Engine) filteredOut(fs *filterScratch, s *subs.Subscription, r *runner, jobID uint64) bool {
	f := s.ContentFilter()
	if f == nil {
		return false
	}
	ok, err := fs.match(f)
	switch {
	case err != nil:
		r.m.filterErrs.Inc()
		r.warnFilter(e, jobID, err)
		return false
	case !ok:
		r.m.filtered.Inc()
		return true
	}
	return false
}

// warnFilter logs a filter error, at most once per filterWarnEvery.
func (r *runner) warnFilter(e *Engine, jobID uint64, err error) {
	now := time.Now().UnixNano()
	last := r.filterWarned.Load()
	if now-last < int64(filterWarnEvery) || !r.filterWarned.CompareAndSwap(last, now) {
		return
	}
	e.log.Warn("content filter failed on a message: delivered (further failures of this filter are counted, logged at most every 10s)",
		"sub", r.id, "topic", r.topic, "job", jobID, "err", err)
}

// FilterCounts are a subscription's messages left out by its content
// filter, and the messages its filter failed on (delivered), since it
// started.
type FilterCounts struct {
	Filtered, Errors uint64
}

// Filters returns subscription id's FilterCounts; ok is false for an
// unknown id.
func (e *Engine) Filters(id int64) (c FilterCounts, ok bool) {
	r := e.state.Load().runners[id]
	if r == nil {
		return FilterCounts{}, false
	}
	return FilterCounts{Filtered: r.m.filtered.Get(), Errors: r.m.filterErrs.Get()}, true
}
