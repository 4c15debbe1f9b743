package dispatch

import (
	"sync"
	"time"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/message"
)

// channelJob is one subscription's copy of a message on its way to a
// worker. It is either a reserved channel or retry job (job set), decoded
// once on arrival (onChannelJob) and handed on through the legacy routers
// and the lane, or a direct copy of a main-tube job (fan set) that the
// redistributor handed straight to the lane (cut-through). The message's
// byte slices alias the job's body (the main job's for a direct copy).
// Values are recycled through channelJobs, so the path allocates nothing
// per job.
//
// Whoever holds a channelJob settles it exactly once: Delete (pushed or
// moved on), Release (back to its tube; a direct copy is spilled into its
// channel tube) or Bury, then it is recycled.
type channelJob struct {
	job *connpool.Job
	fan *fan    // the main job a direct copy belongs to
	r   *runner // a direct copy's subscription
	msg message.Message
	buf []byte // a direct copy's channel-job encoding, made on demand; kept across reuse
	// handed is when the copy was handed towards its push worker (unix
	// ns): reserved from its tube, or handed over directly.
	handed int64
}

var channelJobs = sync.Pool{New: func() any { return new(channelJob) }}

func newChannelJob(j *connpool.Job) *channelJob {
	c := channelJobs.Get().(*channelJob)
	c.job = j
	return c
}

// done recycles c once it is settled (or handed to no one); c must not be
// used afterwards.
func (c *channelJob) done() {
	buf := c.buf[:0]
	*c = channelJob{buf: buf} // no reference into a body stays in the pool
	channelJobs.Put(c)
}

// direct reports whether c is a direct copy of a main job.
func (c *channelJob) direct() bool { return c.fan != nil }

// ID is the beanstalkd job id, for logs: the main job's for a direct copy.
func (c *channelJob) ID() uint64 {
	if c.fan != nil {
		return c.fan.job.ID
	}
	return c.job.ID
}

// Server is the index of the server the job came from.
func (c *channelJob) Server() int {
	if c.fan != nil {
		return c.fan.job.Server
	}
	return c.job.Server
}

// Body is the channel job's body: the reserved job's, or for a direct copy
// the channel job it would have been (encoded once, on demand, with the
// fields it was handed over with).
func (c *channelJob) Body() []byte {
	if c.fan == nil {
		return c.job.Body
	}
	if len(c.buf) == 0 {
		m := c.msg
		m.RetryTimes, m.LogID = 0, 0
		c.buf = message.AppendChannelJob(c.buf[:0], &m)
	}
	return c.buf
}

// Delete settles a pushed (or moved-on) job: deleted from its tube, or for
// a direct copy counted as settled on its main job. c is not recycled.
func (c *channelJob) Delete() {
	if c.fan != nil {
		c.fan.settle()
		return
	}
	c.job.Delete()
}

// Bury keeps a job that can never be pushed for an operator. A direct copy
// is spilled instead: from its channel tube it comes back and is buried
// there, where operators look for it. c is not recycled.
func (c *channelJob) Bury(pri uint32) {
	if c.fan != nil {
		c.spill(0)
		return
	}
	c.job.Bury(pri)
}

// giveBack returns the job to its tube after delay; a direct copy is
// spilled into its channel tube. c is not recycled.
func (c *channelJob) giveBack(pri uint32, delay time.Duration) {
	if c.fan != nil {
		c.spill(delay)
		return
	}
	c.job.Release(pri, delay)
}

// Release gives the job back (giveBack) and recycles c.
func (c *channelJob) Release(pri uint32, delay time.Duration) {
	c.giveBack(pri, delay)
	c.done()
}
