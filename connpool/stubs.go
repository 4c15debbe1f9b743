package connpool

// Placeholder bodies of the agreed API; replaced by the implementation.

import (
	"context"
	"time"
)

type link struct{}

// Pool is a set of pipelined links to every server in Config.Addrs.
type Pool struct{}

// Consumer reserves from a changing set of tubes on every server.
type Consumer struct{}

func (e *ServerError) Error() string { return "beanstalkd: " + e.Op + ": " + e.Reply }

// New validates cfg and starts the links. A server that is down is not an
// error: its links keep reconnecting in the background.
func New(ctx context.Context, cfg Config) (*Pool, error) { panic("unimplemented") }

// Close stops every link; pending requests fail with ErrClosed.
func (p *Pool) Close() error { panic("unimplemented") }

// Servers returns Config.Addrs.
func (p *Pool) Servers() []string { panic("unimplemented") }

// Healthy reports whether server has at least one connected command link.
func (p *Pool) Healthy(server int) bool { panic("unimplemented") }

// Stats returns one entry per link, consumers' links included.
func (p *Pool) Stats() []LinkStats { panic("unimplemented") }

// Put puts body into tube. prefer >= 0 tries that server first and falls
// back to other healthy servers when it is unavailable; prefer < 0 spreads
// puts over healthy servers. A put that failed on a connection error is
// retried once on another server only when it is certain the first did
// not take it (the request was never written).
func (p *Pool) Put(ctx context.Context, prefer int, tube string, body []byte, pri uint32, delay, ttr time.Duration) (PutResult, error) {
	panic("unimplemented")
}

// Delete deletes a job that is not reserved (ready, delayed, buried).
func (p *Pool) Delete(ctx context.Context, server int, id uint64) error { panic("unimplemented") }

// KickJob kicks one buried or delayed job.
func (p *Pool) KickJob(ctx context.Context, server int, id uint64) error { panic("unimplemented") }

// Kick kicks up to bound buried (or, if none, delayed) jobs of tube.
func (p *Pool) Kick(ctx context.Context, server int, tube string, bound int) (int, error) {
	panic("unimplemented")
}

// StatsTube returns stats-tube of tube; ErrNotFound when the tube does not exist.
func (p *Pool) StatsTube(ctx context.Context, server int, tube string) (TubeStats, error) {
	panic("unimplemented")
}

// StatsJob returns stats-job of a job.
func (p *Pool) StatsJob(ctx context.Context, server int, id uint64) (JobStats, error) {
	panic("unimplemented")
}

// ListTubes returns list-tubes of server.
func (p *Pool) ListTubes(ctx context.Context, server int) ([]string, error) { panic("unimplemented") }

// Peek returns the next job of tube in state "ready", "delayed" or "buried".
func (p *Pool) Peek(ctx context.Context, server int, tube, state string) (id uint64, body []byte, err error) {
	panic("unimplemented")
}

// NewConsumer starts cfg.Links reserve links per server. It watches no
// tube until Watch is called.
func (p *Pool) NewConsumer(name string, cfg ConsumerConfig, h Handler) *Consumer {
	panic("unimplemented")
}

// Watch makes every link of the consumer reserve from tube too
// (idempotent; survives reconnects).
func (c *Consumer) Watch(tube string) { panic("unimplemented") }

// Ignore stops reserving from tube (idempotent). Reserves already sent may
// still deliver a few of its jobs.
func (c *Consumer) Ignore(tube string) { panic("unimplemented") }

// Close stops reserving, lets the holders of handed-out jobs Delete,
// Release or Bury them until ctx is done, then closes the links (the
// server returns still-reserved jobs to ready).
func (c *Consumer) Close(ctx context.Context) error { panic("unimplemented") }

// Delete deletes the job through the link that reserved it; asynchronous,
// failures go to ConsumerConfig.OnError.
func (j *Job) Delete() { panic("unimplemented") }

// Release puts the job back to ready (or delayed) through its link.
func (j *Job) Release(pri uint32, delay time.Duration) { panic("unimplemented") }

// Bury buries the job through its link.
func (j *Job) Bury(pri uint32) { panic("unimplemented") }

// Touch renews the job's TTR through its link.
func (j *Job) Touch() { panic("unimplemented") }
