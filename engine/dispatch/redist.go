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

// redistribute puts one channel job per subscription of the main job's
// topic, then settles the main job; m and buf are the worker's reused
// message and encoding buffer (returned, maybe grown).
func (e *Engine) redistribute(j *connpool.Job, m *message.Message, buf []byte) []byte {
	if err := message.Decode(j.Body, m); err != nil {
		e.mainDecodeFailed(j, err)
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
		var out fanOut
		buf, out = e.putChannel(j, m, s, r, buf)
		switch out {
		case fanTooBig:
			tooBig = true
		case fanKept:
			return buf
		}
	}
	e.settleMain(j, m.Topic, st, matched, tooBig)
	return buf
}

// mainDecodeFailed settles a main job that is no message: the raw job goes
// to the DATA log, then it is deleted — once the line is on disk, its only
// copy.
func (e *Engine) mainDecodeFailed(j *connpool.Job, err error) {
	e.metrics.decodeErr.Inc()
	if lerr := e.deps.Data.DecodeErr(j.Body, err.Error()); lerr != nil {
		e.keep(j, "DECODERR", lerr)
		return
	}
	j.Delete()
}

// fanOut is the outcome of one subscription's copy of a main job.
type fanOut uint8

const (
	fanDone   fanOut = iota // put, dropped, or kept in the DATA log (REDISTFAIL)
	fanTooBig               // too big for beanstalkd: the main job must be buried
	fanKept                 // its only copy could not be written: the main job was released
)

// putChannel puts m, as subscription s's channel job, into s's channel tube
// (unless the drop guard drops it); buf is the encoding buffer.
func (e *Engine) putChannel(j *connpool.Job, m *message.Message, s *subs.Subscription, r *runner, buf []byte) ([]byte, fanOut) {
	m.OriginJobID, m.SubscriptionID, m.RetryTimes, m.LogID = j.ID, s.ID, 0, 0
	buf = message.AppendChannelJob(buf[:0], m)
	if e.dropByGuard(j, s, r, buf) {
		return buf, fanDone
	}
	// connpool bounds every request with its OpTimeout: no context (and no
	// timer) per put on this path.
	_, err := e.deps.Pool.Put(context.Background(), j.Server, r.tube, buf, e.opts.Priority, 0, e.opts.TTR)
	if err == nil {
		e.metrics.fanout.Inc()
		return buf, fanDone
	}
	e.metrics.redistFail.Inc()
	if errors.Is(err, connpool.ErrJobTooBig) {
		// A line could never be put back either: the main job stays,
		// buried, for an operator who raises beanstalkd's -z.
		e.log.Error("channel job too big for beanstalkd (raise its -z max job size, then kick the main tube): main job buried",
			"sub", s.ID, "tube", r.tube, "job", j.ID, "bytes", len(buf), "err", err)
		return buf, fanTooBig
	}
	// The channel job exists only in the DATA log now; the replay tool puts
	// it back into the channel tube. If the line cannot be written, the
	// main job is kept: every subscription gets it again later (a
	// duplicate for those already served, never a loss).
	e.log.Error("put to channel failed", "sub", s.ID, "tube", r.tube, "job", j.ID, "err", err)
	if lerr := e.deps.Data.RedistFail(r.topic, s.ID, buf, err.Error()); lerr != nil {
		e.keep(j, "REDISTFAIL", lerr)
		return buf, fanKept
	}
	return buf, fanDone
}

// dropByGuard applies s's drop_threshold guard to its channel job (job):
// above the threshold it is dropped, or with DropLog written to the DATA
// log instead of its channel. It reports whether the job is not to be put.
func (e *Engine) dropByGuard(j *connpool.Job, s *subs.Subscription, r *runner, job []byte) bool {
	if s.DropThreshold <= 0 || s.DropAction == subs.DropKeep || !r.backlogAbove(s.DropThreshold) {
		return false
	}
	if s.DropAction != subs.DropLog {
		e.metrics.dropped.Inc()
		return true
	}
	// The DROP line is this subscription's only copy; when it cannot be
	// written the message goes to the channel after all.
	if err := e.deps.Data.Drop(r.topic, s.ID, job, "channel backlog above drop_threshold"); err != nil {
		e.log.Warn("drop line not written: message put into its channel instead", "sub", s.ID, "job", j.ID, "err", err)
		return false
	}
	e.metrics.dropped.Inc()
	return true
}

// settleMain ends a main job whose subscriptions all had their copy
// (matched: it had at least one): buried when a copy was too big,
// released when the set became empty as it was reserved, else deleted.
func (e *Engine) settleMain(j *connpool.Job, topic []byte, st *state, matched, tooBig bool) {
	if tooBig {
		e.metrics.tooBig.Inc()
		j.Bury(e.opts.Priority)
		return
	}
	if !matched && st.set.Len() == 0 && !e.opts.AllowEmptySet {
		// Reserved in the instant the set became empty (the gate ignores
		// the tube from now on): an empty set deletes nothing.
		j.Release(e.opts.Priority, time.Second)
		return
	}
	if !matched {
		e.metrics.unsub.inc(topic)
		if e.opts.LogUnsubscribed {
			if err := e.deps.Data.Drop(string(topic), 0, j.Body, "no subscription for this topic"); err != nil {
				e.keep(j, "DROP", err)
				return
			}
		}
	}
	e.metrics.redistributed.Inc()
	j.Delete()
}
