package dispatch

import (
	"sync"
	"time"

	"medispatcher/connpool"
	"medispatcher/engine/dispatch/message"
)

// channelJob is a reserved channel or retry job with its message, decoded
// once on arrival (onChannelJob) and handed on, through the legacy routers
// and the lane, to the worker that pushes it. The message's byte slices
// alias the job's body. Values are recycled through channelJobs, so the
// path allocates nothing per job.
type channelJob struct {
	job *connpool.Job
	msg message.Message
}

var channelJobs = sync.Pool{New: func() any { return new(channelJob) }}

func newChannelJob(j *connpool.Job) *channelJob {
	c := channelJobs.Get().(*channelJob)
	c.job = j
	return c
}

// done recycles c once its job is settled (deleted, released or buried,
// or handed to no one); c must not be used afterwards.
func (c *channelJob) done() {
	*c = channelJob{} // no reference into the body stays in the pool
	channelJobs.Put(c)
}

// Release gives the job back to its tube and recycles c.
func (c *channelJob) Release(pri uint32, delay time.Duration) {
	c.job.Release(pri, delay)
	c.done()
}
