package dispatch

import (
	"context"
	"errors"
	"time"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/dispatch/subs"
)

// onMainJob receives a main-tube job on a link's reader goroutine.
func (e *Engine) onMainJob(j *connpool.Job) {
	if e.stopping.Load() {
		j.Release(e.opts.Priority, 0)
		return
	}
	select {
	case e.redistQ <- j:
		e.mainGate.observe(len(e.redistQ))
	default:
		j.Release(e.opts.Priority, 0)
	}
}

// redistWorker fans main-tube jobs out to their subscriptions' channel
// tubes, then deletes them.
func (e *Engine) redistWorker() {
	var (
		m   message.Message
		buf []byte
	)
	for {
		var j *connpool.Job
		select {
		case <-e.quit:
			return
		case j = <-e.redistQ:
		}
		e.mainGate.observe(len(e.redistQ))
		buf = e.redistribute(j, &m, buf)
	}
}

func (e *Engine) redistribute(j *connpool.Job, m *message.Message, buf []byte) []byte {
	if err := message.Decode(j.Body, m); err != nil {
		// Spec section 4: the raw job goes to the DATA log, then it is
		// deleted — once the line is on disk, its only copy.
		e.metrics.decodeErr.Inc()
		if lerr := e.deps.Data.DecodeErr(j.Body, err.Error()); lerr != nil {
			e.keep(j, "DECODERR", lerr)
			return buf
		}
		j.Delete()
		return buf
	}
	st := e.state.Load()
	matched, tooBig := false, false
	for _, s := range st.set.ByTopic(m.Topic) {
		r := st.runners[s.ID]
		if r == nil {
			continue
		}
		if e.opts.RunAtBench && !s.ReceiveBench {
			continue
		}
		matched = true
		m.OriginJobID, m.SubscriptionID, m.RetryTimes, m.LogID = j.ID, s.ID, 0, 0
		buf = message.AppendChannelJob(buf[:0], m)
		if s.DropThreshold > 0 && s.DropAction != subs.DropKeep && r.channelBacklog.Load() > int64(s.DropThreshold) {
			if s.DropAction != subs.DropLog {
				e.metrics.dropped.Inc()
				continue
			}
			// The DROP line is this subscription's only copy; when it
			// cannot be written the message goes to the channel after all.
			if err := e.deps.Data.Drop(r.topic, s.ID, buf, "channel backlog above drop_threshold"); err == nil {
				e.metrics.dropped.Inc()
				continue
			} else {
				e.log.Warn("drop line not written: message put into its channel instead", "sub", s.ID, "job", j.ID, "err", err)
			}
		}
		// connpool bounds every request with its OpTimeout: no context
		// (and no timer) per put on this path.
		_, err := e.deps.Pool.Put(context.Background(), j.Server, r.tube, buf, e.opts.Priority, 0, e.opts.TTR)
		if err == nil {
			e.metrics.fanout.Inc()
			continue
		}
		e.metrics.redistFail.Inc()
		if errors.Is(err, connpool.ErrJobTooBig) {
			// A line could never be put back either: the main job stays,
			// buried, for an operator who raises beanstalkd's -z.
			tooBig = true
			e.log.Error("channel job too big for beanstalkd (raise its -z max job size, then kick the main tube): main job buried",
				"sub", s.ID, "tube", r.tube, "job", j.ID, "bytes", len(buf), "err", err)
			continue
		}
		// The channel job exists only in the DATA log now; the replay
		// tool puts it back into the channel tube. If the line cannot be
		// written, the main job is kept: every subscription gets it again
		// later (a duplicate for those already served, never a loss).
		e.log.Error("put to channel failed", "sub", s.ID, "tube", r.tube, "job", j.ID, "err", err)
		if lerr := e.deps.Data.RedistFail(r.topic, s.ID, buf, err.Error()); lerr != nil {
			e.keep(j, "REDISTFAIL", lerr)
			return buf
		}
	}
	if tooBig {
		e.metrics.tooBig.Inc()
		j.Bury(e.opts.Priority)
		return buf
	}
	if !matched && st.set.Len() == 0 && !e.opts.AllowEmptySet {
		// Reserved in the instant the set became empty (the gate ignores
		// the tube from now on): an empty set deletes nothing.
		j.Release(e.opts.Priority, time.Second)
		return buf
	}
	if !matched {
		e.metrics.unsub.inc(m.Topic)
		if e.opts.LogUnsubscribed {
			if err := e.deps.Data.Drop(string(m.Topic), 0, j.Body, "no subscription for this topic"); err != nil {
				e.keep(j, "DROP", err)
				return buf
			}
		}
	}
	e.metrics.redistributed.Inc()
	j.Delete()
	return buf
}

// keep releases a job whose only-copy line (cat) could not be written, so
// that it is tried again after KeepDelay instead of being lost.
func (e *Engine) keep(j *connpool.Job, cat string, err error) {
	e.metrics.kept.Inc()
	e.log.Error("DATA line not written: job kept in its tube for a later try",
		"category", cat, "job", j.ID, "delay", e.opts.KeepDelay, "err", err)
	if e.deps.Alert != nil {
		e.deps.Alert(AlertDataLog, "a "+cat+" line could not be written to the DATA log ("+err.Error()+"): jobs are kept in beanstalkd and retried")
	}
	j.Release(e.opts.Priority, e.opts.KeepDelay)
}
