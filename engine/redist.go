package engine

import (
	"context"
	"errors"
	"sync"
	"sync/atomic"
	"time"

	"medispatcher/connpool"
	"medispatcher/engine/message"
	"medispatcher/engine/subs"
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
		// deleted (the log line is its copy).
		_ = e.deps.Data.DecodeErr(j.Body, err.Error())
		e.metrics.decodeErr.Inc()
		j.Delete()
		return buf
	}
	st := e.state.Load()
	for _, s := range st.set.ByTopic(m.Topic) {
		r := st.runners[s.ID]
		if r == nil {
			continue
		}
		if e.opts.RunAtBench && !s.ReceiveBench {
			continue
		}
		m.OriginJobID, m.SubscriptionID, m.RetryTimes, m.LogID = j.ID, s.ID, 0, 0
		buf = message.AppendChannelJob(buf[:0], m)
		if s.DropThreshold > 0 && s.DropAction != subs.DropKeep && r.backlog(j.Server) > int64(s.DropThreshold) {
			e.metrics.dropped.Inc()
			if s.DropAction == subs.DropLog {
				_ = e.deps.Data.Drop(r.topic, s.ID, buf, "channel backlog above drop_threshold")
			}
			continue
		}
		// connpool bounds every request with its OpTimeout: no context
		// (and no timer) per put on this path.
		_, err := e.deps.Pool.Put(context.Background(), j.Server, r.tube, buf, e.opts.Priority, 0, e.opts.TTR)
		if err != nil {
			// The channel job exists only in the DATA log now; the replay
			// tool puts it back (spec section 4).
			reason := err.Error()
			if errors.Is(err, connpool.ErrJobTooBig) {
				reason = "job too big for the channel tube: " + reason
			}
			_ = e.deps.Data.RedistFail(r.topic, s.ID, buf, reason)
			e.metrics.redistFail.Inc()
			e.log.Error("put to channel failed", "sub", s.ID, "tube", r.tube, "job", j.ID, "err", err)
			continue
		}
		e.metrics.fanout.Inc()
	}
	e.metrics.redistributed.Inc()
	j.Delete()
	return buf
}

// backlogInterval is how old a sampled channel backlog may be.
const backlogInterval = time.Second

// backlogSampler keeps the backlog (ready + reserved jobs: reserved ones
// wait in a lane or are being pushed) of a subscription's channel tube for
// the drop-threshold guard, refreshed in the background at most once per
// backlogInterval and only for subscriptions that set a threshold.
type backlogSampler struct {
	ready   atomic.Int64
	updated atomic.Int64 // unix nanoseconds
	busy    sync.Mutex
}

// backlog returns the last sampled backlog of the channel tube over all
// servers, starting a refresh when the sample is stale. It never blocks.
func (r *runner) backlog(server int) int64 {
	b := &r.sampler
	if time.Since(time.Unix(0, b.updated.Load())) > backlogInterval && b.busy.TryLock() {
		go func() {
			defer b.busy.Unlock()
			var total int64
			ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
			defer cancel()
			for i := range r.e.deps.Pool.Servers() {
				st, err := r.e.deps.Pool.StatsTube(ctx, i, r.tube)
				if err == nil {
					total += st.Ready + st.Reserved
				}
			}
			b.ready.Store(total)
			b.updated.Store(time.Now().UnixNano())
		}()
	}
	return b.ready.Load()
}
