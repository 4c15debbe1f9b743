package dispatch

import (
	"errors"
	"time"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/dispatch/stage"
	"medispatcher/engine/dispatch/subs"
)

// mainJob is a reserved main-tube job waiting for a redistributor, with
// the time it was reserved (unix ns) for the stage timings.
type mainJob struct {
	j  *connpool.Job
	at int64
}

// Release gives the job back to the main tube.
func (m mainJob) Release(pri uint32, delay time.Duration) { m.j.Release(pri, delay) }

// onMainJob receives a main-tube job on a link's reader goroutine.
func (e *Engine) onMainJob(j *connpool.Job) {
	if e.stopping.Load() {
		j.Release(e.opts.Priority, 0)
		return
	}
	select {
	case e.redistQ <- mainJob{j: j, at: time.Now().UnixNano()}:
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
		fs  filterScratch
	)
	for {
		var mj mainJob
		select {
		case <-e.quit:
			return
		case mj = <-e.redistQ:
		case <-e.beat.tick.C:
			e.beat.stamp()
			continue
		}
		e.mainGate.observe(len(e.redistQ))
		buf = e.redistribute(mj, &m, buf, &fs)
	}
}

// redistribute gives every subscription of the main job's topic its copy,
// unless its content filter leaves it out (filteredOut): handed to its
// lane directly (CutThrough, see takeDirect) or put into its channel tube;
// then it settles the main job, at once or, with direct copies, once the
// last of them is settled (see fan). A message every filter left out is
// settled as delivered. m, buf and fs are the worker's reused message,
// encoding buffer (returned, maybe grown) and filter scratch.
func (e *Engine) redistribute(mj mainJob, m *message.Message, buf []byte, fs *filterScratch) []byte {
	j := mj.j
	if err := message.Decode(j.Body, m); err != nil {
		e.mainDecodeFailed(j, err)
		return buf
	}
	now := time.Now()
	e.stages.Since(stage.MainWait, m.Time, time.Unix(0, mj.at))
	e.stages.Observe(stage.RedistQueue, time.Duration(now.UnixNano()-mj.at))
	st := e.state.Load()
	fs.reset(m)
	var f *fan
	matched, out := false, fanDone
	for _, s := range st.set.ByTopic(m.Topic) {
		r := st.runners[s.ID]
		if r == nil {
			continue
		}
		if e.opts.RunAtBench && !s.ReceiveBench {
			continue
		}
		matched = true
		if e.filteredOut(fs, s, r, j.ID) {
			continue
		}
		if e.opts.CutThrough && !r.guardMayDrop(s) && r.takeDirect() {
			if f == nil {
				f = e.newFan(j)
			}
			e.handDirect(f, r, m, now)
			continue
		}
		var o fanOut
		buf, o = e.putChannel(j, m, s, r, buf)
		out = max(out, o)
		if o == fanKept {
			break // the main job comes back for every subscription
		}
	}
	if f != nil {
		f.mark(out)
		f.settle()
		return buf
	}
	e.settleMain(j, m.Topic, st, matched, out)
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

// fanOut is the outcome of one subscription's copy of a main job; a
// greater value is worse.
type fanOut uint8

const (
	fanDone   fanOut = iota // handed over, put, dropped, or kept in the DATA log (REDISTFAIL)
	fanTooBig               // too big for beanstalkd: the main job must be buried
	fanKept                 // its only copy could not be written: the main job must be given back
)

// putChannel puts m, as subscription s's channel job, into s's channel tube
// (unless the drop guard drops it); buf is the encoding buffer.
func (e *Engine) putChannel(j *connpool.Job, m *message.Message, s *subs.Subscription, r *runner, buf []byte) ([]byte, fanOut) {
	m.OriginJobID, m.SubscriptionID, m.RetryTimes, m.LogID = j.ID, s.ID, 0, 0
	buf = message.AppendChannelJob(buf[:0], m)
	if e.dropByGuard(j, s, r, buf) {
		return buf, fanDone
	}
	return buf, e.putCopy(j, r, buf, 0)
}

// copyNotPut handles a copy of main job j that could not be put into r's
// channel tube (err).
func (e *Engine) copyNotPut(j *connpool.Job, r *runner, job []byte, err error) fanOut {
	e.metrics.redistFail.Inc()
	if errors.Is(err, connpool.ErrJobTooBig) {
		// A line could never be put back either: the main job stays,
		// buried, for an operator who raises beanstalkd's -z.
		e.log.Error("channel job too big for beanstalkd (raise its -z max job size, then kick the main tube): main job buried",
			"sub", r.id, "tube", r.tube, "job", j.ID, "bytes", len(job), "err", err)
		return fanTooBig
	}
	// The channel job exists only in the DATA log now; the replay tool puts
	// it back into the channel tube. If the line cannot be written, the
	// main job is kept: every subscription gets it again later (a
	// duplicate for those already served, never a loss).
	e.log.Error("put to channel failed", "sub", r.id, "tube", r.tube, "job", j.ID, "err", err)
	if lerr := e.deps.Data.RedistFail(r.topic, r.id, job, err.Error()); lerr != nil {
		e.noteKept(j, "REDISTFAIL", lerr)
		return fanKept
	}
	return fanDone
}

// guardMayDrop reports whether s's drop_threshold guard may drop its next
// copy (such a copy is never handed over directly).
func (r *runner) guardMayDrop(s *subs.Subscription) bool {
	return s.DropThreshold > 0 && s.DropAction != subs.DropKeep && r.backlogAbove(s.DropThreshold)
}

// dropByGuard applies s's drop_threshold guard to its channel job (job):
// above the threshold it is dropped, or with DropLog written to the DATA
// log instead of its channel. It reports whether the job is not to be put.
func (e *Engine) dropByGuard(j *connpool.Job, s *subs.Subscription, r *runner, job []byte) bool {
	if !r.guardMayDrop(s) {
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
// (matched: it had at least one; out: the worst outcome): given back when
// a copy's only-copy line could not be written, buried when a copy was
// too big, released when the set became empty as it was reserved, else
// deleted.
func (e *Engine) settleMain(j *connpool.Job, topic []byte, st *state, matched bool, out fanOut) {
	switch out {
	case fanKept:
		j.Release(e.opts.Priority, e.opts.KeepDelay)
		return
	case fanTooBig:
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
