package failures

import (
	"context"
	"time"

	"medispatcher/internal/redact"
)

// Rows is a second home of the records, written besides the Redis stream:
// the 2.x database's failure table, which the control panel shows (package
// paneldb). A Rows copies what it needs of a record before returning and
// never keeps the *Record.
type Rows interface {
	// First writes the row of a message's first failed push, waiting for
	// the database at most a short bound of its own, and returns the id
	// the database gave the row; 0 when it could not (the row is then
	// queued to be written later, under the record's own id).
	First(r *Record) uint64
	// Add queues a later record of a message (an update of its row); it
	// never blocks.
	Add(r *Record)
	// Close writes what is queued (bounded by ctx) and stops.
	Close(ctx context.Context)
}

// daemonMadeFloor: every id IDs makes is at least 1<<62 (its top 41 bits
// are the milliseconds since the Unix epoch, 1<<40 of them passed in
// 2004); a database's AUTO_INCREMENT id never gets there.
const daemonMadeFloor = 1 << 62

// DaemonMade reports whether id was made by IDs rather than given by the
// database's failure table: a row of such a record is found by its
// subscription and jobid instead of its log_id.
func DaemonMade(id uint64) bool { return id >= daemonMadeFloor }

// prepare stamps and masks a record before it leaves the push worker: the
// record's URL and Error lose their userinfo (redact.URL), for Redis, the
// rows and the fallbacks alike.
func prepare(r *Record) {
	if r.Time.IsZero() {
		r.Time = time.Now()
	}
	r.URL, r.Error, r.PanelError = redact.URL(r.URL), redact.URL(r.Error), redact.URL(r.PanelError)
}

// First keeps the record of a message's first failed push and returns the
// id it is kept under, the one its retry job carries as LogId: the id the
// Rows' database gave its row when it answered in time, r.LogID
// otherwise. The push worker waits for that answer (bounded by the Rows);
// without Rows, First is Add.
func (s *Store) First(r *Record) uint64 {
	prepare(r)
	if s.cfg.Rows != nil {
		if id := s.cfg.Rows.First(r); id != 0 {
			r.LogID = id
		}
	}
	s.queueRecord(r)
	return r.LogID
}
