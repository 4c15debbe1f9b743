package dispatch

import (
	"context"
	"time"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/message"
	"medispatcher/engine/dispatch/stage"
	"medispatcher/internal/wire"
)

// onChannelJob routes a reserved channel or retry job to its subscription's
// lane. It runs on a link's reader goroutine and never blocks: jobs of the
// old daemon, which do not carry their subscription id, are routed by their
// tube name by a bounded pool of legacy routers (when it is full, the job
// goes back to its tube for a later reserve). The message decoded here is
// the one the worker pushes.
func (e *Engine) onChannelJob(j *connpool.Job) {
	c := newChannelJob(j)
	if err := message.Decode(j.Body, &c.msg); err != nil {
		c.done()
		// A channel job is our own encoding (or the old daemon's): keep it
		// buried for an operator, with the reason in the DATA log.
		_ = e.deps.Data.DecodeErrKept(j.Body, err.Error())
		e.metrics.decodeErr.Inc()
		j.Bury(e.opts.Priority)
		return
	}
	now := time.Now()
	c.handed = now.UnixNano()
	if c.msg.LogID == 0 { // a channel job; a retry job's wait is its delay
		e.stages.Since(stage.ChannelWait, c.msg.Time, now)
	}
	if c.msg.SubscriptionID == 0 {
		select {
		case e.legacyQ <- c:
		default:
			c.Release(e.opts.Priority, time.Second)
		}
		return
	}
	e.route(c, c.msg.SubscriptionID, c.msg.LogID != 0)
}

func (e *Engine) route(c *channelJob, sid int64, retry bool) {
	r := e.state.Load().runners[sid]
	if r == nil {
		// Cancelled subscription: its tubes are ignored already; a reserve
		// in flight brought this one.
		c.Release(e.opts.Priority, 0)
		return
	}
	if retry {
		r.retry.enqueue(c)
	} else {
		r.main.enqueue(c)
	}
}

// legacyRouter routes old-format jobs until the graceful stop.
func (e *Engine) legacyRouter() {
	for {
		select {
		case <-e.quit:
			return
		case c := <-e.legacyQ:
			e.routeLegacy(c)
		}
	}
}

// routeLegacy finds the tube of an old-format job with stats-job.
func (e *Engine) routeLegacy(c *channelJob) {
	j := c.job
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	st, err := e.deps.Pool.StatsJob(ctx, j.Server, j.ID)
	if err != nil {
		e.log.Warn("stats-job of an old-format channel job failed: released", "job", j.ID, "err", err)
		c.Release(e.opts.Priority, time.Second)
		return
	}
	sid, retry, ok := wire.ParseTube(st.Tube, e.opts.ChannelPrefix)
	if !ok {
		e.log.Error("job in a tube that is no channel tube: buried", "job", j.ID, "tube", st.Tube)
		c.done()
		j.Bury(e.opts.Priority)
		return
	}
	e.route(c, sid, retry)
}
