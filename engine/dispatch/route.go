package dispatch

import (
	"medispatcher/internal/wire"

	"context"
	"time"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/message"
)

// onChannelJob routes a reserved channel or retry job to its subscription's
// lane. It runs on a link's reader goroutine and never blocks: jobs of the
// old daemon, which do not carry their subscription id, are routed by their
// tube name by a bounded pool of legacy routers (when it is full, the job
// goes back to its tube for a later reserve).
func (e *Engine) onChannelJob(j *connpool.Job) {
	var m message.Message
	if err := message.Decode(j.Body, &m); err != nil {
		// A channel job is our own encoding (or the old daemon's): keep it
		// buried for an operator, with the reason in the DATA log.
		_ = e.deps.Data.DecodeErrKept(j.Body, err.Error())
		e.metrics.decodeErr.Inc()
		j.Bury(e.opts.Priority)
		return
	}
	if m.SubscriptionID == 0 {
		select {
		case e.legacyQ <- j:
		default:
			j.Release(e.opts.Priority, time.Second)
		}
		return
	}
	e.route(j, m.SubscriptionID, m.LogID != 0)
}

func (e *Engine) route(j *connpool.Job, sid int64, retry bool) {
	r := e.state.Load().runners[sid]
	if r == nil {
		// Cancelled subscription: its tubes are ignored already; a reserve
		// in flight brought this one.
		j.Release(e.opts.Priority, 0)
		return
	}
	if retry {
		r.retry.enqueue(j)
	} else {
		r.main.enqueue(j)
	}
}

// legacyRouter routes old-format jobs until the graceful stop.
func (e *Engine) legacyRouter() {
	for {
		select {
		case <-e.quit:
			return
		case j := <-e.legacyQ:
			e.routeLegacy(j)
		}
	}
}

// routeLegacy finds the tube of an old-format job with stats-job.
func (e *Engine) routeLegacy(j *connpool.Job) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := e.deps.Pool.StatsJob(ctx, j.Server, j.ID)
	if err != nil {
		e.log.Warn("stats-job of an old-format channel job failed: released", "job", j.ID, "err", err)
		j.Release(e.opts.Priority, time.Second)
		return
	}
	sid, retry, ok := wire.ParseTube(st.Tube, e.opts.ChannelPrefix)
	if !ok {
		e.log.Error("job in a tube that is no channel tube: buried", "job", j.ID, "tube", st.Tube)
		j.Bury(e.opts.Priority)
		return
	}
	e.route(j, sid, retry)
}
