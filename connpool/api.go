// Package connpool is medispatcher's beanstalkd client: a fixed number of
// pipelined links per server carry the commands and reserves of any number
// of goroutines.
//
// Its number of connections never grows with the number of tubes or
// subscriptions: command links carry puts, deletes, kicks and stats of every
// caller, pipelined; a Consumer's reserve links watch any set of tubes and
// hand each reserved job to a handler. A reserved job can only be deleted,
// released, buried or touched by the connection that reserved it, so Job
// remembers its link and those operations travel back over it; one that
// waits for an answer on that link (a long poll, a non-blocking reserve)
// goes in the same write as the reserve the answer is followed by, so
// that a job costs the link one write, not two. Every
// request has a timeout: a dead or hung server never blocks callers of the
// other servers.
//
// It must never retry a put whose command reached the server (its outcome
// is unknown: a retry could duplicate the message), never carry a
// connection's `use`/`watch` state over to a reconnected one (puts would
// land in the wrong tube), and never send a job operation over any
// connection but the one that reserved the job.
//
// This file holds the package's public API (types, signatures and their
// semantics); the other files implement it.
package connpool

import (
	"errors"
	"log/slog"
	"sync/atomic"
	"time"
)

// Typed errors; callers use errors.Is.
var (
	ErrNotFound    = errors.New("beanstalkd: NOT_FOUND")
	ErrJobTooBig   = errors.New("beanstalkd: JOB_TOO_BIG")
	ErrBuried      = errors.New("beanstalkd: BURIED (server out of memory)")
	ErrDraining    = errors.New("beanstalkd: DRAINING")
	ErrTimeout     = errors.New("beanstalkd: request timed out")
	ErrUnavailable = errors.New("beanstalkd: server unavailable") // no healthy link (reconnecting)
	ErrClosed      = errors.New("connpool: closed")
	ErrLinkLost    = errors.New("connpool: reserving link lost (job returns to ready on the server)")
)

// ServerError is any other error answer of beanstalkd (OUT_OF_MEMORY,
// INTERNAL_ERROR, BAD_FORMAT, UNKNOWN_COMMAND, EXPECTED_CRLF, ...).
type ServerError struct {
	Op, Reply string
}

// Config of a Pool. Zero values take the documented defaults.
type Config struct {
	Addrs       []string      // beanstalkd servers, "host:port"; at least one
	CmdConns    int           // command links per server; default max(2, GOMAXPROCS)
	ListenConns int           // default reserve links per server for each Consumer; default 2
	OpTimeout   time.Duration // bound on every request's round trip; default 5 s
	DialTimeout time.Duration // default 2 s
	BackoffMin  time.Duration // reconnect backoff start; default 100 ms (doubles, jittered)
	BackoffMax  time.Duration // reconnect backoff cap; default 5 s
	Logger      *slog.Logger  // default slog.Default()
}

// PutResult says where a put landed.
type PutResult struct {
	Server int    // index into Config.Addrs
	ID     uint64 // job id on that server
}

// TubeStats is the part of stats-tube medispatcher uses.
type TubeStats struct {
	Name                                         string
	Urgent, Ready, Reserved, Delayed, Buried     int64
	TotalJobs, Using, Watching, Waiting, Deletes int64
	Pause, PauseTimeLeft                         int64
}

// JobStats is the part of stats-job medispatcher uses.
type JobStats struct {
	ID                 uint64
	Tube, State        string
	Pri                uint32
	Age, Delay, TTR    int64
	TimeLeft, Reserves int64
	Timeouts, Releases int64
	Buries, Kicks      int64
}

// LinkStats describes one link for metrics.
type LinkStats struct {
	Server     int
	Kind       string // "cmd" or the consumer's name
	Connected  bool
	InFlight   int           // requests written, answer not yet read
	Reconnects uint64        // successful reconnects since start
	RTT        time.Duration // moving average round trip of non-blocking requests
	Writes     uint64        // write syscalls since start (commands are coalesced into them)
}

// Handler receives reserved jobs. It is called from a link's reader
// goroutine and must not block: hand the job to a queue and return.
type Handler func(j *Job)

// ConsumerConfig tunes one Consumer. Zero values take the defaults.
type ConsumerConfig struct {
	Links int // reserve links per server; default Config.ListenConns
	Batch int // reserves pipelined per link while jobs flow; default 16
	// Shard makes each tube watched by one link per server (chosen by a
	// hash of its name) instead of all of them. beanstalkd's reserve costs
	// grow with the number of tubes a connection watches, so with hundreds
	// of tubes sharding cuts its CPU per job; a single tube is then served
	// by one link per server.
	Shard    bool
	IdleWait time.Duration // reserve-with-timeout when the watched tubes look empty; default 1 s (whole seconds)
	// OpWakeDelay is how long a job operation (delete, release, bury,
	// touch) may wait behind a long poll before the poll is ended for it
	// (a wake job: one put, reserve and delete on the server). A job
	// reserved meanwhile ends the poll anyway, so under steady traffic no
	// wake is needed: the wake comes OpWakeDelay after the oldest
	// operation waiting behind the current poll. Such an operation is not
	// written until the poll is answered (the server would hold it until
	// then): it goes in one write with the reserve sent then. The cost is
	// that long more of the duplicate window of a delete. Watches and
	// ignores end the poll at once. Default 10 ms; negative: at once.
	OpWakeDelay time.Duration
	TTR         time.Duration // TTR the jobs were put with; jobs held longer than TTR/2 are touched; default 60 s
	// OnError reports failures of asynchronous job operations (Delete,
	// Release, Bury, Touch); default: logged.
	OnError func(j *Job, op string, err error)
}

// Job is a reserved job. Exactly one of Delete, Release or Bury ends it;
// until then the consumer keeps it alive (touch) past TTR/2.
type Job struct {
	ID     uint64
	Server int
	Body   []byte // owned by the receiver
	link   *link

	gen     uint64      // link connection generation that reserved it
	touched int64       // last reserve or touch, ns since Pool.base; guarded by link.mu
	ended   atomic.Bool // Delete, Release or Bury was called
}
