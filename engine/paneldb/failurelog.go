package paneldb

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	"github.com/VictoriaMetrics/metrics"

	"medispatcher/engine/dispatch/failures"
)

// FirstFailureWait bounds how long a push worker waits for the row of a
// message's first failure: only the worker of the failing subscription
// waits, and only this long.
const FirstFailureWait = 500 * time.Millisecond

// firstFailurePause: after a first-failure INSERT failed or did not answer
// in time, the next ones are queued at once for this long instead of being
// waited for, so that a database that is down or slow costs the push
// workers one wait, not one per failed message.
const firstFailurePause = 5 * time.Second

// Defaults of FailureLogConfig.
const (
	DefaultFailureQueue   = 4096
	DefaultFailureBatch   = 256
	DefaultFailureTimeout = 5 * time.Second
	DefaultFailureLinger  = 200 * time.Millisecond
)

// FailureLogConfig configures a FailureLog; zero fields take the defaults.
type FailureLogConfig struct {
	Queue     int           // rows buffered before falling back; DefaultFailureQueue
	Batch     int           // rows per transaction; DefaultFailureBatch
	Timeout   time.Duration // one transaction; DefaultFailureTimeout
	FirstWait time.Duration // the first-failure INSERT; FirstFailureWait
	// ReserveIDs is how many log_ids are reserved at a time, so that a
	// first failure need not wait for its INSERT (see reserve);
	// DefaultReserveIDs, a negative value reserves none.
	ReserveIDs int
	// Linger is how long the writer gathers rows in a transaction before
	// it writes and commits them; DefaultFailureLinger. Nobody waits for
	// the commit (a first failure's push worker waits at most for an
	// INSERT, and only without a reserved id), so a longer wait buys fewer
	// statements and commits, in larger bursts.
	Linger time.Duration
	// Addr is the daemon's address in the failure messages; "" means
	// LocalIPv4() (which may itself be "", as 2.x wrote it then).
	Addr string
	// Fallback receives every row that could not be queued or written,
	// with why (the daemon writes it as a FAILROW DATA line).
	Fallback func(row *FailureRow, err error)
	Logger   *slog.Logger
}

// FailureLog keeps failure records in broadcast_failure_log the way 2.x
// meant to (failures.Rows):
//
//   - a message's first failed push INSERTs its row (First) under a
//     log_id reserved ahead (failurelog_ids.go), which the retry job
//     carries as LogId; the push worker does not wait, the INSERT is
//     queued. Without a spare id (the first failures after a quiet time,
//     or the database refusing reservations) the INSERT is waited for by
//     the push worker within FirstWait, for the same reason, but only for
//     the statement, not for its commit: the writer runs it in its open
//     transaction, answers with the id, and commits Linger later with
//     whatever else ran by then (group commit). Should that commit fail,
//     the row is written again under the same log_id (InnoDB never hands
//     out the id of a rolled-back INSERT again), so the retry job's LogId
//     still names it;
//   - every later record UPDATEs that row (Add): a failed retry to be
//     retried again sets last_failure_message, last_target, final_status
//     0, alive 1, retry_times n, last_retry_time now; a given-up one the
//     same with alive 0; a success on a retry final_status 1, alive 0,
//     retry_times n, last_retry_time now.
//
// When the first INSERT does not answer in time or fails, the record keeps
// its daemon-made id (failures.DaemonMade) and the INSERT is queued with
// the UPDATEs: that row is written later, only if no row of the same
// subscription and jobid exists yet (the timed-out INSERT may have been
// written after all), and the UPDATEs of a record with a daemon-made id
// find their row by (subscription_id, job_id) instead of log_id.
//
// The queued rows go to the same writer goroutine, which gathers them for
// Linger (or up to Batch rows) and runs them as few statements
// (failurelog_batch.go) in its open transaction before the commit. A row
// that cannot be queued (queue full) or written (database down, a
// statement refused) goes to Fallback, never dropped silently; a daemon
// killed (-9) loses the open transaction, up to Linger of rows, as it
// loses the queued ones (the records themselves are in the Redis stream
// too). message_class_id is the topic's class_id in message_classes (0
// when the topic has no class row): the many-row INSERT takes it from the
// writer's cache of the classes, read again every 10 s (classes), the
// statements of one row read it themselves. URLs in last_target and the
// failure messages have their userinfo masked, as in every record
// (failures.Store masks them).
// The *sql.DB is the caller's (the daemon shares one pool with the
// subscription source); Close leaves it open.
type FailureLog struct {
	db     *sql.DB
	cfg    FailureLogConfig
	prefix string // "medispatcher addr: <IP> "
	queue  chan *FailureRow
	firsts chan *firstReq // First's INSERTs, taken by the writer first
	done   chan struct{}
	once   sync.Once
	// mu guards sends on queue against Close closing it: enqueue holds it
	// shared, Close exclusively.
	mu      sync.RWMutex
	closed  bool
	closing atomic.Bool  // Close ran out of time: the rest goes to Fallback
	pause   atomic.Int64 // unix ns until which First does not wait
	m       failureLogMetrics
	// ids are the spare reserved log_ids, want asks the reserver for
	// more (both nil when ReserveIDs < 0); idStep is the reserver's
	// (0 until it read the server's settings).
	ids          chan uint64
	want         chan struct{}
	reserverDone chan struct{}
	idStep       uint64
	classes      classes // the writer's
}

// failureLogMetrics count the rows written, the transactions that wrote
// them and the writes that failed, and time the push workers' waits for
// a first failure's log_id.
type failureLogMetrics struct {
	inserted, updated, commits, errors, reserved *metrics.Counter
	firstWait                                    *metrics.Histogram
}

// NewFailureLog starts the writer on db.
func NewFailureLog(db *sql.DB, cfg FailureLogConfig) *FailureLog {
	f := newFailureLog(db, cfg)
	go f.loop()
	if f.ids != nil {
		go f.reserver()
	} else {
		close(f.reserverDone)
	}
	return f
}

// newFailureLog is a FailureLog whose writer is not started yet.
func newFailureLog(db *sql.DB, cfg FailureLogConfig) *FailureLog {
	if cfg.Queue <= 0 {
		cfg.Queue = DefaultFailureQueue
	}
	if cfg.Batch <= 0 {
		cfg.Batch = DefaultFailureBatch
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = DefaultFailureTimeout
	}
	if cfg.FirstWait <= 0 {
		cfg.FirstWait = FirstFailureWait
	}
	if cfg.ReserveIDs == 0 {
		cfg.ReserveIDs = DefaultReserveIDs
	}
	if cfg.Linger <= 0 {
		cfg.Linger = DefaultFailureLinger
	}
	if cfg.Addr == "" {
		cfg.Addr = LocalIPv4()
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Fallback == nil {
		cfg.Fallback = func(row *FailureRow, err error) {
			cfg.Logger.Error("failure row lost", "log_id", row.LogID, "sub", row.SubID, "jobid", row.JobID, "err", err)
		}
	}
	f := &FailureLog{db: db, cfg: cfg, prefix: "medispatcher addr: " + cfg.Addr + " ",
		queue: make(chan *FailureRow, cfg.Queue), firsts: make(chan *firstReq), done: make(chan struct{}),
		reserverDone: make(chan struct{}),
		m: failureLogMetrics{
			inserted:  metrics.GetOrCreateCounter(`medispatcher_paneldb_failure_rows_total{op="insert"}`),
			updated:   metrics.GetOrCreateCounter(`medispatcher_paneldb_failure_rows_total{op="update"}`),
			commits:   metrics.GetOrCreateCounter(`medispatcher_paneldb_failure_commits_total`),
			errors:    metrics.GetOrCreateCounter(`medispatcher_paneldb_failure_errors_total`),
			reserved:  metrics.GetOrCreateCounter(`medispatcher_paneldb_reserved_log_ids_total`),
			firstWait: metrics.GetOrCreateHistogram(`medispatcher_paneldb_first_failure_wait_seconds`),
		}}
	if cfg.ReserveIDs > 0 && db != nil {
		f.ids, f.want = make(chan uint64, cfg.ReserveIDs), make(chan struct{}, 1)
	}
	return f
}

// First writes the row of a message's first failed push and returns its
// log_id: a reserved one at once (the row's INSERT is queued), else the
// one the INSERT got in the writer's open transaction, or 0 when the
// database did not answer within FirstWait or failed (the row is then
// queued under r.LogID). The commit follows with the batch.
func (f *FailureLog) First(r *failures.Record) uint64 {
	start := time.Now()
	row := f.row(r, OpInsert)
	if id, ok := f.takeID(); ok {
		row.LogID, row.Reserved = id, true
		f.enqueue(row)
		f.m.firstWait.UpdateDuration(start)
		return id
	}
	if start.UnixNano() < f.pause.Load() {
		f.enqueue(row)
		return 0
	}
	defer f.m.firstWait.UpdateDuration(start)
	req := &firstReq{row: row, deadline: start.Add(f.cfg.FirstWait), reply: make(chan firstReply, 1)}
	timer := time.NewTimer(f.cfg.FirstWait)
	defer timer.Stop()
	err := context.DeadlineExceeded
	select {
	case f.firsts <- req:
		select {
		case rep := <-req.reply:
			if rep.err == nil {
				return rep.id
			}
			err = rep.err
		case <-timer.C:
		}
	case <-timer.C:
	}
	f.m.errors.Inc()
	f.pause.Store(time.Now().Add(firstFailurePause).UnixNano())
	f.cfg.Logger.Warn("failure row not written in time: queued", "sub", row.SubID, "jobid", row.JobID, "err", err)
	f.enqueue(row)
	return 0
}

// Add queues the UPDATE of a later record's row; it never blocks.
func (f *FailureLog) Add(r *failures.Record) { f.enqueue(f.row(r, OpUpdate)) }

func (f *FailureLog) enqueue(row *FailureRow) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	if f.closed {
		f.fail(row, errors.New("failure log closed before the row was queued"))
		return
	}
	select {
	case f.queue <- row:
	default:
		f.fail(row, fmt.Errorf("failure-row queue full (%d)", cap(f.queue)))
	}
}

// fail hands a row that was not written to the fallback.
func (f *FailureLog) fail(row *FailureRow, err error) {
	f.m.errors.Inc()
	f.cfg.Fallback(row, err)
}

func (f *FailureLog) count(row *FailureRow) {
	if row.Op == OpInsert {
		f.m.inserted.Inc()
	} else {
		f.m.updated.Inc()
	}
}

// Close writes what is queued (bounded by ctx) and stops the writer; rows
// still queued when ctx ends go to the fallback. The database stays open.
// Close is idempotent.
func (f *FailureLog) Close(ctx context.Context) {
	f.once.Do(func() {
		f.mu.Lock()
		f.closed = true
		close(f.queue)
		f.mu.Unlock()
		select {
		case <-f.done:
		case <-ctx.Done():
			f.closing.Store(true) // the writer hands the rest to the fallback
			<-f.done
		}
		// The reserver stops with the writer; one still reserving when ctx
		// ends finishes on its own (its statement has a timeout).
		select {
		case <-f.reserverDone:
		case <-ctx.Done():
		}
	})
}
